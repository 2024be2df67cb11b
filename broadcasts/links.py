"""A parent's personal link to their child's report: ``SITE_URL/laporan/<token>/``.

The token is 256 random bits (``secrets``), not derived from any id, so a link can be
neither guessed nor walked; it is kept on the broadcast row (``link_token``), which also
says when it was made and whether it was revoked. Tokens never go to a log line
(tkassalam.log_filters masks the path).
"""

import re
from datetime import timedelta
from secrets import token_urlsafe

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

#: Random bytes in a token: 256 bits, 43 URL-safe characters.
TOKEN_BYTES = 32
#: The path of the parent's page, before the token.
LINK_PATH = "/laporan/"
#: What a token is shown as where staff or logs see a link.
TOKEN_MASK = "********"  # noqa: S105 (what is shown, not a secret)
_TOKEN_IN_PATH = re.compile(r"(/laporan/)[A-Za-z0-9_-]{16,}")


def new_link_token() -> str:
    """A fresh token for one row's link."""
    return token_urlsafe(TOKEN_BYTES)


def report_link_url(token: str) -> str:
    """The link a parent receives: ``SITE_URL/laporan/<token>/``."""
    return f"{settings.SITE_URL.rstrip('/')}{LINK_PATH}{token}/"


def link_expires_at(link_created_at):
    """When a link made at ``link_created_at`` stops working (settings.REPORT_LINK_DAYS)."""
    return link_created_at + timedelta(days=settings.REPORT_LINK_DAYS)


def link_is_live(*, link_token, link_created_at, link_revoked_at, now=None) -> bool:
    """Whether a row's link still opens the report: made, not revoked, not expired."""
    if not link_token or link_created_at is None or link_revoked_at is not None:
        return False
    return (now or timezone.now()) < link_expires_at(link_created_at)


def live_link_q(now=None, *, prefix: str = "") -> Q:
    """The rows whose link still opens the report (``link_is_live`` as a query filter).

    ``prefix`` names the rows from another model (``"broadcasts__"`` from a report).
    """
    now = now or timezone.now()
    return Q(
        **{
            f"{prefix}link_token__isnull": False,
            f"{prefix}link_revoked_at__isnull": True,
            f"{prefix}link_created_at__gt": now - timedelta(days=settings.REPORT_LINK_DAYS),
        }
    )


def mask_link_tokens(text: str) -> str:
    """``text`` with the token of every personal link in it masked: ``/laporan/********``.

    For log lines (tkassalam.log_filters) and for staff pages showing a message: a link
    opened from the admin would not be the parent opening it.
    """
    return _TOKEN_IN_PATH.sub(rf"\g<1>{TOKEN_MASK}", text)
