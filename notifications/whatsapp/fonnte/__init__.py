"""Fonnte (https://fonnte.com) backend: one form POST per message, the body decides success.

Fonnte answers most errors with HTTP 200 and ``"status": false``, so the HTTP code
alone never means "sent". See https://docs.fonnte.com/api-send-message/.

backend: FonnteBackend (send, device status, number checks) and its one ``_post()``
funnel; reasons: which error class each Fonnte reason or HTTP code means; parsing:
reading Fonnte's loosely typed JSON bodies; transport: the HTTP session, the sibling
URLs and what a broken connection means.
"""

from .backend import FonnteBackend
from .reasons import (
    DEVICE_STATES,
    GATEWAY_TIMEOUT_HTTP_CODES,
    MAX_RAW_RESPONSE,
    RECIPIENT_REASONS,
    SENDER_HTTP_CODES,
    SENDER_REASONS,
    TEMPORARY_REASONS,
    classify_reason,
)

__all__ = [
    "DEVICE_STATES",
    "GATEWAY_TIMEOUT_HTTP_CODES",
    "MAX_RAW_RESPONSE",
    "RECIPIENT_REASONS",
    "SENDER_HTTP_CODES",
    "SENDER_REASONS",
    "TEMPORARY_REASONS",
    "FonnteBackend",
    "classify_reason",
]
