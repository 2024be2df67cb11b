import contextlib
import copy
import logging

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin
from import_export.formats import base_formats
from import_export.forms import ConfirmImportForm, ImportForm, SelectableFieldsExportForm

from notifications.whatsapp import SenderRejected, WhatsAppError
from notifications.whatsapp.base import VALIDATE_CHUNK

from . import services
from .forms import StudentForm
from .imports import ImportUploadExpired, check_import_file
from .models import Classroom, Student
from .phones import is_valid_phone
from .resources import (
    StudentCSV,
    StudentResource,
    accepted_headings,
    column_label,
    file_row,
)
from .search import PhoneSearchMixin
from .visibility import ClassroomFilter, ClassroomScopedMixin, MaskedPhoneMixin, masked

logger = logging.getLogger(__name__)

# Rows in error named in the message after an import of the valid rows; the rest are counted.
ROWS_IN_ERROR_LISTED = 20
# Rows in error named with their reasons in the preview's verdict, at the top of the page
# (all of them are listed below it): few enough to leave the confirm button in sight.
ROWS_IN_ERROR_IN_VERDICT = 3
# Students without a number named in the verdict; the rows to import below flag them all.
WITHOUT_PHONE_IN_VERDICT = 5


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
        return f"{column_label(field.attribute)} ({field.column_name})"


class WhatsAppCheckFilter(admin.BooleanFieldListFilter):
    """Yes / No / not checked: an unchecked number is named as in the "On WhatsApp" column."""

    def __init__(self, field, *args, **kwargs):
        super().__init__(field, *args, **kwargs)
        # Django names the null choice from the field's choices, else "Unknown".
        self.field = copy.copy(field)
        self.field.choices = [(None, capfirst(gettext("not checked")))]


@admin.register(Classroom)
class ClassroomAdmin(ClassroomScopedMixin, admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]
    filter_horizontal = ["teachers"]
    classroom_field = "pk"


@admin.register(Student)
class StudentAdmin(
    ClassroomScopedMixin, MaskedPhoneMixin, PhoneSearchMixin, ImportExportModelAdmin
):
    form = StudentForm
    # Fits a 1366 px laptop beside the menu and the filters: the parent's name and number
    # share a column, the WhatsApp column says whether the number is wrong too, and
    # list.css shortens long names to two lines (whole on the student's page).
    list_display = ["nis", "full_name", "classroom", "parent", "on_whatsapp"]
    # The name is what an admin looks for and clicks, not only the NIS.
    list_display_links = ["nis", "full_name"]
    list_filter = [("classroom", ClassroomFilter), ("whatsapp_registered", WhatsAppCheckFilter)]
    readonly_fields = ["whatsapp_registered", "whatsapp_checked_at"]
    actions = ["check_whatsapp_numbers"]
    search_fields = ["nis", "full_name", "parent_name", "parent_phone"]
    phone_search_field = "parent_phone"
    masked_fields = {"parent_phone": "parent_phone_masked", "parent": "parent_masked"}
    list_select_related = ["classroom"]
    list_per_page = 50
    # The facet counts ("Tampilkan hitungan") are a COUNT per class and per WhatsApp check,
    # growing with the classrooms: 12 queries instead of 8 with five classes.
    show_facets = admin.ShowFacets.NEVER

    resource_classes = [StudentResource]
    import_formats = [StudentCSV, base_formats.XLSX]
    export_formats = [base_formats.CSV, base_formats.XLSX]
    import_form_class = StudentImportForm
    export_form_class = StudentExportForm
    confirm_form_class = StudentConfirmImportForm
    import_template_name = "admin/students/student/import.html"

    class Media:
        css = {"all": ["students/list.css"]}

    @admin.display(description=_("parent's WhatsApp number"))
    def parent_phone_masked(self, obj):
        return masked(obj.parent_phone)

    @admin.display(description=_("parent"), ordering="parent_name")
    def parent(self, obj):
        return self._parent(obj, obj.parent_phone or "-")

    @admin.display(description=_("parent"), ordering="parent_name")
    def parent_masked(self, obj):
        return self._parent(obj, masked(obj.parent_phone))

    def _parent(self, obj, phone):
        return format_html(
            '<span class="st-clip" title="{}">{}</span><span class="st-phone">{}</span>',
            obj.parent_name,
            obj.parent_name,
            phone,
        )

    @admin.display(description=_("On WhatsApp"), ordering="whatsapp_registered")
    def on_whatsapp(self, obj):
        if not obj.parent_phone:
            return "-"
        if not is_valid_phone(obj.parent_phone):
            # Flagged: no message can go to it until the number is corrected.
            return format_html(
                '<strong class="wa-invalid" style="color: var(--error-fg)">{}</strong>',
                gettext("wrong number"),
            )
        if obj.whatsapp_registered is None:
            return format_html('<span class="wa-unchecked">{}</span>', gettext("not checked"))
        if obj.whatsapp_registered:
            return gettext("yes")
        # Flagged: this parent gets no message until the number is corrected.
        return format_html(
            '<strong class="wa-not-registered" style="color: var(--error-fg)">{}</strong>',
            gettext("NOT on WhatsApp"),
        )

    @admin.action(description=_("Check WhatsApp numbers"), permissions=["change"])
    def check_whatsapp_numbers(self, request, queryset):
        """Ask Fonnte which selected numbers have WhatsApp: in the background with Celery."""
        ids = list(queryset.exclude(parent_phone="").values_list("pk", flat=True))
        if not ids:
            self.message_user(
                request, gettext("None of the selected students has a number."), messages.WARNING
            )
            return
        if settings.WHATSAPP_RUNNER == "celery":
            services.student_queue_whatsapp_check(student_ids=ids)
            self.message_user(
                request,
                ngettext(
                    "%(n)d number will be checked in the background: the “On WhatsApp” "
                    "column shows the result in a minute.",
                    "%(n)d numbers will be checked in the background: the “On WhatsApp” "
                    "column shows the result in a minute.",
                    len(ids),
                )
                % {"n": len(ids)},
                messages.SUCCESS,
            )
            return
        self._check_now(request, ids)

    def _check_now(self, request, ids):
        """Without workers (WHATSAPP_RUNNER=cron): check here, one Fonnte call at most."""
        if len(ids) > VALIDATE_CHUNK:
            self.message_user(
                request,
                gettext(
                    "Select at most %(max)d students with a number, or let "
                    "“manage.py check_whatsapp_numbers” check them all."
                )
                % {"max": VALIDATE_CHUNK},
                messages.WARNING,
            )
            return
        try:
            outcome = services.student_check_whatsapp(student_ids=ids)
        except services.WhatsAppCheckBusy:
            self.message_user(
                request,
                gettext("Another WhatsApp number check is running. Try again in a minute."),
                messages.WARNING,
            )
        except SenderRejected as err:
            self.message_user(
                request,
                gettext(
                    "Fonnte refused the check (%(reason)s): check FONNTE_API_TOKEN and the "
                    "device in the Fonnte dashboard."
                )
                % {"reason": err.reason},
                messages.ERROR,
            )
        except WhatsAppError as err:
            self.message_user(
                request,
                gettext("The numbers could not be checked now (%(reason)s). Try again later.")
                % {"reason": err.reason},
                messages.ERROR,
            )
        else:
            # Numbers without WhatsApp, or unanswered, mean parents left without messages.
            level = (
                messages.WARNING if outcome.not_registered or outcome.unknown else messages.SUCCESS
            )
            self.message_user(request, check_message(outcome), level)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # A new or changed number is unchecked (Student.save): check it after the commit.
        if obj.parent_phone and obj.whatsapp_registered is None:
            services.student_queue_whatsapp_check(student_ids=[obj.pk])

    # --- Import: who, and what a file with rows in error does ------------------------------

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


def check_message(outcome):
    """What a finished check found, for the admin."""
    return gettext(
        "WhatsApp check finished: %(registered)d on WhatsApp, %(not_registered)d not on "
        "WhatsApp, %(unknown)d not answered."
    ) % {
        "registered": outcome.registered,
        "not_registered": outcome.not_registered,
        "unknown": outcome.unknown,
    }


def preview_rows(result):
    """The preview's rows with the spreadsheet's row numbers: in error, and to be written;
    the columns named as the student form names them."""
    return {
        "student_columns": [column_label(column) for column in result.diff_headers],
        "student_invalid_rows": [
            {"row": file_row(row.number), "errors": row_reasons(row), "values": row.values}
            for row in result.invalid_rows
        ],
        "student_error_rows": [
            {"row": file_row(error.number), "error": error.error}
            for _line, errors in result.row_errors()
            for error in errors
        ],
        "student_valid_rows": [
            {
                "row": file_row(row.number),
                "import_type": row.import_type,
                "diff": row.diff,
                "name": row.student_name,
                "without_phone": row.without_phone,
            }
            for row in result.valid_rows()
        ],
    }


def preview_verdict(result, rows, *, upload):
    """The preview's first lines: what will be imported, what is refused (the first rows
    with their reasons) and who will get no message; the confirm button's words."""
    valid, invalid = rows["student_valid_rows"], rows["student_invalid_rows"]
    file = upload.get("import_file")
    verdict = {
        "student_file_name": getattr(file, "name", ""),
        "student_refused_count": len(invalid),
        "student_refused_first": [
            gettext("Row %(row)s: %(reasons)s")
            % {"row": item["row"], "reasons": ", ".join(item["errors"])}
            for item in invalid[:ROWS_IN_ERROR_IN_VERDICT]
        ],
        "student_refused_more": max(len(invalid) - ROWS_IN_ERROR_IN_VERDICT, 0),
    }
    if result.has_errors() or not valid:
        return verdict
    without_phone = [item for item in valid if item["without_phone"]]
    shown = [
        gettext("row %(row)s: %(name)s") % {"row": item["row"], "name": item["name"]}
        for item in without_phone[:WITHOUT_PHONE_IN_VERDICT]
    ]
    if len(without_phone) > len(shown):
        shown.append(gettext("and %(count)d more") % {"count": len(without_phone) - len(shown)})
    verdict.update(
        student_import_count=len(valid),
        student_import_summary=ngettext(
            "%(n)d row will be imported (to add: %(new)d, to update: %(updated)d).",
            "%(n)d rows will be imported (to add: %(new)d, to update: %(updated)d).",
            len(valid),
        )
        % {"n": len(valid), "new": result.totals["new"], "updated": result.totals["update"]},
        student_without_phone_count=len(without_phone),
        student_without_phone=ngettext(
            "%(n)d student without a WhatsApp number will not receive the message (%(rows)s).",
            "%(n)d students without a WhatsApp number will not receive the message (%(rows)s).",
            len(without_phone),
        )
        % {"n": len(without_phone), "rows": "; ".join(shown)},
        student_confirm_label=(
            ngettext(
                "Import the %(n)d valid row",
                "Import the %(n)d valid rows",
                len(valid),
            )
            % {"n": len(valid)}
            if invalid
            else gettext("Confirm import")
        ),
    )
    return verdict


def row_reasons(row):
    """A refused row's reasons, each after its column's label: ``["NIS: …", …]``."""
    return [
        message if field == NON_FIELD_ERRORS else f"{column_label(field)}: {message}"
        for field, field_messages in row.error_dict.items()
        for message in field_messages
    ]


def describe_invalid_row(row):
    """``Row 4: Parent's WhatsApp number: Invalid …`` for the message after an import."""
    return gettext("Row %(row)s: %(reasons)s") % {
        "row": file_row(row.number),
        "reasons": ", ".join(row_reasons(row)),
    }
