"""Sending one row: claim it, call the WhatsApp backend, record the outcome."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from time import sleep

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Exists, F, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from notifications.whatsapp import (
    OutcomeUnknown,
    RecipientRejected,
    SenderRejected,
    TemporaryFailure,
    get_backend,
)
from students.models import Guardian, Student
from students.phones import InvalidPhoneNumber, is_valid_phone, mask_phone, normalize_phone
from tkassalam.language import school_language

from ..exceptions import BroadcastFailed, BroadcastRetry
from ..models import (
    CLAIMABLE_STATUSES,
    BroadcastAttempt,
    BroadcastStatus,
    FonnteDevice,
    MonthlyReportBroadcast,
)
from .alerts import broadcast_schedule_failure_alert
from .pacing import Turn, Waiting, current_pace, pacing_reserve_turn
from .receipts import fonnte_device_connected

logger = logging.getLogger(__name__)

#: The database was unreachable (not a bug): nothing about the row is known to be wrong.
DATABASE_OUTAGE = (OperationalError, InterfaceError)


def broadcast_send(*, broadcast_id: int, monthly_report_id: int | None) -> bool:
    """Claim the row, send it through the WhatsApp backend, record the outcome.

    Returns True when the row was sent; False when there was nothing to do (already
    handled, or gone) or when the row's turn is not near and it was parked to wait
    (services.pacing). Raises BroadcastRetry for a passing failure with attempts
    left, and BroadcastFailed when the row ended failed or unknown.
    """
    turn = _take_turn(broadcast_id)
    if turn is None:
        return False
    # Wait for the turn while the row is still waiting, and claim it only then, right
    # before the call: "sending" means the request to Fonnte may have started. A worker
    # killed during the wait leaves its row waiting, never "unknown"; the recovery sweep
    # hands its lost task out again and it takes a new turn (services.recovery).
    _wait_for(turn)
    broadcast = _claim(broadcast_id)
    if broadcast is None:
        if not fonnte_device_connected():
            _park(broadcast_id, Turn(reserved=False, at=None, waiting=Waiting.DISCONNECTED))
            return False
        # Sent, being sent by another worker, final, or deleted: never send again.
        logger.info("WhatsApp skipped, row not claimable [broadcast=%s]", broadcast_id)
        return False

    # What is stored (the row's error, the attempt line) is read later by every admin.
    with school_language():
        return _send_claimed(broadcast, monthly_report_id)


def _send_claimed(broadcast, monthly_report_id) -> bool:
    """Send a claimed row and record the outcome: True when sent, else raise (as above)."""
    if broadcast.monthly_report_id is None or broadcast.monthly_report_id != monthly_report_id:
        raise _finish(broadcast, BroadcastStatus.FAILED, _("Monthly report not found."))
    # Removed or opted out while the message waited (quiet hours, pacing, the device, a
    # retry): the one rule (selectors.guardian_delivery_problem) holds at send time too.
    if broadcast.receives is None:
        raise _finish(
            broadcast,
            BroadcastStatus.FAILED,
            _("The guardian was removed from the student data: not sent."),
        )
    if not broadcast.receives:
        raise _finish(
            broadcast,
            BroadcastStatus.FAILED,
            _("The guardian does not receive messages: not sent."),
        )
    try:
        phone = normalize_phone(broadcast.phone_number)
    except InvalidPhoneNumber as err:
        reason = _("Invalid phone number: %(reason)s") % {"reason": err.reason}
        raise _finish(broadcast, BroadcastStatus.FAILED, reason) from err

    try:
        result = get_backend().send(phone=phone, message=broadcast.message)
    except RecipientRejected as err:
        reason = _("Fonnte refused this number: %(reason)s") % {"reason": err.reason}
        raise _finish(broadcast, BroadcastStatus.FAILED, reason, err.raw_response) from err
    except SenderRejected as err:
        reason = _(
            "Fonnte refused the school's account (%(reason)s). Check FONNTE_API_TOKEN and the "
            "device in the Fonnte dashboard, then resend the failed messages."
        ) % {"reason": err.reason}
        _fail_rest_of_report(broadcast, reason)
        raise _finish(broadcast, BroadcastStatus.FAILED, reason, err.raw_response) from err
    except OutcomeUnknown as err:
        # Fonnte may have queued it and has no idempotency key: resending could
        # reach the parent twice, so an admin decides (docs/fonnte-api.md, "outcome unknown").
        # Its reason already says that Fonnte did not answer and that it may have queued it.
        reason = _(
            "%(reason)s. Before resending, check the Fonnte dashboard or ask the parent "
            "whether it arrived."
        ) % {"reason": err.reason}
        raise _finish(broadcast, BroadcastStatus.UNKNOWN, reason, err.raw_response) from err
    except TemporaryFailure as err:
        reason = _("Could not send: %(reason)s") % {"reason": err.reason}
        if broadcast.retry_count < settings.WHATSAPP_MAX_ATTEMPTS:
            raise _schedule_retry(broadcast, reason, err.raw_response) from err
        reason = ngettext(
            "%(reason)s (gave up after %(n)d attempt)",
            "%(reason)s (gave up after %(n)d attempts)",
            broadcast.retry_count,
        ) % {"reason": reason, "n": broadcast.retry_count}
        raise _finish(broadcast, BroadcastStatus.FAILED, reason, err.raw_response) from err
    _mark_sent(broadcast, result)
    return True


@dataclass(frozen=True)
class Claimed:
    """A row this worker claimed: what sending it and recording the outcome need."""

    pk: int
    monthly_report_id: int | None
    phone_number: str
    message: str
    nis: str
    retry_count: int  # attempts made, this one included
    claimed_at: datetime
    #: The guardian's "receives messages" now; None when the guardian was removed.
    receives: bool | None = None


#: The row's own columns a send needs (besides the student's NIS).
_CLAIM_READS = ("monthly_report_id", "phone_number", "message", "retry_count")


def _claim(broadcast_id) -> Claimed | None:
    """Move the row to ``sending`` if it may be sent now, and read it; None when it may not.

    The guarded update is the "never twice": of two workers holding the same task, one
    claims the row and the other finds it no longer claimable. Where the database can,
    the row is read by the update itself (one round trip per message instead of two).
    Called right before the HTTP call, after any wait for the turn: nothing that can block
    (no wait, no other query) comes between the claim and the request.
    """
    now = timezone.now()
    claimable = MonthlyReportBroadcast.objects.filter(
        pk=broadcast_id,
        status__in=CLAIMABLE_STATUSES,
        retry_count__lt=settings.WHATSAPP_MAX_ATTEMPTS,
    ).exclude(
        # Fonnte said the device is disconnected: the row waits (broadcast_send parks it).
        Exists(FonnteDevice.objects.holding_messages())
    )
    changes = {
        "status": BroadcastStatus.SENDING,
        "retry_count": F("retry_count") + 1,
        "claimed_at": now,
        "next_attempt_at": None,
        "updated_at": now,
    }
    student_nis = Subquery(Student.objects.filter(pk=OuterRef("student_id")).values("nis"))
    # The guardian's choice now (NULL when they were removed), read in the same statement.
    receives = Subquery(
        Guardian.objects.filter(pk=OuterRef("guardian_id")).values("receives_messages")
    )
    rows = claimable.update_returning(
        {**{name: name for name in _CLAIM_READS}, "nis": student_nis, "receives": receives},
        **changes,
    )
    if rows is None:  # MySQL/MariaDB: update, then read
        rows = []
        if claimable.update(**changes):
            rows = MonthlyReportBroadcast.objects.filter(pk=broadcast_id).values(
                *_CLAIM_READS, nis=F("student__nis"), receives=F("guardian__receives_messages")
            )
    return Claimed(pk=broadcast_id, claimed_at=now, **rows[0]) if rows else None


def _take_turn(broadcast_id) -> Turn | None:
    """Reserve this row's sending slot (services.pacing); None when the row was parked.

    Before the claim, so that a row whose turn is far uses no attempt and is never left
    "sending" while nothing sends it. The wait for a near slot (_wait_for) comes before
    the claim too: a row is "sending" only once its request may have started. Without a
    pace this costs no query: the claim itself refuses a row while the device is
    disconnected.
    """
    if not current_pace().paced:
        return Turn(reserved=True, at=None)
    phone = (
        MonthlyReportBroadcast.objects.filter(pk=broadcast_id, status__in=CLAIMABLE_STATUSES)
        .values_list("phone_number", flat=True)
        .first()
    )
    if phone is None or not is_valid_phone(phone):
        # The claim refuses it, or it fails without a call: no slot is spent on it.
        return Turn(reserved=True, at=None)
    turn = pacing_reserve_turn()
    if not turn.reserved:
        _park(broadcast_id, turn)
        return None
    return turn


def _wait_for(turn: Turn) -> None:
    wait = (turn.at - timezone.now()).total_seconds() if turn.at else 0
    if wait > 0:
        sleep(wait)


def _park(broadcast_id, turn: Turn) -> None:
    """Leave a waiting row for the dispatcher to hand out again at ``turn.at`` (unknown: later)."""
    parked = MonthlyReportBroadcast.objects.filter(
        pk=broadcast_id, status__in=CLAIMABLE_STATUSES
    ).update(enqueued_at=None, next_attempt_at=turn.at, updated_at=timezone.now())
    if parked:
        logger.info(
            "WhatsApp waits [broadcast=%s]: %s, until %s",
            broadcast_id,
            turn.waiting,
            turn.at.isoformat() if turn.at else "the device is back",
        )


def _log_context(broadcast, **more):
    """What every log line about a row carries: never the full number, never the token."""
    return {
        "broadcast_id": broadcast.pk,
        "nis": broadcast.nis,
        "phone": mask_phone(broadcast.phone_number),
        "attempt": broadcast.retry_count,
        **more,
    }


_CONTEXT = "[broadcast=%(broadcast_id)s nis=%(nis)s phone=%(phone)s attempt=%(attempt)s]"
_LOG_SENT = "WhatsApp sent " + _CONTEXT + " id=%(message_id)s request=%(request_id)s"
_LOG_SENT_LATE = "WhatsApp sent but the row had moved on " + _CONTEXT
_LOG_RETRY = "WhatsApp will retry " + _CONTEXT + ": %(reason)s"
_LOG_FINISHED = "WhatsApp %(status)s " + _CONTEXT + ": %(reason)s"


def _mark_sent(broadcast, result):
    now = timezone.now()
    with transaction.atomic():  # one commit for the row and its attempt
        updated = MonthlyReportBroadcast.objects.filter(
            # UNKNOWN too: if a sweep gave up on this row meanwhile, the answer is the truth.
            pk=broadcast.pk,
            status__in=(BroadcastStatus.SENDING, BroadcastStatus.UNKNOWN),
        ).update(
            status=BroadcastStatus.SENT,
            sent_at=now,
            fonnte_message_id=result.message_id[:64],
            fonnte_request_id=result.request_id[:64],
            response=result.raw_response,
            error_message="",
            updated_at=now,
        )
        _record_attempt(
            broadcast, BroadcastAttempt.Outcome.SENT, result.detail, result.raw_response
        )
    context = _log_context(
        broadcast, message_id=result.message_id or "-", request_id=result.request_id or "-"
    )
    if updated:
        logger.info(_LOG_SENT, context, extra=context)
    else:
        logger.warning(_LOG_SENT_LATE, context, extra=context)


def _schedule_retry(broadcast, reason, response) -> BroadcastRetry:
    """Park a claimed row until its next attempt; return the exception that asks Celery to retry."""
    now = timezone.now()
    MonthlyReportBroadcast.objects.filter(pk=broadcast.pk, status=BroadcastStatus.SENDING).update(
        status=BroadcastStatus.RETRYING,
        error_message=reason,
        response=response or "",
        next_attempt_at=now + timedelta(seconds=settings.WHATSAPP_RETRY_DELAY),
        updated_at=now,
    )
    _record_attempt(broadcast, BroadcastAttempt.Outcome.RETRY, reason, response)
    context = _log_context(broadcast, reason=reason)
    logger.warning(_LOG_RETRY, context, extra=context)
    return BroadcastRetry(broadcast.pk, reason)


def _finish(broadcast, status, reason, response=None) -> BroadcastFailed:
    """Move a claimed row to failed or unknown; return the exception that ends the task."""
    MonthlyReportBroadcast.objects.filter(pk=broadcast.pk, status=BroadcastStatus.SENDING).update(
        status=status,
        error_message=reason,
        response=response or "",
        updated_at=timezone.now(),
    )
    _record_attempt(broadcast, status, reason, response)
    context = _log_context(broadcast, status=status, reason=reason)
    logger.warning(_LOG_FINISHED, context, extra=context)
    return BroadcastFailed(broadcast.pk, status, reason)


def _record_attempt(broadcast, outcome, detail, response):
    """One line of the row's attempt log (shown to admins), written when the attempt ends."""
    BroadcastAttempt.objects.create(
        broadcast_id=broadcast.pk,
        number=broadcast.retry_count,
        started_at=broadcast.claimed_at,
        finished_at=timezone.now(),
        outcome=outcome,
        detail=detail,
        response=response or "",
    )


def _fail_rest_of_report(broadcast, reason):
    """The account was refused: fail the report's waiting rows too, without calling Fonnte."""
    failed = (
        MonthlyReportBroadcast.objects.filter(
            monthly_report_id=broadcast.monthly_report_id, status__in=CLAIMABLE_STATUSES
        )
        .exclude(pk=broadcast.pk)
        .update(status=BroadcastStatus.FAILED, error_message=reason, updated_at=timezone.now())
    )
    if failed:
        logger.error(
            "Fonnte refused the account; %d waiting rows of report %s failed without sending",
            failed,
            broadcast.monthly_report_id,
        )


def broadcast_handle_task_failure(*, broadcast_id: int, exc: BaseException) -> None:
    """The send task ended in failure: make sure the row says so, then alert the admins.

    For BroadcastFailed the row is already final. A database outage leaves a waiting
    row waiting: nothing was sent, and the recovery sweep hands it out again. For
    anything else (retries used up, a bug) a waiting row fails; a row caught mid-send
    becomes unknown, because the message may have left.
    """
    if isinstance(exc, DATABASE_OUTAGE):
        _settle_after_database_error(broadcast_id, exc)
        return
    if not isinstance(exc, BroadcastFailed):
        with school_language():  # stored on the row, read by every admin
            reason = getattr(exc, "reason", None) or _("Unexpected error: %(error)s") % {
                "error": type(exc).__name__
            }
        now = timezone.now()
        MonthlyReportBroadcast.objects.filter(
            pk=broadcast_id, status__in=CLAIMABLE_STATUSES
        ).update(status=BroadcastStatus.FAILED, error_message=reason, updated_at=now)
        MonthlyReportBroadcast.objects.filter(
            pk=broadcast_id, status=BroadcastStatus.SENDING
        ).update(status=BroadcastStatus.UNKNOWN, error_message=reason, updated_at=now)
    report_id = (
        MonthlyReportBroadcast.objects.filter(pk=broadcast_id)
        .values_list("monthly_report_id", flat=True)
        .first()
    )
    broadcast_schedule_failure_alert(monthly_report_id=report_id)


def _settle_after_database_error(broadcast_id, exc):
    """Only a row caught mid-send changes (to unknown); the database may still be down."""
    with school_language():  # stored on the row, read by every admin
        reason = _("The database failed while this message was being sent: %(error)s") % {
            "error": type(exc).__name__
        }
    try:
        settled = MonthlyReportBroadcast.objects.filter(
            pk=broadcast_id, status=BroadcastStatus.SENDING
        ).update(status=BroadcastStatus.UNKNOWN, error_message=reason, updated_at=timezone.now())
        if settled:
            report_id = (
                MonthlyReportBroadcast.objects.filter(pk=broadcast_id)
                .values_list("monthly_report_id", flat=True)
                .first()
            )
            broadcast_schedule_failure_alert(monthly_report_id=report_id)
    except DATABASE_OUTAGE:
        # Still down: the sweep settles a stuck row (unknown, alert) once it is back.
        logger.warning(
            "Broadcast %s left to the recovery sweep: database unreachable", broadcast_id
        )
