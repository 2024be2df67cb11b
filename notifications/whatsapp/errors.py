"""The WhatsApp client's own errors: one class per thing the caller must do next.

Configuration errors (``ImproperlyConfigured``) deliberately sit outside this tree, so
that nothing that catches ``WhatsAppError`` can swallow a missing token or URL.
"""


class WhatsAppError(Exception):
    """A message was not (known to be) accepted; ``reason`` is short text for an admin."""

    def __init__(
        self,
        reason: str,
        *,
        raw_response: str | None = None,
        status_code: int | None = None,
    ):
        super().__init__(reason)
        self.reason = reason
        self.raw_response = raw_response
        self.status_code = status_code

    def __str__(self):
        return self.reason

    def __repr__(self):
        return f"{type(self).__name__}(reason={self.reason!r}, status_code={self.status_code!r})"


class RecipientRejected(WhatsAppError):
    """Rejected for this recipient only (e.g. ``target invalid``): fail the row, do not retry."""


class SenderRejected(WhatsAppError):
    """Rejected for every recipient (bad token, device, URL): a configuration problem."""


class TemporaryFailure(WhatsAppError):
    """Not sent (or refused before queueing): safe to try again later."""


class OutcomeUnknown(WhatsAppError):
    """Sent, but no answer came back: Fonnte may have queued it, so do not resend blindly.

    A read timeout, a connection dropped after the request, or a gateway before Fonnte
    that timed out waiting for it (HTTP 504, 524; fonnte.GATEWAY_TIMEOUT_HTTP_CODES).
    """


# The only errors a task may retry on its own; declared once, used by every caller.
RETRYABLE_ERRORS: tuple[type[WhatsAppError], ...] = (TemporaryFailure,)
