"""``manage.py check`` for the WhatsApp settings: fail loudly, naming the setting to fix."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

from notifications.checks import is_local_host

from . import resolve_backend_class
from .console import ConsoleBackend
from .fonnte import FonnteBackend
from .locmem import LocmemBackend


@register()
def check_whatsapp_backend(app_configs=None, **kwargs):
    """E002: the backend resolves; for Fonnte, E001 token, E004 URL and timeouts, W002 not https."""
    try:
        backend_class = resolve_backend_class(settings.WHATSAPP_BACKEND)
    except ImproperlyConfigured as err:
        return [
            Error(
                str(err),
                hint='Set WHATSAPP_BACKEND to "fonnte", "console" or "locmem".',
                id="whatsapp.E002",
            )
        ]
    if not issubclass(backend_class, FonnteBackend):
        return []

    errors = []
    if not str(getattr(settings, "FONNTE_API_TOKEN", "") or "").strip():
        errors.append(
            Error(
                "FONNTE_API_TOKEN is empty, so no WhatsApp message can be sent.",
                hint=(
                    "Copy your device's token from the Fonnte dashboard into FONNTE_API_TOKEN"
                    " (in .env), or set WHATSAPP_BACKEND=console to print messages"
                    " instead of sending them."
                ),
                id="whatsapp.E001",
            )
        )
    url = str(getattr(settings, "FONNTE_URL", "") or "").strip()
    if not url.startswith(("http://", "https://")):
        errors.append(
            Error(
                f"FONNTE_URL={url!r} is not an http(s) address.",
                hint="Leave FONNTE_URL unset to use https://api.fonnte.com/send.",
                id="whatsapp.E004",
            )
        )
    elif url.startswith("http://") and not _is_loopback_url(url):
        errors.append(
            Warning(
                f"FONNTE_URL={url!r} is not https: the Fonnte token and the parents' numbers "
                "would cross the network unencrypted.",
                hint="Leave FONNTE_URL unset to use https://api.fonnte.com/send.",
                id="whatsapp.W002",
            )
        )
    for name in ("FONNTE_CONNECT_TIMEOUT", "FONNTE_READ_TIMEOUT"):
        value = getattr(settings, name, None)
        if not _is_number(value) or value <= 0:
            errors.append(
                Error(
                    f"{name}={value!r} must be a number of seconds greater than 0.",
                    hint="Without a timeout a stuck connection to Fonnte blocks a worker forever.",
                    id="whatsapp.E004",
                )
            )
    return errors


@register()
def check_whatsapp_retries(app_configs=None, **kwargs):
    """E003: WHATSAPP_MAX_ATTEMPTS is at least 1 and WHATSAPP_RETRY_DELAY is not negative."""
    errors = []
    attempts = getattr(settings, "WHATSAPP_MAX_ATTEMPTS", None)
    if not _is_int(attempts) or attempts < 1:
        errors.append(
            Error(
                f"WHATSAPP_MAX_ATTEMPTS={attempts!r} must be a whole number of at least 1.",
                hint="1 means one try and no retry; the default is 3.",
                id="whatsapp.E003",
            )
        )
    delay = getattr(settings, "WHATSAPP_RETRY_DELAY", None)
    if not _is_number(delay) or delay < 0:
        errors.append(
            Error(
                f"WHATSAPP_RETRY_DELAY={delay!r} must be a number of seconds, 0 or more.",
                hint="The default is 60 seconds between tries.",
                id="whatsapp.E003",
            )
        )
    return errors


@register(deploy=True)
def check_whatsapp_backend_deploy(app_configs=None, **kwargs):
    """W001 (``check --deploy``): a console or locmem backend sends nothing to parents."""
    try:
        backend_class = resolve_backend_class(settings.WHATSAPP_BACKEND)
    except ImproperlyConfigured:
        return []  # Reported as whatsapp.E002.
    if issubclass(backend_class, ConsoleBackend | LocmemBackend):
        return [
            Warning(
                f"WHATSAPP_BACKEND={settings.WHATSAPP_BACKEND!r}: no message will reach parents.",
                hint="Set FONNTE_API_TOKEN and WHATSAPP_BACKEND=fonnte in production.",
                id="whatsapp.W001",
            )
        ]
    return []


def _is_loopback_url(url) -> bool:
    """An address on this machine (a local proxy, the test suite's fake): no network crossed."""
    try:
        return is_local_host(urlsplit(url).hostname)
    except ValueError:
        return False


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
