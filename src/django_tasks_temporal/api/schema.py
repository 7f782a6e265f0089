"""OpenAPI descriptions drf-spectacular cannot infer: the bearer security scheme.

drf-spectacular finds an extension when its module is imported: authentication.py
imports this one, so the scheme is known wherever OIDCAuthentication is used.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class OIDCAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "django_tasks_temporal.api.authentication.OIDCAuthentication"
    name = "oidcBearer"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": (
                "A Google-signed OIDC ID token whose audience is one of "
                "TASKS_API_OIDC_AUDIENCES and whose verified e-mail is allowed for the "
                "endpoint, e.g. `gcloud auth print-identity-token "
                "--audiences=https://tasks.example.com`, or Cloud Scheduler's OIDC token."
            ),
        }
