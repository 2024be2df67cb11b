"""The student file's columns: the headings each may have, and how the admin names them."""

import re

from django.core.exceptions import FieldDoesNotExist
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy

from .import_guardians import PARENT
from .models import GuardianRelation, Student

STUDENT_COLUMNS = ("nis", "full_name", "classroom")
#: The one-parent columns of earlier files: one guardian (students.import_guardians).
PARENT_COLUMNS = ("parent_name", "parent_phone")
#: Each relation's name and number columns: ``ayah_name``, ``ayah_phone``, ``ibu_name``, …
RELATION_COLUMNS = {
    relation: (f"{relation}_name", f"{relation}_phone") for relation in GuardianRelation.values
}
#: The file's groups of guardian columns, each a (name, number) pair.
GUARDIAN_GROUPS = {PARENT: PARENT_COLUMNS, **RELATION_COLUMNS}
GUARDIAN_COLUMNS = tuple(column for pair in RELATION_COLUMNS.values() for column in pair)
RELATION_OF_COLUMN = {
    column: relation for relation, pair in RELATION_COLUMNS.items() for column in pair
}
COLUMNS = STUDENT_COLUMNS + PARENT_COLUMNS + GUARDIAN_COLUMNS
#: What the export writes: the one-parent columns are read only, for earlier files.
EXPORT_COLUMNS = STUDENT_COLUMNS + GUARDIAN_COLUMNS

_NUMBER_HEADINGS = ("nomor_{}", "nomor_whatsapp_{}", "nomor_hp_{}", "no_hp_{}", "telepon_{}")

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
    "ayah_name": ("nama_ayah", "nama_bapak"),
    "ayah_phone": tuple(heading.format("ayah") for heading in _NUMBER_HEADINGS),
    "ibu_name": ("nama_ibu",),
    "ibu_phone": tuple(heading.format("ibu") for heading in _NUMBER_HEADINGS),
    "wali_name": ("nama_wali",),
    "wali_phone": tuple(heading.format("wali") for heading in _NUMBER_HEADINGS),
}
COLUMN_OF_HEADING = {key: column for column, keys in HEADINGS.items() for key in keys}
#: The heading the export writes for each column, and that the import reads it under.
HEADING = {column: keys[0] for column, keys in HEADINGS.items()}

# The guardian columns named as the student's page names a guardian's fields.
COLUMN_LABELS = {
    "parent_name": gettext_lazy("parent's name"),
    "parent_phone": gettext_lazy("parent's WhatsApp number"),
    "ayah_name": gettext_lazy("father's name"),
    "ayah_phone": gettext_lazy("father's WhatsApp number"),
    "ibu_name": gettext_lazy("mother's name"),
    "ibu_phone": gettext_lazy("mother's WhatsApp number"),
    "wali_name": gettext_lazy("guardian's name"),
    "wali_phone": gettext_lazy("guardian's WhatsApp number"),
}


def heading_key(heading):
    """A heading as compared: ``"Nama  Lengkap "`` → ``nama_lengkap``, ``"No. HP"`` → ``no_hp``."""
    text = "" if heading is None else str(heading)
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")


def accepted_headings():
    """``[(label, headings)]`` of every column, for the import page."""
    return [(column_label(column), HEADINGS[column]) for column in COLUMNS]


def column_label(column):
    """A column, or its heading, as the student's page names it ("Nomor WhatsApp ayah")."""
    column = COLUMN_OF_HEADING.get(column, column)
    if column in COLUMN_LABELS:
        return capfirst(COLUMN_LABELS[column])
    try:
        return capfirst(Student._meta.get_field(column).verbose_name)
    except FieldDoesNotExist:
        return column


def file_row(row_number):
    """The spreadsheet's row number of the library's data row ``row_number`` (row 1: headings)."""
    return row_number + 1


def column_pair(group):
    """``nama_ayah + nomor_ayah``: a group's two headings, as the export writes them."""
    return " + ".join(HEADING[column] for column in GUARDIAN_GROUPS[group])
