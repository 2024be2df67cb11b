"""One pace for the school's WhatsApp number, however many workers and machines send.

A number that sends 200 messages in a burst gets banned, so every message waits for a
turn ("slot"). The next free slot lives in the database (SendingPace, one row per
device), reserved under a row lock: two workers can never take the same slot, and the
pace holds across processes and machines. Celery's ``rate_limit`` (per process) and long
countdowns (redelivered by Redis after its visibility timeout) are not used.

A task whose turn comes within WAIT_LIMIT (15 s) waits for it, then sends. Otherwise
(quiet hours, the daily cap reached, more workers than the pace needs) it reserves
nothing and parks its row: still waiting, ``next_attempt_at`` set to when its turn could
come, no attempt used; the dispatcher hands it out again when that time has come. While
Fonnte reports the device disconnected nothing is reserved either, and the device's
connect webhook hands the parked rows out again (services.receipts).
"""

import logging
import random
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import TextChoices
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..models import SendingPace
from .receipts import fonnte_device_connected

logger = logging.getLogger(__name__)

#: The one device a deployment sends from (one Fonnte token is one device).
DEVICE = "default"

#: A task waits this long for its turn at most; a later turn parks the row instead.
WAIT_LIMIT = timedelta(seconds=15)

_QUIET_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class Waiting(TextChoices):
    """Why a row is waiting instead of being sent now (shown to admins)."""

    PACE = "pace", _("waiting for its turn (messages go out one by one)")
    QUIET_HOURS = "quiet_hours", _("quiet hours: sent when they end")
    DAILY_LIMIT = "daily_limit", _("the daily limit is reached: sent tomorrow")
    DISCONNECTED = "disconnected", _("the WhatsApp device is disconnected: sent once it is back")


@dataclass(frozen=True)
class Pace:
    """The pacing settings, read once (see tkassalam/settings/base.py)."""

    interval: float  # seconds between two messages; 0: no pace
    jitter: float  # up to this many more seconds, at random
    daily_limit: int  # 0: no cap
    quiet_start: time | None
    quiet_end: time | None
    zone: ZoneInfo

    @property
    def paced(self) -> bool:
        return bool(self.interval or self.daily_limit or self.quiet_start)

    def in_quiet_hours(self, when: datetime) -> bool:
        if self.quiet_start is None:
            return False
        local = when.astimezone(self.zone).time()
        if self.quiet_start <= self.quiet_end:
            return self.quiet_start <= local < self.quiet_end
        return local >= self.quiet_start or local < self.quiet_end

    def quiet_hours_end(self, when: datetime) -> datetime:
        """The first moment at or after ``when`` outside quiet hours."""
        if not self.in_quiet_hours(when):
            return when
        local = when.astimezone(self.zone)
        end = datetime.combine(local.date(), self.quiet_end, tzinfo=self.zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.quiet_end, self.zone)
        return end

    def next_day(self, when: datetime) -> datetime:
        """Midnight after ``when``, local time."""
        local = when.astimezone(self.zone)
        return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=self.zone)

    def gap(self) -> timedelta:
        return timedelta(seconds=self.interval + random.uniform(0, self.jitter))  # noqa: S311


@cache
def _pace(per_minute, jitter, daily_limit, quiet_hours, zone) -> Pace:
    if per_minute < 0 or jitter < 0 or daily_limit < 0:
        raise ImproperlyConfigured(
            "WHATSAPP_MESSAGES_PER_MINUTE, WHATSAPP_PACE_JITTER and WHATSAPP_DAILY_LIMIT "
            "cannot be negative."
        )
    start = end = None
    if quiet_hours.strip():
        match = _QUIET_HOURS.match(quiet_hours)
        try:
            start, end = (
                time(int(match[1]), int(match[2])),
                time(int(match[3]), int(match[4])),
            )
        except (TypeError, ValueError) as err:
            raise ImproperlyConfigured(
                f"WHATSAPP_QUIET_HOURS must look like 20:00-06:00, not {quiet_hours!r}."
            ) from err
        if start == end:
            raise ImproperlyConfigured("WHATSAPP_QUIET_HOURS must not start when it ends.")
    return Pace(
        interval=60.0 / per_minute if per_minute else 0.0,
        jitter=jitter if per_minute else 0.0,
        daily_limit=daily_limit,
        quiet_start=start,
        quiet_end=end,
        zone=ZoneInfo(zone),
    )


def current_pace() -> Pace:
    """The pace the settings ask for; raises ImproperlyConfigured for a malformed one."""
    return _pace(
        float(settings.WHATSAPP_MESSAGES_PER_MINUTE),
        float(settings.WHATSAPP_PACE_JITTER),
        int(settings.WHATSAPP_DAILY_LIMIT),
        settings.WHATSAPP_QUIET_HOURS,
        settings.TIME_ZONE,
    )


def wait_limit() -> timedelta:
    """WAIT_LIMIT, shortened so that the wait and the Fonnte call fit the task's soft time limit."""
    spare = (
        settings.CELERY_TASK_SOFT_TIME_LIMIT
        - settings.FONNTE_CONNECT_TIMEOUT
        - settings.FONNTE_READ_TIMEOUT
        - 5
    )
    return max(timedelta(seconds=1), min(WAIT_LIMIT, timedelta(seconds=spare)))


@dataclass(frozen=True)
class Turn:
    """A row's turn: ``reserved`` (send at ``at``), or not (park; ``at`` None: no time known)."""

    reserved: bool
    at: datetime | None
    waiting: str = ""


def pacing_reserve_turn(*, now: datetime | None = None) -> Turn:
    """Reserve the next sending slot if it comes within WAIT_LIMIT; else say when it could.

    One short transaction with the pace row locked, so the slot is the caller's alone.
    """
    now = now or timezone.now()
    if not fonnte_device_connected():
        return Turn(reserved=False, at=None, waiting=Waiting.DISCONNECTED)
    pace = current_pace()
    if not pace.paced:
        return Turn(reserved=True, at=now)
    with transaction.atomic():
        row = pacing_lock()
        at, waiting = _earliest_slot(pace, row, now)
        if at - now > wait_limit():
            return Turn(reserved=False, at=at, waiting=waiting or Waiting.PACE)
        day = at.astimezone(pace.zone).date()
        row.sent_on_day = row.sent_on_day + 1 if row.day == day else 1
        row.day = day
        row.next_slot_at = at + pace.gap()
        row.save(update_fields=["next_slot_at", "day", "sent_on_day"])
    return Turn(reserved=True, at=at)


def pacing_lock() -> SendingPace:
    """The device's pace row, locked until the caller's transaction ends (made if missing)."""
    try:
        return SendingPace.objects.select_for_update().get(device=DEVICE)
    except SendingPace.DoesNotExist:
        pass
    try:
        with transaction.atomic():  # a savepoint: another worker may create it first
            SendingPace.objects.create(device=DEVICE)
    except IntegrityError:
        pass
    return SendingPace.objects.select_for_update().get(device=DEVICE)


def _earliest_slot(pace: Pace, row: SendingPace, now: datetime) -> tuple[datetime, str]:
    """The first moment a message may go: after the last one's gap, outside quiet hours,
    on a day with room under the cap. Returns it with why it is later than the pace alone."""
    at = max(now, row.next_slot_at or now)
    waiting = ""
    for _attempt in range(3):  # quiet hours → next day → quiet hours settles it
        if pace.in_quiet_hours(at):
            at, waiting = pace.quiet_hours_end(at), waiting or Waiting.QUIET_HOURS
        day = at.astimezone(pace.zone).date()
        if pace.daily_limit and row.day == day and row.sent_on_day >= pace.daily_limit:
            at, waiting = pace.next_day(at), waiting or Waiting.DAILY_LIMIT
            continue
        break
    return at, waiting


@dataclass(frozen=True)
class PacingState:
    """What an admin sees about the pace right now (report pages, broadcast_monitor)."""

    open_now: bool
    waiting: str  # a Waiting value when closed
    resumes_at: datetime | None
    per_minute: float
    daily_limit: int
    sent_today: int


def pacing_state(*, now: datetime | None = None) -> PacingState:
    """Whether messages can go out now, and if not why and until when. Reads only."""
    now = now or timezone.now()
    pace = current_pace()
    sent_today = 0
    if pace.daily_limit:  # the count matters only under a cap
        row = SendingPace.objects.filter(device=DEVICE).first()
        if row is not None and row.day == now.astimezone(pace.zone).date():
            sent_today = row.sent_on_day
    common = {
        "per_minute": float(settings.WHATSAPP_MESSAGES_PER_MINUTE),
        "daily_limit": pace.daily_limit,
        "sent_today": sent_today,
    }
    if not fonnte_device_connected():
        return PacingState(False, Waiting.DISCONNECTED, None, **common)
    if pace.in_quiet_hours(now):
        return PacingState(False, Waiting.QUIET_HOURS, pace.quiet_hours_end(now), **common)
    if pace.daily_limit and sent_today >= pace.daily_limit:
        return PacingState(False, Waiting.DAILY_LIMIT, pace.next_day(now), **common)
    return PacingState(True, "", None, **common)
