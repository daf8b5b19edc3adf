"""WSGI entry point (gunicorn techticket.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "techticket.settings")

application = get_wsgi_application()
