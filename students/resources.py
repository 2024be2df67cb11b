"""Students to and from CSV/XLSX files (django-import-export): one row per student, by NIS."""

import re

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from import_export import fields, resources, widgets
from import_export.formats import base_formats
from import_export.results import RowResult

from .models import Classroom, Student
from .phones import InvalidPhoneNumber, normalize_phone
from .services import student_queue_whatsapp_check
from .validators import FORMULA_STARTS

COLUMNS = ("nis", "full_name", "classroom", "parent_name", "parent_phone")

# The headings a file's first row may give each column, compared by heading_key(): Indonesian
# first (the form's label and the message placeholders' names among them; the first is the
# heading the export writes), then the English one earlier exports wrote, so that those
# files import back. Listed on the import page.
HEADINGS = {
    "nis": ("nis",),
    "full_name": ("nama_lengkap", "nama_siswa", "full_name"),
    "classroom": ("kelas", "classroom"),
    "parent_name": ("nama_orang_tua", "parent_name"),
    "parent_phone": (
        "nomor_whatsapp",
        "nomor_whatsapp_orang_tua",
        "nomor_hp",
        "no_hp",
        "telepon",
        "parent_phone",
    ),
}
_COLUMN_OF_HEADING = {key: column for column, keys in HEADINGS.items() for key in keys}
#: The heading the export writes for each column, and that the import reads it under.
HEADING = {column: keys[0] for column, keys in HEADINGS.items()}


def heading_key(heading):
    """A heading as compared: ``"Nama  Lengkap "`` → ``nama_lengkap``, ``"No. HP"`` → ``no_hp``."""
    text = "" if heading is None else str(heading)
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")


def accepted_headings():
    """``[(label, headings)]`` of every column, for the import page."""
    return [(column_label(column), HEADINGS[column]) for column in COLUMNS]


def column_label(column):
    """A column, or its heading, as the student form names it ("Nomor WhatsApp orang tua")."""
    column = _COLUMN_OF_HEADING.get(column, column)
    try:
        return capfirst(Student._meta.get_field(column).verbose_name)
    except FieldDoesNotExist:
        return column


def file_row(row_number):
    """The spreadsheet's row number of the library's data row ``row_number`` (row 1: headings)."""
    return row_number + 1


def escape_cell(value):
    """A text a spreadsheet would run as a formula, with an apostrophe before it (OWASP).

    ``=1+1`` → ``'=1+1``. A text that is already apostrophes before such a character
    (``'=1``) gets one more, so that unescape_cell gives every value back as it was.
    The apostrophe is part of the cell's text, in CSV and XLSX alike: openpyxl stores a
    text beginning with ``'`` as text, never as a formula.
    """
    if isinstance(value, str) and value.lstrip("'").startswith(FORMULA_STARTS):
        return "'" + value
    return value


def unescape_cell(text):
    """The value escape_cell wrote: only the one apostrophe it added is taken off."""
    if text.startswith("'") and text.lstrip("'").startswith(FORMULA_STARTS):
        return text[1:]
    return text


class TextWidget(widgets.CharWidget):
    """A cell as stripped text: a whole number loses its ``.0``, escape_cell's apostrophe goes."""

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return unescape_cell(super().clean(value, row, **kwargs).strip())


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
    """A row's outcome with its data row number and its student's name, to name it in the
    preview, and whether the student is left without a number (so without messages)."""

    number = None
    student_name = ""
    without_phone = False


class StudentResource(resources.ModelResource):
    """One row per student; the NIS finds the student, so importing again updates."""

    nis = fields.Field(attribute="nis", column_name=HEADING["nis"], widget=TextWidget())
    full_name = fields.Field(
        attribute="full_name", column_name=HEADING["full_name"], widget=TextWidget()
    )
    classroom = fields.Field(
        attribute="classroom", column_name=HEADING["classroom"], widget=ClassroomWidget()
    )
    parent_name = fields.Field(
        attribute="parent_name", column_name=HEADING["parent_name"], widget=TextWidget()
    )
    parent_phone = fields.Field(
        attribute="parent_phone", column_name=HEADING["parent_phone"], widget=PhoneWidget()
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
        row_result.student_name = TextWidget().clean(row.get(HEADING["full_name"]))
        row_result.without_phone = not TextWidget().clean(row.get(HEADING["parent_phone"]))

    def get_queryset(self):
        return super().get_queryset().select_related("classroom")

    def export_field(self, field, instance, **kwargs):
        """Every exported cell, whatever its column: never a live formula (escape_cell)."""
        return escape_cell(super().export_field(field, instance, **kwargs))

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
        """Name the columns by their headings (HEADINGS); a file missing one reads no row."""
        self._nis_rows = {}
        self._to_check = set()
        typed = {}
        headers = []
        for heading in dataset.headers or []:
            key = heading_key(heading)
            column = _COLUMN_OF_HEADING.get(key)
            if column is None:
                headers.append(key)
                continue
            if column in typed:
                del dataset[:]
                raise ValueError(
                    _("Two columns are “%(label)s”: “%(first)s” and “%(second)s”. Keep one.")
                    % {
                        "label": column_label(column),
                        "first": typed[column],
                        "second": str(heading).strip(),
                    }
                )
            typed[column] = str(heading).strip()
            headers.append(HEADING[column])
        dataset.headers = headers
        missing = [column for column in COLUMNS if column not in typed]
        if missing:
            # Without the rows, the error names the columns once instead of failing each row.
            del dataset[:]
            raise ValueError(
                " ".join(
                    _("The file has no column “%(label)s” (accepted names: %(headings)s).")
                    % {"label": column_label(column), "headings": ", ".join(HEADINGS[column])}
                    for column in missing
                )
                + " "
                + _("The first row of the file must hold the column names.")
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
        return all(TextWidget().clean(row.get(HEADING[column])) == "" for column in COLUMNS)
