"""What every WhatsApp backend returns and must implement."""

from dataclasses import dataclass


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
