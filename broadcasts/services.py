"""Every change to a MonthlyReportBroadcast happens here, through guarded updates.

A status moves only with ``filter(pk=…, status=<expected>).update(…)``: if another
worker, a redelivered task or an admin got there first, the update matches no
row and nothing happens. That, not the broker, is what makes "never twice" hold.

    pending ──claim──▶ sending ──▶ sent
       ▲                  │──▶ retrying ──claim──▶ sending …   (passing failure)
       │                  │──▶ failed                          (final failure)
       └──admin retry─────│──▶ unknown                         (sent, no answer)
"""

import logging
import math
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from notifications.services import notification_send_to_admins
from notifications.whatsapp import (
    OutcomeUnknown,
    RecipientRejected,
    SenderRejected,
    TemporaryFailure,
    get_backend,
)
from students.phones import InvalidPhoneNumber, mask_phone, normalize_phone

from . import tasks
from .exceptions import BroadcastFailed, BroadcastRetry
from .messages import message_context, render_message
from .models import CLAIMABLE_STATUSES, BroadcastStatus, MonthlyReportBroadcast
from .selectors import broadcast_status_counts, students_without_broadcast

logger = logging.getLogger(__name__)

#: How many task messages the dispatcher publishes per database round trip.
DISPATCH_CHUNK = 1000
#: At most this many rows are listed one by one in an admin alert.
ALERT_MAX_LISTED = 50


# --- Creating the rows (the admin action) ------------------------------------


@dataclass(frozen=True)
class BroadcastCreation:
    """What one click on "send" did for one report."""

    monthly_report_id: int
    created: int
    already_sent: int
    under_way: int
    not_delivered: int
    skipped_no_phone: int


def broadcast_create_for_report(*, monthly_report, requested_by=None) -> BroadcastCreation:
    """Create one pending row per student with a number, once; hand them to workers after commit.

    Safe to run again: students who already have a row for this report get no second
    one (the unique constraint backs this up when two admins click at once).
    """
    rows, skipped = [], 0
    for student in students_without_broadcast(monthly_report=monthly_report):
        raw_phone = student.parent_phone.strip()
        if not raw_phone:
            skipped += 1
            continue
        try:
            phone = normalize_phone(raw_phone)
        except InvalidPhoneNumber:
            # Kept as entered: the row fails at send time, visibly, and admins hear of it.
            phone = raw_phone
        context = message_context(student=student, monthly_report=monthly_report)
        rows.append(
            MonthlyReportBroadcast(
                monthly_report=monthly_report,
                student=student,
                phone_number=phone[:20],
                message=render_message(context),
                requested_by=requested_by,
            )
        )
    with transaction.atomic():
        before = broadcast_status_counts(monthly_report=monthly_report)
        MonthlyReportBroadcast.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
        after = broadcast_status_counts(monthly_report=monthly_report)
        transaction.on_commit(tasks.dispatch_pending_broadcasts.delay, robust=True)
    created = sum(after.values()) - sum(before.values())
    logger.info(
        "Broadcast rows created for report %s: %d",
        monthly_report.pk,
        created,
        extra={"monthly_report_id": monthly_report.pk, "rows_created": created},
    )
    return BroadcastCreation(
        monthly_report_id=monthly_report.pk,
        created=created,
        already_sent=before.get(BroadcastStatus.SENT, 0),
        under_way=sum(
            before.get(s, 0)
            for s in (BroadcastStatus.PENDING, BroadcastStatus.SENDING, BroadcastStatus.RETRYING)
        ),
        not_delivered=before.get(BroadcastStatus.FAILED, 0)
        + before.get(BroadcastStatus.UNKNOWN, 0),
        skipped_no_phone=skipped,
    )


def broadcast_dispatch_pending() -> int:
    """Publish one send task per pending row not handed to the workers yet; return how many.

    Runs in a worker (tasks.dispatch_pending_broadcasts), so the admin's click costs
    one broker message however large the class. A row is stamped ``enqueued_at``
    after its task is published; a dispatcher that dies half-way leaves the rest
    unstamped for the next run. Two dispatchers racing publish a row twice at worst,
    and the claim in broadcast_send makes the second task a no-op.
    """
    published = 0
    while True:
        chunk = list(
            MonthlyReportBroadcast.objects.pending()
            .filter(enqueued_at__isnull=True)
            .order_by("pk")
            .values_list("pk", "monthly_report_id")[:DISPATCH_CHUNK]
        )
        if not chunk:
            return published
        tasks.publish_sends(chunk)
        MonthlyReportBroadcast.objects.filter(
            pk__in=[pk for pk, _ in chunk], status=BroadcastStatus.PENDING
        ).update(enqueued_at=timezone.now())
        published += len(chunk)
        logger.info("Dispatched %d broadcast tasks", len(chunk), extra={"count": len(chunk)})


# --- Sending one row (the Celery task) ----------------------------------------


def broadcast_send(*, broadcast_id: int, monthly_report_id: int | None) -> None:
    """Claim the row, send it through the WhatsApp backend, record the outcome.

    Returns when the row was sent, or when there was nothing to do (already
    handled, or gone). Raises BroadcastRetry for a passing failure with attempts
    left, and BroadcastFailed when the row ended failed or unknown.
    """
    now = timezone.now()
    claimed = MonthlyReportBroadcast.objects.filter(
        pk=broadcast_id,
        status__in=CLAIMABLE_STATUSES,
        retry_count__lt=settings.WHATSAPP_MAX_ATTEMPTS,
    ).update(
        status=BroadcastStatus.SENDING,
        retry_count=F("retry_count") + 1,
        claimed_at=now,
        next_attempt_at=None,
        updated_at=now,
    )
    if not claimed:
        # Sent, being sent by another worker, final, or deleted: never send again.
        logger.info("WhatsApp skipped, row not claimable [broadcast=%s]", broadcast_id)
        return
    broadcast = MonthlyReportBroadcast.objects.select_related("student").get(pk=broadcast_id)

    if broadcast.monthly_report_id is None or broadcast.monthly_report_id != monthly_report_id:
        raise _finish(broadcast, BroadcastStatus.FAILED, _("Monthly report not found."))
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
        reason = _(
            "Fonnte did not answer after the message was sent (%(reason)s). It may have "
            "been delivered: check the Fonnte dashboard or ask the parent before resending."
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


def _log_context(broadcast, **more):
    """What every log line about a row carries: never the full number, never the token."""
    return {
        "broadcast_id": broadcast.pk,
        "nis": broadcast.student.nis,
        "phone": mask_phone(broadcast.phone_number),
        "attempt": broadcast.retry_count,
        **more,
    }


_CONTEXT = "[broadcast=%(broadcast_id)s nis=%(nis)s phone=%(phone)s attempt=%(attempt)s]"
_LOG_SENT = "WhatsApp sent " + _CONTEXT + " id=%(message_id)s"
_LOG_SENT_LATE = "WhatsApp sent but the row had moved on " + _CONTEXT
_LOG_RETRY = "WhatsApp will retry " + _CONTEXT + ": %(reason)s"
_LOG_FINISHED = "WhatsApp %(status)s " + _CONTEXT + ": %(reason)s"


def _mark_sent(broadcast, result):
    now = timezone.now()
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
    context = _log_context(broadcast, message_id=result.message_id)
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
    context = _log_context(broadcast, status=status, reason=reason)
    logger.warning(_LOG_FINISHED, context, extra=context)
    return BroadcastFailed(broadcast.pk, status, reason)


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

    For BroadcastFailed the row is already final. For anything else (retries used up,
    a bug, the database gone) a waiting row fails; a row caught mid-send becomes
    unknown, because the message may have left.
    """
    if not isinstance(exc, BroadcastFailed):
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


# --- Telling the admins ---------------------------------------------------------


def broadcast_schedule_failure_alert(*, monthly_report_id: int | None) -> None:
    """Queue the report's grouped alert: soon after a first failure, then at most once an interval.

    Each final failure queues an alert task; the first to run takes every row not
    alerted yet, and the others find none (see broadcast_alert_failures).
    """
    countdown = max(settings.WHATSAPP_ALERT_DELAY, _seconds_until_next_alert(monthly_report_id))
    tasks.alert_broadcast_failures.apply_async((monthly_report_id,), countdown=countdown)


def _seconds_until_next_alert(monthly_report_id) -> int:
    """0 if the report's admins may be alerted now, else the seconds left in the interval."""
    last = MonthlyReportBroadcast.objects.filter(monthly_report_id=monthly_report_id).aggregate(
        last=Max("failure_alerted_at")
    )["last"]
    if last is None:
        return 0
    left = last + timedelta(seconds=settings.WHATSAPP_ALERT_INTERVAL) - timezone.now()
    return max(0, math.ceil(left.total_seconds()))


def broadcast_alert_failures(*, monthly_report_id: int | None) -> int:
    """Send one alert listing the report's failed and unknown rows not alerted yet; return how many.

    Too soon after the report's previous alert, it sends nothing and queues
    itself for the end of the interval instead.
    """
    with transaction.atomic():
        rows = list(
            MonthlyReportBroadcast.objects.select_for_update()
            .filter(
                monthly_report_id=monthly_report_id,
                status__in=(BroadcastStatus.FAILED, BroadcastStatus.UNKNOWN),
                failure_alerted_at__isnull=True,
            )
            .select_related("student", "monthly_report__classroom")
            .order_by("pk")
        )
        if not rows:
            return 0
        wait = _seconds_until_next_alert(monthly_report_id)
        if wait:
            tasks.alert_broadcast_failures.apply_async((monthly_report_id,), countdown=wait)
            return 0
        MonthlyReportBroadcast.objects.filter(pk__in=[row.pk for row in rows]).update(
            failure_alerted_at=timezone.now()
        )
        title, body, link = _alert_text(rows, monthly_report_id)
        notification_send_to_admins(title=title, body=body, link=link)
    return len(rows)


def _alert_text(rows, monthly_report_id):
    report = rows[0].monthly_report
    report_label = str(report) if report else _("deleted report")
    failed = sum(row.status == BroadcastStatus.FAILED for row in rows)
    unknown = len(rows) - failed
    title = _("WhatsApp messages not delivered: %(report)s") % {"report": report_label}
    lines = []
    if failed:
        lines.append(
            ngettext("%(n)d message failed.", "%(n)d messages failed.", failed) % {"n": failed}
        )
    if unknown:
        lines.append(
            ngettext(
                "%(n)d message may or may not have arrived (unknown): check before resending.",
                "%(n)d messages may or may not have arrived (unknown): check before resending.",
                unknown,
            )
            % {"n": unknown}
        )
    lines.append("")
    for row in rows[:ALERT_MAX_LISTED]:
        lines.append(
            f"- {row.student.full_name} ({row.student.nis}) {mask_phone(row.phone_number)}: "
            f"{row.get_status_display()}: {row.error_message}"
        )
    if len(rows) > ALERT_MAX_LISTED:
        lines.append(_("… and %(n)d more.") % {"n": len(rows) - ALERT_MAX_LISTED})
    link = reverse("admin:broadcasts_monthlyreportbroadcast_changelist")
    if monthly_report_id is not None:
        link += f"?monthly_report__id__exact={monthly_report_id}&status__in=failed,unknown"
    return title, "\n".join(lines), link


# --- Repair ---------------------------------------------------------------------


def broadcast_retry(*, broadcast_ids, include_unknown: bool = False) -> int:
    """Put failed rows (and, when asked, unknown ones) back to be sent with fresh attempts.

    Never touches a sent row. Returns how many rows will be sent again.
    """
    statuses = [BroadcastStatus.FAILED]
    if include_unknown:
        statuses.append(BroadcastStatus.UNKNOWN)
    with transaction.atomic():
        count = MonthlyReportBroadcast.objects.filter(
            pk__in=list(broadcast_ids), status__in=statuses
        ).update(
            status=BroadcastStatus.PENDING,
            retry_count=0,
            error_message="",
            enqueued_at=None,
            next_attempt_at=None,
            failure_alerted_at=None,
            updated_at=timezone.now(),
        )
        if count:
            transaction.on_commit(tasks.dispatch_pending_broadcasts.delay, robust=True)
    logger.info("%d broadcasts put back to be sent", count, extra={"count": count})
    return count
