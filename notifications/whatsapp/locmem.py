"""In-memory backend for tests: messages land in ``outbox``, like ``django.core.mail.outbox``."""

import itertools
import threading
from dataclasses import dataclass

from django.utils.translation import gettext as _

from .base import (
    VALIDATE_CHUNK,
    BaseBackend,
    DeviceState,
    DeviceStatus,
    SendResult,
    ValidationResult,
    in_school_language,
)


@dataclass(frozen=True)
class SentMessage:
    """One message the locmem backend pretended to send."""

    phone: str
    message: str
    message_id: str


# Every message "sent" in this process, oldest first. Tests clear it themselves.
outbox: list[SentMessage] = []

# Numbers the locmem backend reports as not on WhatsApp; every other one is. Tests set it.
not_on_whatsapp: set[str] = set()
# Each /validate call the locmem backend answered: the numbers of one call, in order.
validate_calls: list[tuple[str, ...]] = []

# Ids keep counting after a test clears ``outbox``, so they stay unique in a process.
_counter = itertools.count(1)
_lock = threading.Lock()


class LocmemBackend(BaseBackend):
    """Appends each message to ``outbox`` and reports it as accepted."""

    name = "locmem"

    @in_school_language
    def send(self, *, phone: str, message: str) -> SendResult:
        """Record the message; return a SendResult with a ``locmem-<n>`` id."""
        with _lock:
            message_id = f"locmem-{next(_counter)}"
            outbox.append(SentMessage(phone=phone, message=message, message_id=message_id))
        return SendResult(
            message_id=message_id,
            request_id="",
            detail=_("Kept in memory (test mode); not sent to WhatsApp."),
            raw_response="",
        )

    def device_status(self, *, timeout: float | None = None) -> DeviceStatus:
        """No device behind the outbox: its state is unknown, there is no quota."""
        return DeviceStatus(state=DeviceState.UNKNOWN)

    def validate_numbers(self, numbers) -> ValidationResult:
        """Numbers in ``not_on_whatsapp`` are not on WhatsApp, the rest are; calls are recorded."""
        wanted = list(dict.fromkeys(str(number).strip() for number in numbers if number))
        with _lock:
            for start in range(0, len(wanted), VALIDATE_CHUNK):
                validate_calls.append(tuple(wanted[start : start + VALIDATE_CHUNK]))
            missing = frozenset(number for number in wanted if number in not_on_whatsapp)
        return ValidationResult(registered=frozenset(wanted) - missing, not_registered=missing)
