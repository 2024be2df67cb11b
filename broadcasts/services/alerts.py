"""Telling the admins about a report's failed and unknown rows, grouped per report."""

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
from students.phones import mask_phone

from .. import queue
from ..models import BroadcastStatus, MonthlyReportBroadcast

#: At most this many rows are listed one by one in an admin alert.
ALERT_MAX_LISTED = 50


def broadcast_schedule_failure_alert(*, monthly_report_id: int | None) -> None:
    """Queue the report's grouped alert: soon after a first failure, then at most once an interval.

    Each final failure queues an alert task; the first to run takes every row not
    alerted yet, and the others find none (see broadcast_alert_failures).
    """
    countdown = max(settings.WHATSAPP_ALERT_DELAY, _seconds_until_next_alert(monthly_report_id))
    queue.schedule_failure_alert(monthly_report_id, countdown=countdown)


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
            queue.schedule_failure_alert(monthly_report_id, countdown=wait)
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


FAILURE_SPIKE_KEY = "failure-spike"


def broadcast_alert_failure_spike() -> int:
    """One extra alert when many messages failed recently, whatever their report.

    The seed's "more than 10 failed jobs" alarm: at most one per
    WHATSAPP_FAILURE_ALERT_WINDOW. Returns the failures counted when it alerted, else 0.
    """
    window = timedelta(seconds=settings.WHATSAPP_FAILURE_ALERT_WINDOW)
    since = timezone.now() - window
    if notification_sent_since(key=FAILURE_SPIKE_KEY, since=since):
        return 0
    failed = MonthlyReportBroadcast.objects.failed().filter(updated_at__gte=since).count()
    if failed < settings.WHATSAPP_FAILURE_ALERT_THRESHOLD:
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
