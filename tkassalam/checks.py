"""``manage.py check`` for project-wide settings that Django itself lets through."""

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


@register()
def check_secret_key(app_configs=None, **kwargs):
    """E001: SECRET_KEY is set (Django only warns under --deploy, then fails every request)."""
    try:
        key = settings.SECRET_KEY
    except ImproperlyConfigured:  # Django refuses to hand out an empty one
        key = ""
    if str(key).strip():
        return []
    return [
        Error(
            "SECRET_KEY is empty: every web page would fail.",
            hint='Set it in .env to python3 -c "import secrets; print(secrets.token_urlsafe(50))".',
            id="tkassalam.E001",
        )
    ]
