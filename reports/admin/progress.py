"""A report's delivery progress in the admin: the widget, its links and who was not reached."""

from django.conf import settings
from django.contrib import admin
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy

from broadcasts.models import BroadcastStatus, MonthlyReportBroadcast
from broadcasts.selectors import (
    Progress,
    broadcast_progress,
    report_not_opened,
    report_undelivered,
)
from students.selectors import sees_full_phone_numbers
from students.visibility import shown_reason, student_links

from ..wording import children_summary, opened_summary, progress_summary

#: The statuses behind each count of a report's progress, for its link to the broadcast list.
COUNT_STATUSES = {
    "sent": BroadcastStatus.SENT,
    "failed": BroadcastStatus.FAILED,
    "unknown": BroadcastStatus.UNKNOWN,
    "in_progress": [BroadcastStatus.SENDING, BroadcastStatus.RETRYING],
    "waiting": BroadcastStatus.PENDING,
    "not_delivered": [BroadcastStatus.FAILED, BroadcastStatus.UNKNOWN],
}


class MonthlyReportProgressMixin:
    """The report list's delivery column and the report page's progress and undelivered list."""

    @admin.display(description=gettext_lazy("WhatsApp delivery"))
    def delivery(self, obj):
        progress = getattr(obj, "delivery_progress", None)
        if progress is None:  # outside changelist_view: one query for this report
            progress = broadcast_progress(monthly_report_ids=[obj.pk]).get(obj.pk, Progress())
        return self._progress_widget(
            obj, progress, rows_links=getattr(obj, "delivery_rows_links", False)
        )

    def _progress_widget(self, obj, progress, *, rows_links=False):
        # Each count opens the broadcast list filtered to this report and that status; an
        # archived report's rows are gone, and who may not open the list gets no links.
        links = {}
        if rows_links and not progress.archived:
            links = {
                name: self._broadcasts_url(obj, status=statuses)
                for name, statuses in COUNT_STATUSES.items()
            }
            links["opened"] = self._broadcasts_url(obj, file_opened="opened")
        return render_to_string(
            "admin/reports/monthlyreport/progress.html",
            {
                "report_id": obj.pk,
                "progress": progress,
                "summary": progress_summary(progress),
                "opened_summary": opened_summary(progress),
                "children_summary": children_summary(progress),
                "links": links,
                "progress_url": reverse(
                    "admin:reports_monthlyreport_progress", current_app=self.admin_site.name
                ),
            },
        )

    def _rows_links(self, request) -> bool:
        """Whether the user may open the broadcast list, to which the counts link."""
        rows_admin = self.admin_site.get_model_admin(MonthlyReportBroadcast)
        return rows_admin.has_view_or_change_permission(request)

    def _undelivered(self, request, obj, progress, *, rows_links):
        """The report page's list of failed and unknown messages: who, why, and where to fix."""
        not_delivered = progress.failed + progress.unknown
        if not not_delivered or progress.archived:
            return {}
        open_students = student_links(self, request)
        full_numbers = sees_full_phone_numbers(user=request.user)
        rows = []
        for row in report_undelivered(monthly_report=obj):
            rows.append(
                {
                    "student": row.student,
                    # Name and relation, never the number ("Siti (ibu)").
                    "guardian": row.guardian,
                    "status": row.get_status_display(),
                    "failed": row.status == BroadcastStatus.FAILED,
                    "reason": shown_reason(row.error_message, user=request.user),
                    **self._row_and_student_urls(
                        row, rows_links=rows_links, open_students=open_students
                    ),
                }
            )
        return {
            "undelivered": rows,
            "undelivered_more": not_delivered - len(rows),
            "undelivered_url": self._broadcasts_url(obj, status=COUNT_STATUSES["not_delivered"])
            if rows_links
            else "",
            "fix_numbers": full_numbers,
        }

    def _row_and_student_urls(self, row, *, rows_links, open_students) -> dict:
        """Links from a listed child to their message and to their page, where allowed."""
        site = self.admin_site.name
        return {
            "row_url": reverse(
                "admin:broadcasts_monthlyreportbroadcast_change", args=[row.pk], current_app=site
            )
            if rows_links
            else "",
            "student_url": reverse(
                "admin:students_student_change", args=[row.student.pk], current_app=site
            )
            if open_students
            else "",
        }

    def _follow_up(self, request, obj, progress, *, rows_links):
        """The children whose parents have not opened the report's file after N days."""
        if not progress.shows_opened:
            return {}
        rows, total = report_not_opened(monthly_report=obj)
        if not rows:
            return {}
        open_students = student_links(self, request)
        return {
            "follow_up": [
                {
                    "student": row.student,
                    "guardian": row.guardian,
                    "sent_at": row.sent_at,
                    **self._row_and_student_urls(
                        row, rows_links=rows_links, open_students=open_students
                    ),
                }
                for row in rows
            ],
            "follow_up_days": settings.REPORT_FOLLOW_UP_DAYS,
            "follow_up_more": total - len(rows),
            "follow_up_url": self._broadcasts_url(obj, file_opened="follow_up")
            if rows_links
            else "",
        }

    def _broadcasts_url(self, obj, *, status=None, file_opened=None):
        """The broadcast list of this report, filtered to ``status`` (one, or a list).

        Or to ``file_opened`` (broadcasts.admin.filters.FileOpenedFilter's values).
        """
        url = reverse(
            "admin:broadcasts_monthlyreportbroadcast_changelist", current_app=self.admin_site.name
        )
        query = {"monthly_report__id__exact": obj.pk}
        if file_opened:
            query["file_opened"] = file_opened
        elif isinstance(status, str):
            query["status__exact"] = status
        else:
            query["status__in"] = ",".join(status)
        return f"{url}?{urlencode(query)}"
