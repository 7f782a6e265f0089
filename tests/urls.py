"""URLs for the test suite: the admin and the HTTP trigger service."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("tasks/", include("django_tasks_temporal.urls")),
]
