"""Fonnte's webhooks: message status (delivery receipts) and device connect/disconnect.

Fonnte signs nothing, so the URL carries a long secret (FONNTE_WEBHOOK_SECRET), compared
in constant time. Without a configured secret, or with a wrong one, the endpoints answer
404 as if they did not exist, and do nothing (docs/fonnte-api.md, "Webhooks").

The URL holds the secret, so no response here may reach Django's request logger, which
writes the full path of every 4xx ("Not Found: /webhooks/fonnte/<secret>/…"): each one
is marked as already logged, and our own lines name the endpoint, never the path. Every
body is answered 200 or 400, never with an exception for Django to log: a body that cannot
be read (too large, too deep, broken multipart, not UTF-8) is refused here, quietly.
tkassalam.log_filters masks the secret in whatever line would still carry it.
"""

import hmac
import json
import logging
import re
from functools import wraps

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from .services import broadcast_record_status, fonnte_device_record

logger = logging.getLogger(__name__)

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")

#: What reading a hostile or broken body raises beyond "not JSON": JSON nested past Python's
#: recursion limit, a broken multipart body, a form that is not UTF-8 (ValueError), a body or
#: form over Django's limits (DATA_UPLOAD_MAX_MEMORY_SIZE, …: SuspiciousOperation).
UNREADABLE = (ValueError, RecursionError, MultiPartParserError, SuspiciousOperation)


def fonnte_webhook(endpoint):
    """Wrap a handler of Fonnte's fields: secret, POST only, body parsed, nothing logs the URL."""

    def decorator(handler):
        @csrf_exempt
        @wraps(handler)
        def view(request, secret):
            data, refused = _authenticated_payload(request, secret, endpoint)
            if refused:
                return refused
            try:
                handler(data)
            except Exception:
                # Django would log the failure with the path, secret included; Fonnte
                # retries a 500, and every handler is idempotent.
                logger.exception("Fonnte %s webhook failed", endpoint)
                return _quiet(HttpResponse(status=500))
            return JsonResponse({"status": True})

        return view

    return decorator


@fonnte_webhook("status")
def fonnte_status(data):
    """Message status: ``device``, ``id``, ``stateid``, ``status``, ``state``."""
    broadcast_record_status(
        message_id=_text(data.get("id")),
        state_id=_text(data.get("stateid")),
        state=_text(data.get("state")),
        status=_text(data.get("status")),
    )


@fonnte_webhook("connect")
def fonnte_connect(data):
    """Device connection: ``device``, ``status`` (connect/disconnect), ``timestamp``, ``reason``."""
    fonnte_device_record(
        device=_text(data.get("device")),
        status=_text(data.get("status")),
        reason=_text(data.get("reason")),
        timestamp=_text(data.get("timestamp")),
    )


def _authenticated_payload(request, secret, endpoint):
    """``(data, None)`` for an authenticated POST with a readable body, else ``(None, refusal)``."""
    expected = settings.FONNTE_WEBHOOK_SECRET
    if not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
        logger.warning(
            "Fonnte %s webhook refused: %s",
            endpoint,
            "FONNTE_WEBHOOK_SECRET is not set" if not expected else "wrong secret in the URL",
        )
        return None, _quiet(HttpResponse(status=404))
    if request.method != "POST":
        logger.warning("Fonnte %s webhook refused: method %s", endpoint, request.method)
        return None, _quiet(HttpResponseNotAllowed(["POST"]))
    try:
        size = len(request.body)
        data = _payload(request)
    except UNREADABLE as err:
        # Only the exception's type: its text may quote the body.
        logger.warning(
            "Fonnte %s webhook refused: unreadable body (%s, content type %r)",
            endpoint,
            type(err).__name__,
            request.content_type,
        )
        return None, _quiet(HttpResponse(status=400))
    if data is None:
        logger.warning(
            "Fonnte %s webhook refused: the body is neither a JSON object nor a form "
            "(content type %r, %d bytes)",
            endpoint,
            request.content_type,
            size,
        )
        return None, _quiet(HttpResponse(status=400))
    return data, None


def _payload(request) -> dict | None:
    """The posted fields: JSON (what Fonnte sends) or, for robustness, a form.

    Raises one of UNREADABLE for a body that cannot be read at all.
    """
    if request.content_type in FORM_TYPES:
        return request.POST.dict()
    try:
        data = json.loads(request.body)
    except ValueError:  # not JSON, or not UTF-8
        return None
    return data if isinstance(data, dict) else None


def _text(value) -> str:
    """A field as text: numbers as digits, a one-item list as its item, anything else empty.

    Without control characters: PostgreSQL refuses a NUL in a text column, and none belongs
    in an id, a state, a number or a reason.
    """
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    return _CONTROL_CHARACTERS.sub("", str(value)).strip()


def _quiet(response):
    # Django's request logger skips a response it believes logged; it would write the path.
    response._has_been_logged = True
    return response
