"""Students to and from CSV/XLSX files (django-import-export): one row per student, by NIS.

The columns and their headings: students.import_columns. What a row's guardian cells do
to the student's guardians: students.import_guardians.
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from import_export import fields, resources, widgets
from import_export.formats import base_formats
from import_export.results import RowResult

from .import_columns import (
    COLUMN_OF_HEADING,
    COLUMNS,
    EXPORT_COLUMNS,
    GUARDIAN_COLUMNS,
    GUARDIAN_GROUPS,
    HEADING,
    HEADINGS,
    RELATION_OF_COLUMN,
    STUDENT_COLUMNS,
    column_label,
    column_pair,
    file_row,
    heading_key,
)
from .import_guardians import PARENT, UPDATED_FIELDS, GuardianCells, guardians_plan
from .models import Classroom, Guardian, Student
from .phones import InvalidPhoneNumber, normalize_phone
from .services import student_queue_whatsapp_check
from .validators import FORMULA_STARTS

# Guardians read, created and updated per query (one query per this many, not per row).
GUARDIAN_BATCH = 500


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
    preview, and the student's guardians after the import (import_guardians.GuardianLine)."""

    number = None
    student_name = ""
    guardians = ()
    #: No guardian will have a valid number: the student gets no message.
    without_phone = False


class StudentDiff(resources.Diff):
    """The preview's before/after of the student's own columns; guardians are shown by
    their lines (StudentRowResult.guardians)."""

    def __init__(self, resource, instance, new):
        super().__init__(resource, instance, new)
        self.left = self._student_values(resource, instance)

    def compare_with(self, resource, instance):
        self.right = self._student_values(resource, instance)

    @staticmethod
    def _student_values(resource, instance):
        # The library's Diff reads every import field, through Diff._read_field_values
        # called by its class name: not a hook a subclass can override.
        return [resource.fields[column].export(instance) for column in STUDENT_COLUMNS]


def _guardian_field(column):
    """A guardian column: read by import_guardians, written by StudentResource.export_field."""
    return fields.Field(column_name=HEADING[column], widget=TextWidget())


class StudentResource(resources.ModelResource):
    """One row per student; the NIS finds the student, so importing again updates. The
    guardians' columns are matched by relation (students.import_guardians)."""

    nis = fields.Field(attribute="nis", column_name=HEADING["nis"], widget=TextWidget())
    full_name = fields.Field(
        attribute="full_name", column_name=HEADING["full_name"], widget=TextWidget()
    )
    classroom = fields.Field(
        attribute="classroom", column_name=HEADING["classroom"], widget=ClassroomWidget()
    )
    parent_name = _guardian_field("parent_name")
    parent_phone = _guardian_field("parent_phone")
    ayah_name = _guardian_field("ayah_name")
    ayah_phone = _guardian_field("ayah_phone")
    ibu_name = _guardian_field("ibu_name")
    ibu_phone = _guardian_field("ibu_phone")
    wali_name = _guardian_field("wali_name")
    wali_phone = _guardian_field("wali_phone")

    class Meta:
        model = Student
        fields = COLUMNS
        import_order = COLUMNS
        export_order = EXPORT_COLUMNS
        import_id_fields = ("nis",)
        # Shown by the library in its messages ("Select at least 1 field for …"), not the class.
        name = Student._meta.verbose_name_plural
        # The model's own checks too: NIS required and at most 10 characters, name required.
        clean_model_instances = True
        # Only blank lines are skipped (skip_row); they need no line in the preview.
        report_skipped = False

    def get_row_result_class(self):
        return StudentRowResult

    def get_diff_class(self):
        return StudentDiff

    def get_export_order(self):
        # The library would add every declared field; the one-parent columns are not written.
        return EXPORT_COLUMNS

    def get_queryset(self):
        return super().get_queryset().select_related("classroom")

    # --- Export ---------------------------------------------------------------------------

    def filter_export(self, queryset, **kwargs):
        """Each student's guardians in one query per page of students, not one per student."""
        return super().filter_export(queryset, **kwargs).prefetch_related("guardians")

    def export_field(self, field, instance, **kwargs):
        """Every exported cell, whatever its column: never a live formula (escape_cell)."""
        column = self.get_field_name(field)
        if column in GUARDIAN_COLUMNS:
            value = _guardian_cell(instance, column)
        else:
            value = super().export_field(field, instance, **kwargs)
        return escape_cell(value)

    # --- Import ---------------------------------------------------------------------------

    def before_import(self, dataset, **kwargs):
        """Name the columns by their headings (HEADINGS); a file missing one reads no row.
        Then read the file's students' guardians, in one query per GUARDIAN_BATCH."""
        self._nis_rows = {}
        self._cells = {}
        self._plans = {}
        self._to_create = []
        self._to_update = []
        self._to_check = set()
        self._existing = {}
        self._groups = self._read_headings(dataset)
        nis_values = sorted({TextWidget().clean(nis) for nis in dataset[HEADING["nis"]]} - {""})
        guardians = Guardian.objects.order_by("pk")
        for start in range(0, len(nis_values), GUARDIAN_BATCH):
            batch = nis_values[start : start + GUARDIAN_BATCH]
            for guardian in guardians.filter(student__nis__in=batch):
                self._existing.setdefault(guardian.student_id, []).append(guardian)

    def _read_headings(self, dataset):
        """Rename the headings as HEADING names them; the groups of guardian columns there."""
        typed = {}
        headers = []
        for heading in dataset.headers or []:
            key = heading_key(heading)
            column = COLUMN_OF_HEADING.get(key)
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
        groups = [
            group
            for group, pair in GUARDIAN_GROUPS.items()
            if any(column in typed for column in pair)
        ]
        # A group's name column without its number column (or the other way) is a heading
        # misspelt: refused as a missing column, not read as a guardian without a number.
        wanted = [
            *STUDENT_COLUMNS,
            *(column for group in groups for column in GUARDIAN_GROUPS[group]),
        ]
        missing = [column for column in wanted if column not in typed]
        if missing or not groups:
            # Without the rows, the error names the columns once instead of failing each row.
            del dataset[:]
            reasons = [
                _("The file has no column “%(label)s” (accepted names: %(headings)s).")
                % {"label": column_label(column), "headings": ", ".join(HEADINGS[column])}
                for column in missing
            ]
            if not groups:
                reasons.append(
                    _(
                        "The file has no columns for the guardians' names and numbers "
                        "(accepted: %(pairs)s)."
                    )
                    % {"pairs": "; ".join(column_pair(group) for group in GUARDIAN_GROUPS)}
                )
            raise ValueError(
                " ".join([*reasons, _("The first row of the file must hold the column names.")])
            )
        if PARENT in groups and len(groups) > 1:
            del dataset[:]
            raise ValueError(
                _(
                    "The file has both the columns of one parent (%(parent)s) and columns "
                    "of the father, mother or guardian (%(others)s). Keep one kind."
                )
                % {
                    "parent": column_pair(PARENT),
                    "others": ", ".join(column_pair(group) for group in groups if group != PARENT),
                }
            )
        return groups

    def import_instance(self, instance, row, **kwargs):
        """Read the guardians' cells too; refuse a NIS an earlier row of the file used."""
        errors = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as err:
            errors = err.update_error_dict(errors)
        row_number = kwargs.get("row_number")
        self._cells[row_number], guardian_errors = self._read_guardians(row)
        errors.update(guardian_errors)
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

    def _read_guardians(self, row):
        """The row's guardians (GuardianCells), the two cells of each not both empty; and
        the errors of their names and numbers, by column."""
        cells, errors = [], {}
        name_field = Guardian._meta.get_field("name")
        for group in self._groups:
            name_column, phone_column = GUARDIAN_GROUPS[group]
            name = TextWidget().clean(row.get(HEADING[name_column]))
            raw_phone = TextWidget().clean(row.get(HEADING[phone_column]))
            if not name and not raw_phone:
                continue  # left as it is (import_guardians)
            try:
                name_field.clean(name, None)
            except ValidationError as err:
                errors[name_column] = err.error_list
            phone = ""
            if raw_phone:
                try:
                    phone = normalize_phone(raw_phone)
                except InvalidPhoneNumber as err:
                    errors[phone_column] = [
                        ValidationError(
                            _("Invalid WhatsApp number: %(reason)s") % {"reason": err.reason},
                            code="invalid_phone",
                        )
                    ]
            cells.append(GuardianCells(group=group, name=name, phone=phone))
        return cells, errors

    def after_save_instance(self, instance, row, **kwargs):
        """Plan the student's guardians; they are written in bulk after the rows."""
        row_number = kwargs.get("row_number")
        plan = guardians_plan(
            student=instance,
            existing=self._existing.get(instance.pk, []),
            cells=self._cells.pop(row_number, []),
        )
        self._plans[row_number] = plan
        self._to_create.extend(plan.to_create)
        self._to_update.extend(plan.to_update)
        if plan.unchecked:
            self._to_check.add(instance.pk)

    def after_import_row(self, row, row_result, **kwargs):
        row_number = kwargs.get("row_number")
        row_result.number = row_number
        row_result.student_name = TextWidget().clean(row.get(HEADING["full_name"]))
        plan = self._plans.pop(row_number, None)
        if plan is not None:
            row_result.guardians = plan.lines
            row_result.without_phone = not plan.reachable

    def after_import(self, dataset, result, **kwargs):
        """Write the guardians; queue the WhatsApp check of new and changed numbers.

        Fonnte is never called here: the check runs after the commit, so a rolled-back
        import (or the preview's dry run) queues nothing, and a slow Fonnte cannot slow
        the import. The preview writes as the confirm does, and is rolled back.
        """
        # The columns the file has, of the rows in error's values (result.diff_headers).
        result.student_headers = list(dataset.headers or [])
        Guardian.objects.bulk_create(self._to_create, batch_size=GUARDIAN_BATCH)
        Guardian.objects.bulk_update(self._to_update, UPDATED_FIELDS, batch_size=GUARDIAN_BATCH)
        if kwargs.get("dry_run") or not self._to_check:
            return
        student_queue_whatsapp_check(student_ids=sorted(self._to_check))

    def skip_row(self, instance, original, row, import_validation_errors=None):
        """A blank line (often trailing in spreadsheets) is no student, and no error."""
        return all(TextWidget().clean(row.get(HEADING[column])) == "" for column in COLUMNS)


def _guardian_cell(student, column):
    """The export's cell of a guardian column: the student's first guardian of that
    relation (a second one of the same relation is not in the file)."""
    relation = RELATION_OF_COLUMN[column]
    for guardian in student.guardians.all():
        if guardian.relation == relation:
            return guardian.phone if column.endswith("_phone") else guardian.name
    return ""
