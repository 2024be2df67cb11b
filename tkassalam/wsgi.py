"""WSGI entry point (gunicorn tkassalam.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tkassalam.settings")

application = get_wsgi_application()
