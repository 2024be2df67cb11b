"""In-memory backend for tests: messages land in ``outbox``, like ``django.core.mail.outbox``."""

import itertools
import threading
from dataclasses import dataclass

from .base import BaseBackend, SendResult


@dataclass(frozen=True)
class SentMessage:
    """One message the locmem backend pretended to send."""

    phone: str
    message: str
    message_id: str


# Every message "sent" in this process, oldest first. Tests clear it themselves.
outbox: list[SentMessage] = []

# Ids keep counting after a test clears ``outbox``, so they stay unique in a process.
_counter = itertools.count(1)
_lock = threading.Lock()


class LocmemBackend(BaseBackend):
    """Appends each message to ``outbox`` and reports it as accepted."""

    name = "locmem"

    def send(self, *, phone: str, message: str) -> SendResult:
        """Record the message; return a SendResult with a ``locmem-<n>`` id."""
        with _lock:
            message_id = f"locmem-{next(_counter)}"
            outbox.append(SentMessage(phone=phone, message=message, message_id=message_id))
        return SendResult(
            message_id=message_id,
            request_id="",
            detail="Stored in notifications.whatsapp.locmem.outbox; not sent.",
            raw_response="",
        )
