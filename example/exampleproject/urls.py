"""URLs of the example shop: the admin and the HTTP trigger endpoints under /tasks/."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("tasks/", include("django_tasks_temporal.urls")),
]
