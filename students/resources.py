"""Students to and from CSV/XLSX files (django-import-export): one row per student, by NIS."""

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from import_export import fields, resources, widgets
from import_export.formats import base_formats
from import_export.results import RowResult

from .models import Classroom, Student
from .phones import InvalidPhoneNumber, normalize_phone
from .services import student_queue_whatsapp_check

COLUMNS = ("nis", "full_name", "classroom", "parent_name", "parent_phone")


def column_label(column):
    """A column as the student form names it ("Nomor WhatsApp orang tua"), for an admin."""
    try:
        return capfirst(Student._meta.get_field(column).verbose_name)
    except FieldDoesNotExist:
        return column


def file_row(row_number):
    """The spreadsheet's row number of the library's data row ``row_number`` (row 1: headings)."""
    return row_number + 1


class TextWidget(widgets.CharWidget):
    """A cell as stripped text; a whole number typed in a spreadsheet loses its ``.0``."""

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return super().clean(value, row, **kwargs).strip()


class PhoneWidget(TextWidget):
    """The parent's number in its one stored form (``6281234567890``); empty is allowed."""

    def clean(self, value, row=None, **kwargs):
        raw = super().clean(value, row, **kwargs)
        if not raw:
            return ""
        try:
            return normalize_phone(raw)
        except InvalidPhoneNumber as err:
            # A ValueError becomes this row's validation error on the column (import_instance).
            raise ValueError(
                _("Invalid WhatsApp number: %(reason)s") % {"reason": err.reason}
            ) from err


class ClassroomWidget(widgets.ForeignKeyWidget):
    """An existing classroom by name (case aside); an unknown name refuses the row.

    Creating classrooms from a file would turn a typo ("TK A Melatti") into a new class
    whose parents no monthly report reaches.
    """

    def __init__(self):
        super().__init__(Classroom, field="name")

    def clean(self, value, row=None, **kwargs):
        name = TextWidget().clean(value)
        if not name:
            raise ValueError(_("The classroom is empty."))
        matches = list(Classroom.objects.filter(name__iexact=name))
        exact = [classroom for classroom in matches if classroom.name == name]
        if exact:
            return exact[0]
        if len(matches) == 1:
            return matches[0]
        raise ValueError(
            _('There is no classroom named "%(name)s". Add it under Classrooms first.')
            % {"name": name}
        )


class StudentCSV(base_formats.CSV):
    """CSV with commas or semicolons: Excel set to Indonesian saves with ``;``."""

    def create_dataset(self, in_stream, **kwargs):
        if isinstance(in_stream, bytes) and self.encoding:
            in_stream = in_stream.decode(self.encoding)
        header = in_stream.lstrip("\ufeff").partition("\n")[0]
        if "delimiter" not in kwargs and header.count(";") > header.count(","):
            kwargs["delimiter"] = ";"
        return super().create_dataset(in_stream, **kwargs)


class StudentRowResult(RowResult):
    """A row's outcome with its data row number, to name it in the preview."""

    number = None


class StudentResource(resources.ModelResource):
    """One row per student; the NIS finds the student, so importing again updates."""

    nis = fields.Field(attribute="nis", column_name="nis", widget=TextWidget())
    full_name = fields.Field(attribute="full_name", column_name="full_name", widget=TextWidget())
    classroom = fields.Field(
        attribute="classroom", column_name="classroom", widget=ClassroomWidget()
    )
    parent_name = fields.Field(
        attribute="parent_name", column_name="parent_name", widget=TextWidget()
    )
    parent_phone = fields.Field(
        attribute="parent_phone", column_name="parent_phone", widget=PhoneWidget()
    )

    class Meta:
        model = Student
        fields = COLUMNS
        import_order = COLUMNS
        export_order = COLUMNS
        import_id_fields = ("nis",)
        # Shown by the library in its messages ("Select at least 1 field for …"), not the class.
        name = Student._meta.verbose_name_plural
        # The model's own checks too: NIS required and at most 10 characters, name required.
        clean_model_instances = True
        # Only blank lines are skipped (skip_row); they need no line in the preview.
        report_skipped = False

    def get_row_result_class(self):
        return StudentRowResult

    def after_import_row(self, row, row_result, **kwargs):
        row_result.number = kwargs.get("row_number")

    def get_queryset(self):
        return super().get_queryset().select_related("classroom")

    def after_save_instance(self, instance, row, **kwargs):
        if instance.parent_phone and instance.whatsapp_registered is None:
            self._to_check.add(instance.pk)

    def after_import(self, dataset, result, **kwargs):
        """Queue the WhatsApp check of new and changed numbers; it runs after the commit.

        Fonnte is never called here: a rolled-back import (or the preview's dry run)
        queues nothing, and a slow Fonnte cannot slow the import.
        """
        if kwargs.get("dry_run") or not self._to_check:
            return
        ids = Student.objects.filter(
            pk__in=self._to_check, whatsapp_registered__isnull=True
        ).exclude(parent_phone="")
        student_queue_whatsapp_check(student_ids=list(ids.values_list("pk", flat=True)))

    def before_import(self, dataset, **kwargs):
        """Accept headings as typed ("NIS ", "Full_Name"); require the NIS column."""
        self._nis_rows = {}
        self._to_check = set()
        dataset.headers = [
            str(header).strip().lower() if header is not None else ""
            for header in dataset.headers or []
        ]
        if "nis" not in dataset.headers:
            raise ValueError(
                _(
                    "The file has no “nis” column. The first row must hold the column "
                    "names: %(columns)s."
                )
                % {"columns": ", ".join(COLUMNS)}
            )

    def import_instance(self, instance, row, **kwargs):
        """Also refuse a NIS that an earlier row of the same file already used."""
        errors = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as err:
            errors = err.update_error_dict(errors)
        row_number = kwargs.get("row_number")
        if instance.nis and "nis" not in errors:
            first = self._nis_rows.setdefault(instance.nis, row_number)
            if first != row_number:
                errors["nis"] = [
                    ValidationError(
                        _("NIS %(nis)s is already on row %(row)s of this file."),
                        code="duplicate_in_file",
                        params={"nis": instance.nis, "row": file_row(first)},
                    )
                ]
        if errors:
            raise ValidationError(errors)

    def skip_row(self, instance, original, row, import_validation_errors=None):
        """A blank line (often trailing in spreadsheets) is no student, and no error."""
        return all(TextWidget().clean(row.get(column)) == "" for column in COLUMNS)
