"""The admin, the trigger service under tasks/, and protected/<endpoint>/ (authentication alone)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_tasks_temporal.api.authentication import OIDCAuthentication
from django_tasks_temporal.api.conf import ENDPOINTS
from django_tasks_temporal.api.permissions import EndpointAllowList


class ProtectedView(APIView):
    authentication_classes = [OIDCAuthentication]
    permission_classes = [EndpointAllowList]
    endpoint = ""

    def get(self, request: Request) -> Response:
        return Response({"email": request.user.email, "endpoint": self.endpoint})


protected = [
    path(f"{name}/", ProtectedView.as_view(endpoint=name))
    for name in [*sorted(ENDPOINTS), "undeclared"]
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("tasks/", include("django_tasks_temporal.urls")),
    path("protected/", include(protected)),
]
