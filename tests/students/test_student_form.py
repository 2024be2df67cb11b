"""A guardian's number on the student's page: stored in one form, or refused with the reason."""

from students.forms import GuardianForm
from students.models import Guardian, Student
from tests.students.student_pages import STUDENTS, student_data


def _form(phone):
    return GuardianForm(data={"relation": "ibu", "name": "Ibu Siti", "phone": phone})


def test_a_valid_number_is_stored_normalized(make_student):
    form = _form("0812-3456-7890")
    assert form.is_valid(), form.errors
    form.instance.student = make_student("")
    guardian = form.save()
    assert Guardian.objects.get(pk=guardian.pk).phone == "6281234567890"


def test_an_empty_number_is_allowed_and_stays_empty(db):
    form = _form("")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["phone"] == ""


def test_an_invalid_number_is_refused_with_a_clear_message(db):
    form = _form("0812")
    assert not form.is_valid()
    assert form.has_error("phone", code="invalid_phone")


def test_the_student_admin_rejects_an_invalid_number(admin_client, classroom):
    response = admin_client.post(
        f"{STUDENTS}add/", student_data(classroom, {"name": "Ibu Siti", "phone": "021 555 1234"})
    )
    assert response.status_code == 200
    (formset,) = response.context["inline_admin_formsets"]
    assert formset.formset.forms[0].has_error("phone", code="invalid_phone")
    assert "Nomor WhatsApp tidak valid" in response.content.decode()
    assert not Student.objects.exists()
