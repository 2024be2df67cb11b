"""The report page's ZIP upload: choose a ZIP, read its preview, confirm to store the files.

Like the student import, the upload is kept between the preview and the confirmation
(reports.zip_uploads): another user, or another report's page, cannot confirm it. It is
deleted on confirm and when its preview offers nothing to store. The work is the
service's (reports.services.zip_import); this view only moves the file and shows the
answers.
"""

import logging

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from ..services.zip_import import ZipRefused, report_zip_preview, report_zip_store
from ..zip_uploads import (
    kept_file_remove,
    kept_upload_claim,
    kept_upload_path,
    kept_upload_remove,
    kept_upload_save,
)

logger = logging.getLogger(__name__)


class ZipUploadForm(forms.Form):
    zip_file = forms.FileField(
        label=gettext_lazy("ZIP file"),
        help_text=gettext_lazy(
            "One file per student, named by the student's NIS: S001.pdf, S001 - Ahmad "
            "Fauzi.pdf or s001_ahmad.pdf. PDF, JPEG or PNG."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )

    def clean_zip_file(self):
        upload = self.cleaned_data["zip_file"]
        if upload.size > settings.REPORT_ZIP_MAX_BYTES:
            raise forms.ValidationError(
                _("The ZIP is %(size)s; at most %(max)s can be uploaded at once. Split it.")
                % {
                    "size": filesizeformat(upload.size),
                    "max": filesizeformat(settings.REPORT_ZIP_MAX_BYTES),
                }
            )
        return upload


class ZipUploadMixin:
    """MonthlyReportAdmin's ZIP upload page: ``<report id>/upload-zip/``."""

    def get_urls(self):
        return [
            path(
                "<int:object_id>/upload-zip/",
                self.admin_site.admin_view(self.upload_zip_view),
                name="reports_monthlyreport_upload_zip",
            ),
            *super().get_urls(),
        ]

    def upload_zip_view(self, request, object_id):
        if not self.has_manage_report_files_permission(request):
            raise PermissionDenied
        # Another class's report is "not found", as on its page (ClassroomScopedMixin).
        report = self.get_queryset(request).filter(pk=object_id).first()
        if report is None:
            raise Http404
        if request.method == "POST" and "upload" in request.POST:
            return self._confirm(request, report)
        form = ZipUploadForm()
        preview = upload = None
        if request.method == "POST":
            form = ZipUploadForm(request.POST, request.FILES)
            if form.is_valid():
                upload = kept_upload_save(
                    form.cleaned_data["zip_file"], report=report, user=request.user
                )
                try:
                    preview = report_zip_preview(
                        monthly_report=report,
                        zip_file=kept_upload_path(upload, report=report, user=request.user),
                    )
                except ZipRefused as err:
                    form.add_error("zip_file", str(err))
                if preview is None or not preview.to_store:
                    kept_upload_remove(upload, report=report, user=request.user)
                    upload = None
        return self._render(request, report, form=form, preview=preview, upload=upload)

    def _confirm(self, request, report):
        kept = kept_upload_claim(request.POST.get("upload", ""), report=report, user=request.user)
        upload_url = reverse(
            "admin:reports_monthlyreport_upload_zip",
            args=[report.pk],
            current_app=self.admin_site.name,
        )
        if kept is None:
            messages.error(
                request,
                _(
                    "This preview is no longer available (it was stored already, or left for "
                    "more than %(minutes)d minutes): nothing was stored. Upload the ZIP again."
                )
                % {"minutes": settings.REPORT_ZIP_PREVIEW_MAX_AGE // 60},
            )
            return HttpResponseRedirect(upload_url)
        try:
            outcome = report_zip_store(monthly_report=report, zip_file=kept, user=request.user)
        except ZipRefused as err:
            messages.error(request, str(err))
            return HttpResponseRedirect(upload_url)
        finally:
            kept_file_remove(kept)
        messages.success(
            request,
            ngettext(
                "%(n)d file stored, %(replaced)d replacing an earlier file.",
                "%(n)d files stored, %(replaced)d replacing an earlier file.",
                outcome.stored,
            )
            % {"n": outcome.stored, "replaced": outcome.replaced},
        )
        return HttpResponseRedirect(
            reverse(
                "admin:reports_monthlyreport_change",
                args=[report.pk],
                current_app=self.admin_site.name,
            )
        )

    def _render(self, request, report, *, form, preview, upload):
        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            "title": _("Upload report files (ZIP)"),
            "subtitle": str(report),
            "opts": opts,
            "original": report,
            "form": form,
            "preview": preview,
            "upload": upload,
            "max_size": filesizeformat(settings.REPORT_ZIP_MAX_BYTES),
            "max_entries": settings.REPORT_ZIP_MAX_ENTRIES,
            "file_max_size": filesizeformat(settings.REPORT_FILE_MAX_BYTES),
            "media": self.media,
        }
        if preview is not None:
            context["confirm_label"] = ngettext(
                "Store %(n)d file", "Store %(n)d files", len(preview.to_store)
            ) % {"n": len(preview.to_store)}
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/reports/monthlyreport/upload_zip.html", context)
