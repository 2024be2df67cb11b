"""Console backend: prints each message instead of sending it (for development without a token)."""

import sys
import threading
import uuid

from django.utils.translation import gettext as _

from students.phones import mask_phone

from .base import (
    BaseBackend,
    DeviceState,
    DeviceStatus,
    SendResult,
    ValidationResult,
    in_school_language,
)


class ConsoleBackend(BaseBackend):
    """Writes the message to a stream (stdout by default); nothing reaches WhatsApp."""

    name = "console"

    def __init__(self, *, stream=None):
        self._stream = stream
        self._lock = threading.Lock()

    @in_school_language
    def send(self, *, phone: str, message: str) -> SendResult:
        """Print the masked number and the text; return a made-up ``console-…`` message id."""
        message_id = f"console-{uuid.uuid4().hex}"
        # Looked up at send time so that a replaced sys.stdout (tests, runserver) is used.
        stream = self._stream if self._stream is not None else sys.stdout
        text = (
            f"----- WhatsApp (console backend, not sent) {message_id} -----\n"
            f"To: {mask_phone(phone)}\n"
            f"{message}\n"
            f"{'-' * 40}\n"
        )
        with self._lock:
            stream.write(text)
            stream.flush()
        return SendResult(
            message_id=message_id,
            request_id="",
            detail=_("Printed on the console (development mode); not sent to WhatsApp."),
            raw_response="",
        )

    def device_status(self, *, timeout: float | None = None) -> DeviceStatus:
        """No device behind the console: its state is unknown, there is no quota."""
        return DeviceStatus(state=DeviceState.UNKNOWN)

    def validate_numbers(self, numbers) -> ValidationResult:
        """Every number counts as on WhatsApp, so offline development skips nobody."""
        wanted = frozenset(str(number).strip() for number in numbers if number)
        stream = self._stream if self._stream is not None else sys.stdout
        with self._lock:
            stream.write(
                f"----- WhatsApp (console backend) {len(wanted)} numbers counted as on"
                " WhatsApp, not checked -----\n"
            )
            stream.flush()
        return ValidationResult(registered=wanted)
