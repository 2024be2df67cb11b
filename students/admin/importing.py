"""The student file's import and export in the admin: the forms, and who may import and how."""

import contextlib
import logging

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext
from import_export.formats import base_formats
from import_export.forms import ConfirmImportForm, ImportForm, SelectableFieldsExportForm

from ..import_columns import accepted_headings, column_label, file_row
from ..imports import ImportUploadExpired, check_import_file
from .import_preview import describe_invalid_row, preview_rows, preview_verdict

logger = logging.getLogger(__name__)

# Rows in error named in the message after an import of the valid rows; the rest are counted.
ROWS_IN_ERROR_LISTED = 20


class StudentImportForm(ImportForm):
    """The upload step: the file and its format. What to do with rows in error is asked in
    the preview, which keeps the upload for the confirm step."""

    def __init__(self, formats, resources, **kwargs):
        super().__init__(formats, resources, **kwargs)
        self.formats = formats

    def clean(self):
        """A file too large or with too many rows is refused before the library reads it."""
        cleaned_data = super().clean()
        upload, chosen = cleaned_data.get("import_file"), cleaned_data.get("format")
        if upload is not None and chosen:
            is_xlsx = issubclass(self.formats[int(chosen)], base_formats.XLSX)
            try:
                check_import_file(upload, is_xlsx=is_xlsx)
            except ValidationError as err:
                self.add_error("import_file", err)
        return cleaned_data


class StudentConfirmImportForm(ConfirmImportForm):
    """The confirm step: ``valid_rows_only`` is set by the preview of a file with rows in
    error (its button imports the valid rows only)."""

    valid_rows_only = forms.BooleanField(required=False, widget=forms.HiddenInput)


class StudentExportForm(SelectableFieldsExportForm):
    """The export's column choices named as on the student form, with the file's heading."""

    def _get_field_label(self, resource, field_name):
        # The library's label is the heading in title case ("Full Name"): English.
        field = resource.fields.get(field_name)
        return f"{column_label(field_name)} ({field.column_name})"


class StudentImportMixin:
    """StudentAdmin's import: who may import, and what a file with rows in error does."""

    def has_import_permission(self, request):
        """Importing adds and changes students: it needs both permissions."""
        return self.has_add_permission(request) and self.has_change_permission(request)

    def has_export_permission(self, request):
        """The file holds every parent's number, whole: its own permission (the admin groups')."""
        return self.has_view_permission(request) and request.user.has_perm(
            "students.export_student"
        )

    def import_action(self, request, **kwargs):
        """Upload and preview; with "only the valid rows" a file with rows in error can go on.

        The library offers the confirm step only for a file without errors. The preview's
        context is completed here rather than copying the library's view.
        """
        response = super().import_action(request, **kwargs)
        context = getattr(response, "context_data", None) or {}
        if "fields_list" in context:
            # The library lists the export's English headings; a file may use these or others.
            headings = accepted_headings()
            context["student_headings"] = headings
            context["fields_list"] = [
                (name, [names[0] for _label, names in headings])
                for name, _columns in context["fields_list"]
            ]
        import_form, result = context.get("form"), context.get("result")
        if result is not None:
            self._log_unexpected_errors(result)
            if "confirm_form" not in context and not result.has_errors() and result.valid_rows():
                # Rows in error: the preview offers the valid ones, read from the kept upload
                # on confirm, so the admin never chooses the file again.
                context["confirm_form"] = self.create_confirm_form(request, import_form=import_form)
            if "confirm_form" in context:
                context["confirm_form"].initial["valid_rows_only"] = result.has_validation_errors()
            rows = preview_rows(result)
            context.update(rows)
            context.update(preview_verdict(result, rows, upload=import_form.cleaned_data))
        if import_form is not None and import_form.is_bound and "confirm_form" not in context:
            self._discard_upload(import_form)
        return response

    def process_import(self, request, **kwargs):
        """The confirm step; a preview whose upload is gone imports nothing and says so."""
        try:
            return super().process_import(request, **kwargs)
        except ImportUploadExpired:
            messages.error(
                request,
                gettext(
                    "This preview is no longer available (it was imported already, or left "
                    "for more than %(minutes)d minutes): nothing was imported. Upload the "
                    "file again."
                )
                % {"minutes": settings.STUDENT_IMPORT_PREVIEW_MAX_AGE // 60},
            )
            return HttpResponseRedirect(
                reverse("admin:students_student_import", current_app=self.admin_site.name)
            )

    def get_import_data_kwargs(self, **kwargs):
        """On confirm, a row in error undoes the whole import unless the admin chose otherwise.

        Each row is saved in its own savepoint and an unexpected error rolls everything
        back either way (import_data), so no row is ever half written.
        """
        form = kwargs.get("form")
        data_kwargs = super().get_import_data_kwargs(**kwargs)
        if isinstance(form, StudentConfirmImportForm):
            data_kwargs["rollback_on_validation_errors"] = not form.cleaned_data["valid_rows_only"]
        return data_kwargs

    def process_result(self, result, request):
        """After confirm: report what was written, or that nothing was."""
        if result.has_errors() or (
            result.has_validation_errors() and not self._confirmed_valid_rows_only(request)
        ):
            # Rolled back (import_data): no log entries, no "Import finished".
            self._log_unexpected_errors(result)
            messages.error(
                request,
                gettext(
                    "Nothing was imported: the file has rows in error. Upload it again to see them."
                ),
            )
            return HttpResponseRedirect(
                reverse("admin:students_student_import", current_app=self.admin_site.name)
            )
        return super().process_result(result, request)

    def add_success_message(self, result, request):
        totals = result.totals
        messages.success(
            request,
            gettext("Import finished. Students added: %(new)d; updated: %(updated)d.")
            % {"new": totals["new"], "updated": totals["update"]},
        )
        if result.invalid_rows:
            listed = [
                describe_invalid_row(row) for row in result.invalid_rows[:ROWS_IN_ERROR_LISTED]
            ]
            more = len(result.invalid_rows) - len(listed)
            if more:
                listed.append(gettext("and %(count)d more") % {"count": more})
            messages.warning(
                request,
                gettext("Rows in error, not imported (%(count)d): %(rows)s")
                % {"count": len(result.invalid_rows), "rows": "; ".join(listed)},
            )

    def _confirmed_valid_rows_only(self, request):
        form = self.create_confirm_form(request)
        return form.is_valid() and form.cleaned_data["valid_rows_only"]

    def _discard_upload(self, import_form):
        """Drop the stored upload (parents' numbers) when there is no confirm step to read it."""
        upload = getattr(import_form, "cleaned_data", {}).get("import_file")
        name = getattr(upload, "tmp_storage_name", None)
        if not name:
            return
        storage = self.get_tmp_storage_class()(name=name, **self.get_tmp_storage_class_kwargs())
        with contextlib.suppress(OSError):
            storage.remove()

    def _log_unexpected_errors(self, result):
        for error in result.base_errors:
            logger.warning("Student import: the file was refused: %s", error.error)
        for _line, errors in result.row_errors():
            for error in errors:
                logger.error(
                    "Student import: row %s failed",
                    file_row(error.number),
                    exc_info=error.error,
                )
