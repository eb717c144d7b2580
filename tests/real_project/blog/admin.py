from django.contrib import admin

from .models import AuthorProxy, Comment, Post


class CommentInline(admin.TabularInline):
    model = Comment
    extra = 0


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ('title', 'author', 'created')
    list_filter = ('created',)
    search_fields = ('title',)
    inlines = [CommentInline]


@admin.register(AuthorProxy)
class AuthorAdmin(admin.ModelAdmin):
    list_display = ('username', 'email', 'post_count')
    fields = ('username', 'email', 'first_name', 'last_name')
