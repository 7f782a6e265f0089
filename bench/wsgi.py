"""The HTTP benchmark's WSGI application (served by gunicorn with bench.http_settings)."""

from __future__ import annotations

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
