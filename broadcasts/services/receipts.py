"""What Fonnte's webhooks tell us: delivery receipts for rows, and the device's connection.

Fonnte posts each event until it gets HTTP 200 (15 tries, a minute apart), in any order,
so every write here is a guarded update: a duplicate or a late event matches no row.
See docs/fonnte-api.md, "Webhooks (Fonnte → us)".
"""

import logging
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from notifications.models import Notification
from notifications.services import notification_send_to_admins
from students.phones import is_valid_phone, mask_phone, normalize_phone
from tkassalam.language import school_language

from ..models import FonnteDevice, MonthlyReportBroadcast

logger = logging.getLogger(__name__)

#: Rank of each delivery state we understand; a row's state only ever moves up.
#: ``failed`` ranks above ``sent`` (it is news about a queued message) and below
#: ``delivered`` (a message that arrived did not fail, whatever a late event says).
STATE_RANKS = {"sent": 1, "failed": 2, "delivered": 3, "read": 4}
DELIVERED_RANK = STATE_RANKS["delivered"]

_STATE_LENGTH = MonthlyReportBroadcast._meta.get_field("delivery_state").max_length
_ID_LENGTH = MonthlyReportBroadcast._meta.get_field("fonnte_state_id").max_length


def broadcast_record_status(*, message_id: str, state_id: str, state: str, status: str) -> int:
    """Record one message-status event on its row; return how many rows' state moved.

    Matching: by ``message_id`` (Fonnte's ``id``, our ``fonnte_message_id``) when it is
    given, also storing ``state_id`` on the row if it has none yet, so later events that
    carry only ``stateid`` (read receipts) find it; by ``state_id`` alone otherwise.

    The state is Fonnte's ``state``, or its ``status`` when ``state`` is empty (the
    id-only shape), lower-cased and kept as sent. It never moves backwards:

    - known states rank ``sent`` < ``failed`` < ``delivered`` < ``read``; one replaces
      the row's state only if that is lower, empty or unknown (a late ``delivered``
      after ``read``, or ``failed`` after ``delivered``, changes nothing);
    - an unknown value (the full set is undocumented) is stored only on a row with no
      state yet: it never replaces a known state nor another unknown one;
    - ``delivered`` sets ``delivered_at``, ``read`` sets ``read_at`` and, as a read
      message was delivered, ``delivered_at`` if empty; neither is ever overwritten.

    The row's sending ``status`` is not changed: a receipt is news about a message that
    Fonnte already accepted, not a reason to resend it.
    """
    message_id = (message_id or "").strip()[:_ID_LENGTH]
    state_id = (state_id or "").strip()[:_ID_LENGTH]
    value = ((state or "").strip() or (status or "").strip()).lower()[:_STATE_LENGTH]
    context = {"message_id": message_id, "state_id": state_id, "state": value}

    if message_id:
        rows = MonthlyReportBroadcast.objects.filter(fonnte_message_id=message_id)
    elif state_id:
        rows = MonthlyReportBroadcast.objects.filter(fonnte_state_id=state_id)
    else:
        logger.info("Fonnte status event without id or stateid ignored", extra=context)
        return 0
    ids = list(rows.values_list("pk", flat=True))
    if not ids:
        # Not one of ours (another app on the same device), or a row pruned since.
        logger.info(
            "Fonnte status for no known message: id=%(message_id)s stateid=%(state_id)s "
            "state=%(state)s",
            context,
            extra=context,
        )
        return 0

    now = timezone.now()
    with transaction.atomic():
        if message_id and state_id:
            MonthlyReportBroadcast.objects.filter(pk__in=ids, fonnte_state_id="").update(
                fonnte_state_id=state_id, updated_at=now
            )
        moved = _move_state(ids, value, now) if value else 0

    for pk in ids:
        logger.info(
            "WhatsApp receipt [broadcast=%(broadcast_id)s] state=%(state)s%(ignored)s",
            {**context, "broadcast_id": pk, "ignored": "" if moved else " (not newer, kept)"},
            extra={**context, "broadcast_id": pk, "moved": bool(moved)},
        )
    return moved


def _move_state(ids, value, now) -> int:
    """One guarded update: the rows whose current state ranks below ``value`` take it."""
    rank = STATE_RANKS.get(value)
    rows = MonthlyReportBroadcast.objects.filter(pk__in=ids)
    if rank is None:
        return rows.filter(delivery_state="").update(delivery_state=value, updated_at=now)
    lower = [known for known, known_rank in STATE_RANKS.items() if known_rank < rank]
    changes = {"delivery_state": value, "updated_at": now}
    if rank >= DELIVERED_RANK:
        changes["delivered_at"] = Coalesce("delivered_at", now)
    if value == "read":
        changes["read_at"] = Coalesce("read_at", now)
    # Empty and unknown states are not in STATE_RANKS: any known state replaces them.
    return rows.filter(Q(delivery_state__in=lower) | ~Q(delivery_state__in=STATE_RANKS)).update(
        **changes
    )


DISCONNECT_KEY = "fonnte-device-disconnect"
#: An event time before this year is not a real one (see _event_time).
MIN_EVENT_YEAR = 2000
CONNECT_KEY = "fonnte-device-connect"


def fonnte_device_record(
    *, device: str, status: str, reason: str, timestamp
) -> FonnteDevice | None:
    """Record a connect/disconnect event of the school's device; tell the admins when it
    changed state.

    Only the school's own device counts (FonnteDevice.objects.school: pinned by
    FONNTE_DEVICE_NUMBER, or the number Fonnte's /device last named): an event for another
    device (a second device on the account, an old number, a forged request) is logged and
    changes nothing, and returns None. While the school's number is not known yet, every
    event is recorded and a disconnect pauses sending: of the two mistakes, a pause that was
    not needed loses nothing (the rows wait, every admin is told, and one click on the
    device page checks the device with Fonnte and resumes), whereas sending through a device
    that cannot deliver would spend every parent's attempts on messages that never arrive.

    Admins hear once per disconnect (an error) and once when the device comes back
    (information): Fonnte's retries, and disconnects while already disconnected, move
    nothing and say nothing. An event older than the state we hold (``timestamp``,
    unix seconds) is ignored, so a late retry cannot undo a newer event. A device first
    seen connected is recorded silently. An unknown ``status`` changes nothing and
    returns None, as does an event without ``device``.
    """
    device = device_number(device)
    status = (status or "").strip().lower()
    reason = (reason or "").strip()[: FonnteDevice._meta.get_field("reason").max_length]
    context = {"device": mask_phone(device), "status": status}
    if not device or status not in FonnteDevice.Status.values:
        logger.warning(
            "Fonnte device event ignored: device=%(device)s status=%(status)r",
            context,
            extra=context,
        )
        return None
    school = FonnteDevice.objects.school_number()
    if school and device != school:
        logger.warning(
            "Fonnte device event for another device ignored: device=%(device)s "
            "status=%(status)s (the school's device is %(school)s)",
            {**context, "school": mask_phone(school)},
            extra=context,
        )
        return None
    changed_at = _event_time(timestamp)

    with transaction.atomic():
        row, created = FonnteDevice.objects.get_or_create(
            device=device,
            defaults={"status": status, "reason": reason, "changed_at": changed_at},
        )
        moved = created or bool(
            FonnteDevice.objects.filter(pk=row.pk, changed_at__lte=changed_at)
            .exclude(status=status)
            .update(status=status, reason=reason, changed_at=changed_at)
        )
        if moved:
            row.refresh_from_db()
            connected = status == FonnteDevice.Status.CONNECTED
            if not (connected and created):  # a device first seen connected is no news
                _tell_admins(row)
            if connected:
                # Sending resumes: the rows pacing held back while it was away go out.
                from .. import queue  # here: queue imports tasks, which import services

                queue.dispatch_after_commit()

    log = "Fonnte device %(device)s: %(status)s" + ("" if moved else " (no change)")
    alarming = moved and status == FonnteDevice.Status.DISCONNECTED
    level = logging.WARNING if alarming else logging.INFO
    logger.log(level, log, context, extra={**context, "moved": moved})
    return row


def _event_time(timestamp) -> datetime:
    """Fonnte's ``timestamp`` (unix seconds or ms, or ISO 8601), never later than now.

    An unreadable one is the time of arrival: the event is still recorded (a disconnect
    lost to a typo would leave sending on while the device is away).
    """
    now = timezone.now()
    text = str(timestamp if timestamp is not None else "").strip()
    when = None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parse_datetime(text) if text else None
        except ValueError:  # well formed but impossible, e.g. 2024-13-45 10:00:00
            when = None
    else:
        if seconds > 1e11:  # milliseconds
            seconds /= 1000
        try:
            when = datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            when = None
    try:
        if when is not None:
            when = (timezone.make_aware(when) if timezone.is_naive(when) else when).astimezone(UTC)
    except (OverflowError, ValueError):  # e.g. 0001-01-01T00:00+05:00: before year 1 in UTC
        when = None
    # A time before Fonnte existed is garbled, not one to order events by: the arrival is.
    if when is not None and when.year < MIN_EVENT_YEAR:
        when = None
    # A clock running ahead must not freeze the state against every later event.
    return now if when is None or when > now else when


def _tell_admins(device: FonnteDevice) -> None:
    """One notification per admin that the device disconnected (an error) or is back."""
    # The admins read the school's language, whatever Fonnte's request asked for.
    with school_language():
        masked = {"device": mask_phone(device.device)}
        if device.status == FonnteDevice.Status.DISCONNECTED:
            title = _("WhatsApp device disconnected: %(device)s") % masked
            body = _(
                "Fonnte reports that the school's WhatsApp number is disconnected "
                "(%(reason)s). Messages to parents cannot be delivered until it is connected "
                "again: open the Fonnte dashboard and scan the QR code with the school's phone."
            ) % {"reason": device.reason or _("no reason given")}
            level, key = Notification.Level.ERROR, DISCONNECT_KEY
        else:
            title = _("WhatsApp device connected again: %(device)s") % masked
            body = _(
                "Fonnte reports that the school's WhatsApp number is connected again. "
                "Messages to parents can be delivered."
            )
            level, key = Notification.Level.INFO, CONNECT_KEY
        notification_send_to_admins(
            title=title,
            body=body,
            link=reverse("admin:broadcasts_fonntedevice_changelist"),
            level=level,
            key=key,
        )


def fonnte_device_connected(device: str | None = None) -> bool:
    """Whether Fonnte's last word is that the device (the school's, when None) is connected.

    A read, for the sending side. True when nothing was heard: webhooks may not be set up,
    and only an explicit disconnect should hold messages back.
    """
    if device is None:
        return not FonnteDevice.objects.holding_messages().exists()
    devices = FonnteDevice.objects.filter(device=device_number(device))
    return not devices.filter(status=FonnteDevice.Status.DISCONNECTED).exists()


def device_number(text) -> str:
    """A device's number as stored: 62… when it reads as a mobile number, else as given."""
    text = str(text or "").strip()
    if is_valid_phone(text):
        text = normalize_phone(text)
    return text[: FonnteDevice._meta.get_field("device").max_length]
