"""What every WhatsApp backend returns and must implement."""

import functools
from dataclasses import dataclass

from django.utils import translation

from tkassalam.language import school_language


def in_school_language(method):
    """Run a backend method in the school's language (``tkassalam.language.school_language``).

    The reasons and details a backend builds end up in broadcast rows, attempts and alerts
    that every admin reads, so they are written in the school's language even when the
    caller is an admin's request in English. A caller that turned translation off on
    purpose (``@no_translations``: the operator's English commands) keeps it off.
    """

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        if translation.get_language() is None:
            return method(*args, **kwargs)
        with school_language():
            return method(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class SendResult:
    """A message accepted by the provider (queued, not yet delivered)."""

    message_id: str  # Fonnte ``id[0]``; matches the status webhook's ``id``. "" if absent.
    request_id: str  # Fonnte ``requestid`` (its log id, not an idempotency key). "" if absent.
    detail: str  # The provider's own words, e.g. "success! message in queue".
    raw_response: str  # The body as received, for the admin to read.


class BaseBackend:
    """Sends one text message to one normalized phone number (``6281234567890``)."""

    name = "base"

    def send(self, *, phone: str, message: str) -> SendResult:
        """Send ``message`` to ``phone``; return a SendResult or raise a WhatsAppError."""
        raise NotImplementedError("WhatsApp backends must implement send().")

    def device_status(self, *, timeout: float | None = None) -> "DeviceStatus":
        """The sending device's connection and quota, or a WhatsAppError."""
        raise NotImplementedError("This WhatsApp backend cannot report its device.")

    def validate_numbers(self, numbers) -> "ValidationResult":
        """Which of these normalized numbers have WhatsApp, or a WhatsAppError.

        Callers make sure no two checks run at once (Fonnte asks for that): see
        ``students.services.student_check_whatsapp``.
        """
        raise NotImplementedError("This WhatsApp backend cannot check numbers.")


#: Fonnte's ``/send`` takes a message of at most this many characters
#: (https://docs.fonnte.com/api-send-message/, ``message``).
MAX_MESSAGE_LENGTH = 60_000

#: Fonnte's ``/validate`` takes at most this many numbers a call
#: (https://docs.fonnte.com/api-validate-number/); every backend splits longer lists.
VALIDATE_CHUNK = 500


class DeviceState:
    """The sending device's connection as ``/device`` reports it (``unknown``: not readable)."""

    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class DeviceStatus:
    """The sending device's health: connection, remaining quota, package."""

    state: str  # One of DeviceState's values.
    device: str = ""  # The device's own number, as the provider gives it.
    quota: int | None = None  # Messages left; None when not given or not a whole number.
    package: str = ""
    expires: str = ""  # As the provider writes it; its format is undocumented.
    raw_response: str = ""

    @property
    def connected(self) -> bool:
        return self.state == DeviceState.CONNECTED

    @property
    def disconnected(self) -> bool:
        return self.state == DeviceState.DISCONNECTED


@dataclass(frozen=True)
class ValidationResult:
    """Which numbers have WhatsApp; ``unknown`` holds those the provider named in neither list."""

    registered: frozenset[str] = frozenset()
    not_registered: frozenset[str] = frozenset()
    unknown: frozenset[str] = frozenset()
    raw_responses: tuple[str, ...] = ()
