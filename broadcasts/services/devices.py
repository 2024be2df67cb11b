"""Checking the school's WhatsApp device with Fonnte: learn its number, end a pause.

The connect webhook pauses sending when the school's device disconnects (services.receipts);
an admin ends the pause here, and only when Fonnte's /device says the device is connected:
resuming into a disconnected device would spend every parent's attempts for nothing.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from notifications.whatsapp import DeviceState, DeviceStatus, WhatsAppError, get_backend
from students.phones import mask_phone

from ..models import FonnteDevice
from .receipts import _tell_admins, device_number

logger = logging.getLogger(__name__)

#: Seconds an admin's click waits for Fonnte's /device.
DEVICE_CHECK_TIMEOUT = 10.0

_STATUS_OF_STATE = {
    DeviceState.CONNECTED: FonnteDevice.Status.CONNECTED,
    DeviceState.DISCONNECTED: FonnteDevice.Status.DISCONNECTED,
}


class CheckOutcome:
    RESUMED = "resumed"  # was paused, Fonnte says connected: sending resumes
    CONNECTED = "connected"  # not paused, connected
    DISCONNECTED = "disconnected"  # Fonnte says disconnected: paused (still, or now)
    STATE_UNKNOWN = "state-unknown"  # Fonnte named the device but not its state
    NO_NUMBER = "no-number"  # Fonnte named no device: nothing learned
    MISMATCH = "mismatch"  # the token's device is not FONNTE_DEVICE_NUMBER
    UNREADABLE = "unreadable"  # /device failed, or the backend has no device


@dataclass(frozen=True)
class DeviceCheck:
    outcome: str
    device: FonnteDevice | None = None
    #: The number Fonnte named (for MISMATCH), and why nothing could be read (UNREADABLE).
    reported: str = ""
    error: str = ""


def fonnte_device_check() -> DeviceCheck:
    """Ask Fonnte's /device which number our token sends from and whether it is connected.

    The number becomes the school's device (its ``checked_at``), unless FONNTE_DEVICE_NUMBER
    pins another one: then nothing changes. Its state is recorded like a webhook event
    would be, through a guarded update: a connected device ends the pause (the waiting rows
    are handed out again and the admins told), a disconnected one starts or keeps it.
    """
    try:
        status = get_backend().device_status(timeout=DEVICE_CHECK_TIMEOUT)
    except WhatsAppError as err:
        return DeviceCheck(CheckOutcome.UNREADABLE, error=err.reason)
    except (NotImplementedError, ImproperlyConfigured) as err:
        logger.warning("WhatsApp device not checked: %s", err)
        return DeviceCheck(CheckOutcome.UNREADABLE)
    number = device_number(status.device)
    pinned = settings.FONNTE_DEVICE_NUMBER
    if pinned and number and number != pinned:
        logger.warning(
            "Fonnte's /device names %s, but FONNTE_DEVICE_NUMBER is %s: nothing changed",
            mask_phone(number),
            mask_phone(pinned),
        )
        return DeviceCheck(CheckOutcome.MISMATCH, reported=number)
    number = number or pinned
    if not number:
        return DeviceCheck(CheckOutcome.NO_NUMBER)
    return _record_check(number, status)


def fonnte_device_learn(*, status: DeviceStatus | None) -> FonnteDevice | None:
    """Learn the school's number from a /device answer read elsewhere (the send confirmation).

    Only the number (its ``checked_at``; a number never seen is recorded with the state
    Fonnte gave): a page that merely shows the device never ends a pause, only an admin's
    check or Fonnte's connect webhook does. None when Fonnte named no number, or another
    number than FONNTE_DEVICE_NUMBER.
    """
    number = device_number(status.device) if status is not None else ""
    pinned = settings.FONNTE_DEVICE_NUMBER
    if not number or (pinned and number != pinned):
        return None
    with transaction.atomic():
        row, _created = _learn(number, status, timezone.now())
    return row


def _learn(number: str, status: DeviceStatus, now) -> tuple[FonnteDevice, bool]:
    """The number's row with ``checked_at`` now, made if missing; whether it was made."""
    # A number never heard of without a state reads as any device nothing was heard of
    # (fonnte_device_connected): not disconnected.
    state = _STATUS_OF_STATE.get(status.state, FonnteDevice.Status.CONNECTED)
    row, created = FonnteDevice.objects.get_or_create(
        device=number, defaults={"status": state, "changed_at": now, "checked_at": now}
    )
    if not created:
        FonnteDevice.objects.filter(pk=row.pk).update(checked_at=now)
    elif row.status == FonnteDevice.Status.DISCONNECTED:
        _tell_admins(row)
    return row, created


def _record_check(number: str, status: DeviceStatus) -> DeviceCheck:
    now = timezone.now()
    new_status = _STATUS_OF_STATE.get(status.state)
    with transaction.atomic():
        row, created = _learn(number, status, now)
        moved = (
            not created
            and new_status is not None
            and bool(
                FonnteDevice.objects.filter(pk=row.pk)
                .exclude(status=new_status)
                .update(status=new_status, reason="", changed_at=now)
            )
        )
        row.refresh_from_db()
        if moved:
            _tell_admins(row)
            if row.status == FonnteDevice.Status.CONNECTED:
                from .. import queue  # here: queue imports tasks, which import services

                queue.dispatch_after_commit()
    logger.info(
        "Fonnte device %s checked: %s%s",
        mask_phone(number),
        status.state,
        " (changed)" if moved else "",
    )
    if status.state == DeviceState.UNKNOWN:
        outcome = CheckOutcome.STATE_UNKNOWN
    elif row.status == FonnteDevice.Status.DISCONNECTED:
        outcome = CheckOutcome.DISCONNECTED
    else:
        outcome = CheckOutcome.RESUMED if moved else CheckOutcome.CONNECTED
    return DeviceCheck(outcome, device=row)
