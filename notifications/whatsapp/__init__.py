"""WhatsApp client: pick the configured backend with ``get_backend()`` and call ``send()``.

Before a broadcast, ``device_status()`` reads the device's connection and quota and
``validate_numbers()`` tells which numbers have WhatsApp.

Like Django's ``EMAIL_BACKEND``, ``settings.WHATSAPP_BACKEND`` names the backend:
``"fonnte"`` (real messages), ``"console"`` (printed), ``"locmem"`` (kept in memory for
tests) or a dotted path to a ``BaseBackend`` subclass.
"""

import functools

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .base import BaseBackend, DeviceState, DeviceStatus, SendResult, ValidationResult
from .errors import (
    RETRYABLE_ERRORS,
    OutcomeUnknown,
    RecipientRejected,
    SenderRejected,
    TemporaryFailure,
    WhatsAppError,
)

__all__ = [
    "BACKEND_ALIASES",
    "RETRYABLE_ERRORS",
    "BaseBackend",
    "DeviceState",
    "DeviceStatus",
    "OutcomeUnknown",
    "RecipientRejected",
    "SendResult",
    "SenderRejected",
    "TemporaryFailure",
    "ValidationResult",
    "WhatsAppError",
    "get_backend",
    "resolve_backend_class",
]

BACKEND_ALIASES = {
    "fonnte": "notifications.whatsapp.fonnte.FonnteBackend",
    "console": "notifications.whatsapp.console.ConsoleBackend",
    "locmem": "notifications.whatsapp.locmem.LocmemBackend",
}

# Changing any of these (override_settings, pytest-django's ``settings``) drops the cached backend.
BACKEND_SETTINGS = frozenset(
    {
        "WHATSAPP_BACKEND",
        "FONNTE_API_TOKEN",
        "FONNTE_URL",
        "FONNTE_CONNECT_TIMEOUT",
        "FONNTE_READ_TIMEOUT",
    }
)


def resolve_backend_class(value: str) -> type[BaseBackend]:
    """The class for an alias or dotted path, else ImproperlyConfigured naming WHATSAPP_BACKEND."""
    text = str(value or "").strip()
    path = BACKEND_ALIASES.get(text.lower(), text)
    if not path:
        raise ImproperlyConfigured(
            f"WHATSAPP_BACKEND is empty: use one of {', '.join(BACKEND_ALIASES)}"
            " or a dotted path to a BaseBackend subclass."
        )
    try:
        backend_class = import_string(path)
    except ImportError as err:
        raise ImproperlyConfigured(
            f"WHATSAPP_BACKEND={text!r} is neither one of {', '.join(BACKEND_ALIASES)}"
            f" nor an importable dotted path ({err})."
        ) from err
    if not (isinstance(backend_class, type) and issubclass(backend_class, BaseBackend)):
        raise ImproperlyConfigured(
            f"WHATSAPP_BACKEND={text!r} does not name a subclass of"
            " notifications.whatsapp.BaseBackend."
        )
    return backend_class


@functools.cache
def get_backend() -> BaseBackend:
    """The configured backend, built once per process so its HTTP session is reused."""
    backend_class = resolve_backend_class(settings.WHATSAPP_BACKEND)
    from .fonnte import FonnteBackend

    if issubclass(backend_class, FonnteBackend):
        return backend_class(
            token=settings.FONNTE_API_TOKEN,
            url=settings.FONNTE_URL,
            connect_timeout=settings.FONNTE_CONNECT_TIMEOUT,
            read_timeout=settings.FONNTE_READ_TIMEOUT,
        )
    return backend_class()


@receiver(setting_changed)
def _reset_backend(*, setting, **kwargs):
    if setting in BACKEND_SETTINGS:
        get_backend.cache_clear()
