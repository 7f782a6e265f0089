"""Who may call which endpoint: TASKS_API_ALLOWED_EMAILS and TASKS_API_ENDPOINT_EMAILS."""

from __future__ import annotations

import logging

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from django_tasks_temporal.api.authentication import OIDCIdentity
from django_tasks_temporal.api.conf import ENDPOINTS, conf

logger = logging.getLogger("django_tasks_temporal.api")


class EndpointAllowList(BasePermission):
    """Allow a verified identity listed for every endpoint or for the view's `endpoint`.

    Views declare `endpoint = "status"` (one of conf.ENDPOINTS). A caller without
    credentials gets DRF's 401 (NotAuthenticated); an identity not listed, 403.
    """

    message = "This identity is not allowed to call this endpoint."
    code = "forbidden"

    def has_permission(self, request: Request, view: APIView) -> bool:
        user: object = request.user  # typed as a Django user; ours is an OIDCIdentity
        if not isinstance(user, OIDCIdentity):
            return False
        endpoint = getattr(view, "endpoint", None)
        if endpoint not in ENDPOINTS:
            # A view bug, not the caller's: fail closed and say so in the log.
            logger.error("%s declares endpoint %r, not one of %s.", view, endpoint, ENDPOINTS)
            return False
        allowed = [
            *conf.TASKS_API_ALLOWED_EMAILS,
            *conf.TASKS_API_ENDPOINT_EMAILS.get(endpoint, []),
        ]
        if user.email.casefold() in {email.casefold() for email in allowed}:
            return True
        logger.info("%s is not allowed to call %r.", user.email, endpoint)
        return False
