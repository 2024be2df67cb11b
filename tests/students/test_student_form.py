from students.forms import StudentForm
from students.models import Student


def _data(classroom, phone):
    return {
        "nis": "1234567890",
        "full_name": "Aisyah Putri",
        "classroom": classroom.pk,
        "parent_name": "Ibu Siti",
        "parent_phone": phone,
    }


def test_a_valid_number_is_stored_normalized(classroom):
    form = StudentForm(data=_data(classroom, "0812-3456-7890"))
    assert form.is_valid(), form.errors
    student = form.save()
    assert Student.objects.get(pk=student.pk).parent_phone == "6281234567890"


def test_an_empty_number_is_allowed_and_stays_empty(classroom):
    form = StudentForm(data=_data(classroom, ""))
    assert form.is_valid(), form.errors
    assert form.save().parent_phone == ""


def test_an_invalid_number_is_refused_with_a_clear_message(classroom):
    form = StudentForm(data=_data(classroom, "0812"))
    assert not form.is_valid()
    assert form.has_error("parent_phone", code="invalid_phone")
    assert not Student.objects.exists()


def test_the_student_admin_rejects_an_invalid_number(admin_client, classroom):
    response = admin_client.post("/admin/students/student/add/", _data(classroom, "021 555 1234"))
    assert response.status_code == 200
    assert response.context["adminform"].form.has_error("parent_phone", code="invalid_phone")
    assert not Student.objects.exists()
