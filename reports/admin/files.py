"""The report page's files, one child at a time: the list, a file for staff to open, and
(for those with reports.manage_report_files) upload, replace and remove.

Every view reads the report through the admin's queryset (another class's report is "not
found", as on the report page itself) and changes files only through reports.services.files,
which checks the content and writes the report's history.
"""

import logging

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.translation import gettext as _

from students.models import Student
from tkassalam.language import school_language

from ..file_response import report_file_download_name, report_file_response
from ..filetypes import JPEG, PDF, PNG
from ..models import ReportFile
from ..selectors import report_file_for, report_files_by_student
from ..services.files import ReportFileRefused, report_file_remove, report_file_store

logger = logging.getLogger(__name__)

#: What the page calls each type (the accept list of the upload form is the same three).
TYPE_LABELS = {PDF: "PDF", JPEG: "JPEG", PNG: "PNG"}
ACCEPT = ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"

#: Where the page scrolls back to after a change: the files' section.
SECTION_ANCHOR = "#report-files"


class MonthlyReportFilesMixin:
    """The report page's "Report files" section and its three views (a mixin of
    MonthlyReportAdmin, whose get_urls puts file_urls() before the default ones)."""

    def file_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/files/<int:student_id>/",
                view(self.report_file_view),
                name="reports_monthlyreport_file",
            ),
            path(
                "<path:object_id>/files/<int:student_id>/upload/",
                view(self.report_file_upload_view),
                name="reports_monthlyreport_file_upload",
            ),
            path(
                "<path:object_id>/files/<int:student_id>/remove/",
                view(self.report_file_remove_view),
                name="reports_monthlyreport_file_remove",
            ),
        ]

    # --- The section on the report page ---------------------------------------------------

    def _report_files(self, request, obj) -> dict:
        """The section's context: a line per child (two queries), the counts, the buttons."""
        can_manage = self.has_manage_report_files_permission(request)
        lines = report_files_by_student(monthly_report=obj)
        rows = []
        for line in lines:
            student, report_file = line.student, line.file
            rows.append(
                {
                    "student": student,
                    "in_class": line.in_class,
                    "file": report_file,
                    "type": TYPE_LABELS.get(report_file.content_type, report_file.content_type)
                    if report_file
                    else "",
                    "size": filesizeformat(report_file.size) if report_file else "",
                    "uploaded_by": _uploader(report_file),
                    "view_url": self._file_url("file", obj, student) if report_file else "",
                    "upload_url": self._file_url("file_upload", obj, student)
                    if can_manage and line.in_class
                    else "",
                    "remove_url": self._file_url("file_remove", obj, student)
                    if can_manage and report_file
                    else "",
                }
            )
        in_class = [line for line in lines if line.in_class]
        return {
            "report_files": rows,
            "report_files_with_file": sum(1 for line in in_class if line.file),
            "report_files_students": len(in_class),
            "report_files_manage": can_manage,
            "report_files_accept": ACCEPT,
            "report_files_zip_url": self._zip_upload_url(obj) if can_manage else "",
        }

    def _file_url(self, name, obj, student):
        return reverse(
            f"admin:reports_monthlyreport_{name}",
            args=[obj.pk, student.pk],
            current_app=self.admin_site.name,
        )

    def _zip_upload_url(self, obj):
        # The ZIP upload is its own view; a deployment without it shows no button.
        try:
            return reverse(
                "admin:reports_monthlyreport_upload_zip",
                args=[obj.pk],
                current_app=self.admin_site.name,
            )
        except NoReverseMatch:
            return ""

    def _report_page(self, obj):
        url = reverse(
            "admin:reports_monthlyreport_change", args=[obj.pk], current_app=self.admin_site.name
        )
        return redirect(url + SECTION_ANCHOR)

    def _report_or_none(self, request, object_id):
        """The report if this user may see it (the admin's queryset), else None."""
        return self.get_object(request, unquote(object_id))

    # --- The views ------------------------------------------------------------------------

    def report_file_view(self, request, object_id, student_id):
        """A child's file, for staff who may see the report: not a parent's open."""
        report = self._report_or_none(request, object_id)
        if report is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, report):
            raise PermissionDenied
        report_file = report_file_for(monthly_report_id=report.pk, student_id=student_id)
        if report_file is None:
            raise Http404(_("This child has no report file."))
        try:
            return report_file_response(
                file_name=report_file.file.name,
                content_type=report_file.content_type,
                filename=report_file_download_name(
                    nis=report_file.student.nis,
                    month=report.month,
                    year=report.year,
                    content_type=report_file.content_type,
                ),
            )
        except OSError:  # FileNotFoundError, or another storage's own error
            # The row outlived its file (a backup restored without the files' folder).
            logger.warning(
                "Report file %s of report %s is missing from storage",
                report_file.pk,
                report.pk,
            )
            raise Http404(_("This child has no report file.")) from None

    def report_file_upload_view(self, request, object_id, student_id):
        """POST a file for a child of the report's class: added, or replacing theirs."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_manage_report_files_permission(request):
            raise PermissionDenied
        report = self._report_or_none(request, object_id)
        if report is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        student = get_object_or_404(Student, pk=student_id, classroom_id=report.classroom_id)
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(
                request,
                _("%(student)s: choose a file first.") % {"student": student.full_name},
            )
            return self._report_page(report)
        replacing = report_file_for(monthly_report_id=report.pk, student_id=student.pk)
        try:
            with school_language():  # the history is read by every admin
                report_file_store(
                    monthly_report=report,
                    student=student,
                    content=upload,
                    original_name=upload.name,
                    user=request.user,
                )
        except ReportFileRefused as refused:
            messages.error(
                request,
                _("%(student)s: the file was not stored. %(reason)s")
                % {"student": student.full_name, "reason": refused},
            )
        else:
            message = (
                _("%(student)s: the report file was replaced.")
                if replacing
                else _("%(student)s: the report file was added.")
            )
            messages.success(request, message % {"student": student.full_name})
        return self._report_page(report)

    def report_file_remove_view(self, request, object_id, student_id):
        """GET: are you sure? POST: the child's file is removed (row, then stored file)."""
        if not self.has_manage_report_files_permission(request):
            raise PermissionDenied
        report = self._report_or_none(request, object_id)
        if report is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        report_file = (
            ReportFile.objects.filter(monthly_report=report, student_id=student_id)
            .select_related("student", "uploaded_by")
            .first()
        )
        if report_file is None:
            # Already removed (a second click, another admin): nothing left to confirm.
            messages.info(request, _("This child has no report file any more."))
            return self._report_page(report)
        if request.method == "POST":
            with school_language():
                report_file_remove(report_file=report_file, user=request.user)
            messages.success(
                request,
                _("%(student)s: the report file was removed.")
                % {"student": report_file.student.full_name},
            )
            return self._report_page(report)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Remove this report file?"),
            "opts": self.opts,
            "original": report,
            "report_file": report_file,
            "type": TYPE_LABELS.get(report_file.content_type, report_file.content_type),
            "size": filesizeformat(report_file.size),
            "uploaded_by": _uploader(report_file),
            "view_url": self._file_url("file", report, report_file.student),
            "cancel_url": reverse(
                "admin:reports_monthlyreport_change",
                args=[report.pk],
                current_app=self.admin_site.name,
            )
            + SECTION_ANCHOR,
        }
        return TemplateResponse(
            request, "admin/reports/monthlyreport/report_file_remove.html", context
        )


def _uploader(report_file) -> str:
    if report_file is None or report_file.uploaded_by is None:
        return ""
    user = report_file.uploaded_by
    return user.get_full_name() or user.get_username()
