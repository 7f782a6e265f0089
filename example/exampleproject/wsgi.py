"""WSGI entry point of the example shop (gunicorn in the container image)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exampleproject.settings")

application = get_wsgi_application()

try:
    from whitenoise import WhiteNoise
except ImportError:  # whitenoise comes with the `deploy` dependency group (the image)
    pass
else:
    # gunicorn serves no static files: whitenoise serves what `collectstatic` gathered.
    from django.conf import settings

    application = WhiteNoise(application, root=settings.STATIC_ROOT, prefix=settings.STATIC_URL)
