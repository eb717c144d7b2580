"""The admin of a model that lives on a read-only alias (analytics.PageView), and of a writable one."""

from analytics.models import PageView
from blog.models import Post
from django.contrib import admin

admin.site.register(PageView)
admin.site.register(Post)
