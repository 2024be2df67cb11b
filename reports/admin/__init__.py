"""The monthly report's admin: its list, its page, and the WhatsApp send and resend actions.

This module registers MonthlyReportAdmin (autodiscover imports it). send: the send action
and its confirmation; resend: the resend action for failed messages; progress: the
delivery column, the report page's progress and its list of who was not reached (a
mixin of MonthlyReportAdmin); files: the report page's files, one child at a time (a
mixin too); zip_upload: the ZIP upload of a class's report files (a mixin too); pacing:
what the pages say about the sending pace; revoke: revoking every personal link of a
report, after a confirmation.
"""

from django.contrib import admin
from django.urls import path
from django.utils.translation import gettext as _

from broadcasts.selectors import (
    Progress,
    ProgressState,
    broadcast_progress,
    report_has_broadcasts,
    reports_with_broadcasts,
)
from students.visibility import ClassroomFilter, ClassroomScopedMixin

from ..models import MonthlyReport
from ..views import monthly_report_progress
from .files import MonthlyReportFilesMixin
from .pacing import _say_if_sending_is_held
from .progress import COUNT_STATUSES, MonthlyReportProgressMixin
from .resend import resend_failed_broadcasts
from .revoke import revoke_report_links
from .send import send_whatsapp_broadcast
from .zip_upload import ZipUploadMixin

__all__ = [
    "COUNT_STATUSES",
    "MonthlyReportAdmin",
    "resend_failed_broadcasts",
    "send_whatsapp_broadcast",
]


@admin.register(MonthlyReport)
class MonthlyReportAdmin(
    ClassroomScopedMixin,
    MonthlyReportProgressMixin,
    MonthlyReportFilesMixin,
    ZipUploadMixin,
    admin.ModelAdmin,
):
    # The name says class and period; the room goes to the progress, which must fit.
    list_display = ["__str__", "delivery"]
    list_filter = ["year", "month", ("classroom", ClassroomFilter)]
    list_select_related = ["classroom"]
    show_facets = admin.ShowFacets.NEVER  # a COUNT per year, month and class: 17 queries, not 11
    actions = [send_whatsapp_broadcast, resend_failed_broadcasts]
    change_form_template = "admin/reports/monthlyreport/change_form.html"

    class Media:
        css = {"all": ["reports/progress.css", "reports/report-files.css"]}
        js = ["reports/progress.js"]

    def get_urls(self):
        # Before the default URLs: "<path:object_id>/" would otherwise swallow "progress/".
        return [
            path(
                "progress/",
                self.admin_site.admin_view(self.progress_view),
                name="reports_monthlyreport_progress",
            ),
            *self.file_urls(),
            path(
                "<path:object_id>/revoke-links/",
                self.admin_site.admin_view(self.revoke_links_view),
                name="reports_monthlyreport_revoke_links",
            ),
            *super().get_urls(),
        ]

    def progress_view(self, request):
        return monthly_report_progress(request, model_admin=self)

    def revoke_links_view(self, request, object_id):
        return revoke_report_links(request, object_id, model_admin=self)

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            _say_if_sending_is_held(request)
        response = super().changelist_view(request, extra_context)
        # The page's progress in one aggregate query, whatever the number of reports or
        # rows; attached before the (lazy) template renders the delivery column.
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if changelist is not None:
            reports = list(changelist.result_list)  # evaluated once; the template reuses it
            progress = broadcast_progress(monthly_report_ids=[report.pk for report in reports])
            rows_links = self._rows_links(request)
            for report in reports:
                report.delivery_progress = progress.get(report.pk, Progress())
                report.delivery_rows_links = rows_links
        return response

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if change and obj is not None:
            if request.method == "GET":
                _say_if_sending_is_held(request)
            progress = broadcast_progress(monthly_report_ids=[obj.pk]).get(obj.pk, Progress())
            rows_links = self._rows_links(request)
            context["delivery_progress"] = self._progress_widget(
                obj, progress, rows_links=rows_links
            )
            context.update(self._undelivered(request, obj, progress, rows_links=rows_links))
            context.update(self._report_files(request, obj))
            context.update(self._follow_up(request, obj, progress, rows_links=rows_links))
            context["can_revoke_links"] = bool(
                progress.shows_opened and self.has_manage_report_files_permission(request)
            )
            context["can_send"] = (
                progress.state == ProgressState.NOT_SENT
                and self.has_send_whatsapp_permission(request)
            )
            context["can_resend_failed"] = bool(
                progress.failed
                and not progress.archived
                and self.has_send_whatsapp_permission(request)
            )
            if (
                progress.unknown
                and not progress.archived
                and self.has_send_whatsapp_permission(request)
            ):
                # Only for those who may resend them: the link says to check, then resend.
                context["unknown_broadcasts_url"] = self._broadcasts_url(obj, status="unknown")
            if not context["adminform"].form.fields:
                # Nothing editable here (read-only for this user, or for this report once
                # sent): no Save button that saves nothing.
                context.update(
                    show_save=False, show_save_and_continue=False, show_save_and_add_another=False
                )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_readonly_fields(self, request, obj=None):
        # Once messages about a report went out, its class and period are what parents
        # were told: changing them would make the record say something else.
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and report_has_broadcasts(monthly_report=obj):
            fields += [name for name in ("classroom", "month", "year") if name not in fields]
        return fields

    def get_deleted_objects(self, objs, request):
        # Deleting a report whose messages went out would drop the record of who was told
        # (the rows lose their report, the archive goes with it) and let the same class
        # and month be added and sent again: every parent told twice. Django's own
        # "cannot delete" page lists these, on the report page and for "delete selected".
        objs = list(objs)
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        sent = reports_with_broadcasts(monthly_reports=objs)
        protected = [
            *protected,
            *(
                _(
                    "%(report)s: WhatsApp messages to parents were made for this report. The "
                    "record of who was told must stay, so it cannot be deleted."
                )
                % {"report": report}
                for report in objs
                if report.pk in sent
            ),
        ]
        return deleted, model_count, perms_needed, protected

    def has_send_whatsapp_permission(self, request):
        return request.user.has_perm("reports.send_whatsapp_broadcast")

    def has_manage_report_files_permission(self, request):
        # Upload, replace and remove report files, and revoke the links to them: admins.
        return request.user.has_perm("reports.manage_report_files")
