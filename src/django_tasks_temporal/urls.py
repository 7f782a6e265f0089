"""`path("tasks/", include("django_tasks_temporal.urls"))` mounts the HTTP trigger service."""

from django_tasks_temporal.api.urls import app_name, urlpatterns

__all__ = ["app_name", "urlpatterns"]
