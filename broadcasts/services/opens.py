"""A parent opened their child's report: when a fetch of the file counts, and recording it.

Opened means a person opened the file. The page never counts (WhatsApp and other link
previews fetch it as soon as the message arrives); a fetch of the file counts unless it is:
a HEAD request; a Range request for anything but the start of the file (a PDF viewer fetches
one file in many pieces: its first piece counts, the others do not); a known link-preview or
crawler client; a logged-in staff user (staff checking a link are not the parent).
"""

import logging
import re

from django.db.models import F
from django.utils import timezone

from ..models import MonthlyReportBroadcast

logger = logging.getLogger(__name__)

# Link previews and crawlers, by the names their User-Agent carries. "WhatsApp" is the
# preview fetcher (the app's in-app browser does not say WhatsApp), as is "TelegramBot".
# A generic "…bot" only before "/", ";", ")", "+", ".", "-" or at the end ("AhrefsBot/7.0",
# "GPTBot/1.0"): a phone's model is followed by a space or "Build" ("CUBOT X30", a brand
# sold in Indonesia), and its owner opening the file is a person.
_NOT_A_PERSON = re.compile(
    r"whatsapp|facebookexternalhit|facebot|twitterbot|telegrambot|slackbot|discordbot|"
    r"linkedinbot|skypeuripreview|googlebot|google-inspectiontool|bingbot|bingpreview|"
    r"applebot|yandex|baiduspider|duckduckbot|petalbot|pinterest|redditbot|embedly|"
    r"iframely|vkshare|viber|line-poker|kakaotalk-scrap|snapchat|mastodon|"
    r"bot(?:[/;)+.-]|$)|crawler|spider|preview|curl/|wget/|python-requests|python-urllib|"
    r"go-http-client",
    re.I,
)
# "bytes=0-" or "bytes=0-1023": a viewer starting at the beginning of the file.
_RANGE_FROM_START = re.compile(r"^\s*bytes\s*=\s*0\s*-")


def is_link_preview(user_agent: str) -> bool:
    """Whether a User-Agent is a link preview or crawler, not a person's browser (or empty)."""
    return not user_agent.strip() or bool(_NOT_A_PERSON.search(user_agent))


def file_fetch_counts(*, method: str, range_header: str, user_agent: str, is_staff: bool) -> bool:
    """Whether this fetch of the file is a person opening it (the module's docstring)."""
    if method != "GET" or is_staff or is_link_preview(user_agent):
        return False
    return not range_header or bool(_RANGE_FROM_START.match(range_header))


def broadcast_record_open(*, broadcast_id: int) -> None:
    """Count one opening of the row's file; the first one sets ``opened_at``, once."""
    now = timezone.now()
    MonthlyReportBroadcast.objects.filter(pk=broadcast_id).update(open_count=F("open_count") + 1)
    first = MonthlyReportBroadcast.objects.filter(pk=broadcast_id, opened_at__isnull=True).update(
        opened_at=now
    )
    if first:
        logger.info(
            "Report file first opened (broadcast %s)",
            broadcast_id,
            extra={"broadcast_id": broadcast_id},
        )
