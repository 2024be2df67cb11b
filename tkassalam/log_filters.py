"""A logging filter that keeps the project's secrets out of every log line.

The webhook secret travels in the webhook URL (broadcasts/urls.py), so any line that names
a request path can carry it: Django's request and security loggers, runserver's
``django.server``, gunicorn's error log (``Error handling request /webhooks/…``). The
Fonnte token could appear in a quoted request or exception. The token of a parent's
personal link (``/laporan/<token>/``, broadcasts.links) is masked in every line the same
way. The filter sits on the handlers (settings.LOGGING, and Celery's in
tkassalam/celery.py), not on loggers: a logger's filter does not see records propagated
from its children.
"""

import logging
from functools import cache
from urllib.parse import quote

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from broadcasts.links import mask_link_tokens

MASK = "********"
#: Shorter values are not masked: replacing every "a" in every line would help nobody,
#: and check --deploy already refuses a short webhook secret (broadcasts.W003).
MIN_SECRET_LENGTH = 8
SECRET_SETTINGS = ("FONNTE_WEBHOOK_SECRET", "FONNTE_API_TOKEN")


@cache
def _secrets() -> tuple[str, ...]:
    """The values to mask, longest first, each also as it appears percent-encoded in a URL.

    Read once, not at every log line; a changed setting (tests) reads them again.
    """
    found = set()
    for name in SECRET_SETTINGS:
        value = str(getattr(settings, name, "") or "").strip()
        if len(value) >= MIN_SECRET_LENGTH:
            found.update({value, quote(value, safe="")})
    return tuple(sorted(found, key=len, reverse=True))


@receiver(setting_changed)
def _forget_secrets(*, setting, **kwargs):
    if setting in SECRET_SETTINGS:
        _secrets.cache_clear()


def mask_secrets(text: str, secrets=None) -> str:
    """``text`` with every secret, and the token of every personal link, replaced by a mask."""
    for secret in _secrets() if secrets is None else secrets:
        text = text.replace(secret, MASK)
    return mask_link_tokens(text) if "/laporan/" in text else text


class MaskSecrets(logging.Filter):
    """Rewrite a record's message, arguments, exception and stack text without the secrets.

    The message is rendered here (``getMessage``) and kept without its arguments, so a
    secret split across the format string and an argument is masked too. The record is
    never dropped: a line that cannot be masked is still worth reading.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _secrets()
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: the handler reports it itself
            return True
        masked = mask_secrets(message, secrets)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            # The formatter would render the traceback after us, secret included: render it
            # now, masked; formatters use exc_text when it is set.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = mask_secrets(record.stack_info, secrets)
        return True
