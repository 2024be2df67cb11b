"""How Fonnte's answers are classified: its reason texts and HTTP codes, one error class each."""

from ..base import DeviceState
from ..errors import RecipientRejected, SenderRejected, TemporaryFailure, WhatsAppError


def _reasons(*texts: str) -> frozenset[str]:
    return frozenset(_normalize(text) for text in texts)


def _normalize(text: str) -> str:
    """Compare reasons case-insensitively, ignoring surrounding and repeated whitespace."""
    return " ".join(text.split()).casefold()


# Fonnte's "reason" texts, from https://docs.fonnte.com/api-send-message/ (responses).
# Rejected for this number only: retrying cannot help, other parents are unaffected.
RECIPIENT_REASONS = _reasons("target invalid", "input invalid")


# Rejected whatever the number: token, device or request shape is wrong, so every
# other send would fail the same way. Both spellings of the token error occur in the
# docs. The url/file/JSON reasons concern attachments and JSON bodies, which we never
# send: if they appear, our request or FONNTE_URL is wrong, not the parent's number.
SENDER_REASONS = _reasons(
    "token invalid",
    "invalid token",
    "devices must belong to an account",
    "url invalid",
    "url unreachable",
    "file format not supported",
    "file size must under 4MB",
    "JSON format invalid",
)


# Not sent now, may succeed later. Listed for the reader: any reason not matched above
# (including a disconnected device, whose exact text is undocumented) is temporary too.
TEMPORARY_REASONS = _reasons("insufficient quota")


# /device's "device_status" words (https://docs.fonnte.com/api-device-profile/); the
# connect webhook uses the same two. Anything else is reported as unknown.
DEVICE_STATES = {"connect": DeviceState.CONNECTED, "disconnect": DeviceState.DISCONNECTED}


# HTTP codes that mean "this token/account is refused", whatever the body says.
SENDER_HTTP_CODES = frozenset({401, 403})


# A gateway in front of Fonnte gave up waiting for Fonnte's answer (504; Cloudflare's 524,
# "a timeout occurred", after the request reached the origin): Fonnte may have taken the
# message, so the outcome is unknown, like our own read timeout. Every other 5xx and 429
# (e.g. 502, 503: the gateway could not hand the request on) is a TemporaryFailure.
GATEWAY_TIMEOUT_HTTP_CODES = frozenset({504, 524})


# A raw body kept for the admin is capped: a proxy's error page can be large.
MAX_RAW_RESPONSE = 10_000


def classify_reason(reason: str) -> type[WhatsAppError]:
    """The error class for a ``"status": false`` answer with this reason."""
    key = _normalize(reason)
    if key in RECIPIENT_REASONS:
        return RecipientRejected
    if key in SENDER_REASONS:
        return SenderRejected
    # insufficient quota, a disconnected device, or anything new: try again later.
    return TemporaryFailure
