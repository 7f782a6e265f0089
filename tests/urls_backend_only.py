"""A project that uses the backend but does not mount the trigger service."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
