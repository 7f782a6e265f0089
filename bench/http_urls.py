"""The trigger service, and the ceiling it is measured against: a DRF view of fixed JSON."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class FixedView(APIView):
    authentication_classes: list[type] = []
    permission_classes: list[type] = []
    renderer_classes = [JSONRenderer]

    def get(self, request: Request) -> Response:
        return Response({"id": "fixed", "status": "SUCCESSFUL", "return_value": 42})


urlpatterns = [
    path("tasks/", include("django_tasks_temporal.urls")),
    path("fixed/", FixedView.as_view()),
]
