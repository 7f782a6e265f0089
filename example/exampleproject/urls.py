"""URLs of the example shop.

The HTTP trigger endpoints (`path("tasks/", include("django_tasks_temporal.urls"))`)
arrive with the next release.
"""

from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
]
