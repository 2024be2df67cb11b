"""Telling the admins about a report's failed and unknown rows, grouped per report."""

import logging
import math
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from notifications.services import notification_send_to_admins, notification_sent_since
from students.phones import mask_phones_in

from .. import queue
from ..models import BroadcastStatus, MonthlyReportBroadcast
from .pacing import pacing_lock

logger = logging.getLogger(__name__)

#: At most this many rows are listed one by one in an admin alert.
ALERT_MAX_LISTED = 50


def broadcast_schedule_failure_alert(*, monthly_report_id: int | None) -> None:
    """Queue the report's grouped alert: soon after a first failure, then at most once an interval.

    Each final failure queues an alert task; the first to run takes every row not
    alerted yet, and the others find none (see broadcast_alert_failures).
    """
    countdown = max(settings.WHATSAPP_ALERT_DELAY, _seconds_until_next_alert(monthly_report_id))
    queue.schedule_failure_alert(monthly_report_id, countdown=countdown)


def _next_alert_at(monthly_report_id):
    """When the report's admins may be alerted again; None if they never were."""
    last = MonthlyReportBroadcast.objects.filter(monthly_report_id=monthly_report_id).aggregate(
        last=Max("failure_alerted_at")
    )["last"]
    return None if last is None else last + timedelta(seconds=settings.WHATSAPP_ALERT_INTERVAL)


def _seconds_until_next_alert(monthly_report_id) -> int:
    """0 if the report's admins may be alerted now, else the seconds left in the interval."""
    next_at = _next_alert_at(monthly_report_id)
    if next_at is None:
        return 0
    return max(0, math.ceil((next_at - timezone.now()).total_seconds()))


def broadcast_alert_failures(
    *, monthly_report_id: int | None, requeue_if_early: bool = True
) -> int:
    """Send one alert listing the report's failed and unknown rows not alerted yet; return how many.

    Too soon after the report's previous alert, it sends nothing and, unless
    ``requeue_if_early`` is false (the recovery sweep, which comes back anyway), queues
    itself for the end of the interval instead.
    """
    with transaction.atomic():
        # Lock the rows on their own table first: PostgreSQL refuses FOR UPDATE across the
        # outer join to a report that may be gone (monthly_report is nullable).
        locked = list(
            MonthlyReportBroadcast.objects.select_for_update()
            .filter(
                monthly_report_id=monthly_report_id,
                status__in=(BroadcastStatus.FAILED, BroadcastStatus.UNKNOWN),
                failure_alerted_at__isnull=True,
            )
            .order_by("pk")  # in the order every other locker takes them: no deadlock
            .values_list("pk", flat=True)
        )
        if not locked:
            return 0
        rows = list(
            MonthlyReportBroadcast.objects.filter(pk__in=locked)
            .select_related("student", "guardian", "monthly_report__classroom")
            .order_by("pk")
        )
        wait = _seconds_until_next_alert(monthly_report_id)
        if wait:
            if requeue_if_early:
                queue.schedule_failure_alert(monthly_report_id, countdown=wait)
            return 0
        MonthlyReportBroadcast.objects.filter(pk__in=locked).update(
            failure_alerted_at=timezone.now()
        )
        title, body, link = _alert_text(rows, monthly_report_id, _reached(rows, monthly_report_id))
        notification_send_to_admins(title=title, body=body, link=link)
    return len(rows)


def broadcast_alert_due() -> int:
    """Send every report's grouped alert that is due, then the "many failures" one, if due.

    Returns how many reports were alerted. In cron mode this is how alerts go out, at
    the end of each run (no alert task is queued there). With Celery each final failure
    queues its report's alert task (broadcast_schedule_failure_alert), and the recovery
    sweep runs this as the safety net: a delayed alert task lost with the broker (Redis
    restarted without persistence) or with a killed worker would otherwise leave its rows
    unreported for good. The sweep waits one sweep interval past the task's due time, so
    the task normally sends the alert first; if both run, the row lock lets one alert out.
    """
    alerted = _alert_overdue_reports()
    broadcast_alert_failure_spike()
    return alerted


def _alert_overdue_reports() -> int:
    now = timezone.now()
    with_tasks = queue.uses_celery()
    margin = timedelta(seconds=settings.WHATSAPP_RECOVERY_INTERVAL if with_tasks else 0)
    # With Celery a row's alert task is due WHATSAPP_ALERT_DELAY after its failure.
    delay = timedelta(seconds=settings.WHATSAPP_ALERT_DELAY if with_tasks else 0)
    report_ids = set(
        MonthlyReportBroadcast.objects.filter(
            status__in=(BroadcastStatus.FAILED, BroadcastStatus.UNKNOWN),
            failure_alerted_at__isnull=True,
            updated_at__lte=now - delay - margin,  # when the row failed
        )
        .order_by()
        .values_list("monthly_report_id", flat=True)
        .distinct()
    )
    alerted = 0
    for report_id in report_ids:
        next_at = _next_alert_at(report_id)
        if next_at is not None and next_at + margin > now:
            continue  # within the report's interval: its requeued task sends it at the end
        alerted += bool(
            broadcast_alert_failures(monthly_report_id=report_id, requeue_if_early=False)
        )
    if alerted and with_tasks:
        logger.warning(
            "The sweep sent %d report failure alerts whose alert task never ran "
            "(lost with the broker or a worker)",
            alerted,
        )
    return alerted


def _reached(rows, monthly_report_id) -> set[int]:
    """Of these rows' children, those with a guardian's message not failed nor unknown.

    Sent, or still under way: such a child was (or may yet be) reached. The others are the
    children none of whose guardians could be reached, whom the alert names first.
    """
    return set(
        MonthlyReportBroadcast.objects.filter(
            monthly_report_id=monthly_report_id,
            student_id__in={row.student_id for row in rows},
        )
        .exclude(status__in=(BroadcastStatus.FAILED, BroadcastStatus.UNKNOWN))
        .order_by()
        .values_list("student_id", flat=True)
        .distinct()
    )


def _alert_line(row) -> str:
    """``- Aisyah Putri (N0001), Siti (ibu): Gagal: reason``: never the number itself."""
    who = f"{row.student.full_name} ({row.student.nis})"
    if row.guardian_id:
        who += f", {row.guardian}"
    return f"- {who}: {row.get_status_display()}: {mask_phones_in(row.error_message)}"


def _alert_text(rows, monthly_report_id, reached=frozenset()):
    """The alert: counts, then the children none of whose guardians could be reached (each
    with all their messages), then the other messages not delivered. No number in it: the
    guardian is named with their relation; a number in a reason is masked."""
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
    unreached = sorted(
        (row for row in rows if row.student_id not in reached),
        key=lambda row: (row.student.full_name, row.student_id, row.pk),
    )
    others = [row for row in rows if row.student_id in reached]
    listed = 0
    for heading, group in (
        (
            ngettext(
                "%(n)d child none of whose guardians could be reached:",
                "%(n)d children none of whose guardians could be reached:",
                len({row.student_id for row in unreached}),
            )
            % {"n": len({row.student_id for row in unreached})},
            unreached,
        ),
        (_("Other messages not delivered:"), others),
    ):
        if not group or listed >= ALERT_MAX_LISTED:
            continue
        lines += ["", heading]
        for row in group[: ALERT_MAX_LISTED - listed]:
            lines.append(_alert_line(row))
        listed += min(len(group), ALERT_MAX_LISTED - listed)
    if len(rows) > ALERT_MAX_LISTED:
        lines.append(_("… and %(n)d more.") % {"n": len(rows) - ALERT_MAX_LISTED})
    link = reverse("admin:broadcasts_monthlyreportbroadcast_changelist")
    if monthly_report_id is not None:
        link += f"?monthly_report__id__exact={monthly_report_id}&status__in=failed,unknown"
    return title, "\n".join(lines), link


FAILURE_SPIKE_KEY = "failure-spike"


def broadcast_alert_failure_spike() -> int:
    """One extra alert when many messages failed recently, whatever their report.

    The seed's "more than 10 failed jobs" alarm: at most one per
    WHATSAPP_FAILURE_ALERT_WINDOW. Returns the failures counted when it alerted, else 0.
    """
    window = timedelta(seconds=settings.WHATSAPP_FAILURE_ALERT_WINDOW)
    if not _failure_spike_due(timezone.now() - window):
        return 0  # the usual answer, found without taking a lock
    with transaction.atomic():
        # Two sweeps at once (sweeps queued while the workers were down, overlapping cron
        # runs) must not both find no alert and both send one: the check and the alert hold
        # the deployment's one well-known row lock, the pace row's (on SQLite every write
        # transaction is serialized anyway: BEGIN IMMEDIATE, see the settings).
        pacing_lock()
        since = timezone.now() - window
        failed = _failure_spike_due(since)
        if not failed:
            return 0
        minutes = round(window.total_seconds() / 60)
        notification_send_to_admins(
            title=_("Many WhatsApp messages failed: %(n)d in the last %(minutes)d minutes")
            % {"n": failed, "minutes": minutes},
            body=_(
                "Check the Fonnte device and quota, and the failure reasons in the broadcast "
                "list. Failed messages can be resent from there once the cause is fixed."
            ),
            link=reverse("admin:broadcasts_monthlyreportbroadcast_changelist")
            + "?status__exact=failed",
            key=FAILURE_SPIKE_KEY,
        )
    return failed


def _failure_spike_due(since) -> int:
    """The failures since ``since`` if they reach the threshold and no spike alert went out."""
    if notification_sent_since(key=FAILURE_SPIKE_KEY, since=since):
        return 0
    failed = MonthlyReportBroadcast.objects.failed().filter(updated_at__gte=since).count()
    return failed if failed >= settings.WHATSAPP_FAILURE_ALERT_THRESHOLD else 0
