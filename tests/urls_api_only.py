"""The slim API-only project's URLconf: the trigger service alone."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [path("tasks/", include("django_tasks_temporal.urls"))]
