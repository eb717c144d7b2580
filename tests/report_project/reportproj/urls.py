from django.urls import path

from reportproj import views

urlpatterns = [
    path("query/", views.query),
    path("connect/<str:alias>/", views.connect),
    path("echo/", views.echo),
]
