"""The trigger endpoints: run/, run-one/, execute/<id>/, status/<id>/, purge/."""

from __future__ import annotations

from django.urls import URLPattern

app_name = "django_tasks_temporal"

urlpatterns: list[URLPattern] = []
