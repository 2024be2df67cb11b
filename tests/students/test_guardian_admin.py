"""The guardians on the student's page: added, changed and removed inline by the school's
admins; shown, masked, to teachers, who change nothing (issue 14)."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group

from students.models import Guardian, Student
from tests.students.student_pages import STUDENTS, saved, student_data

IBU, IBU_MASKED = "6281234567890", "62812****7890"
AYAH, AYAH_MASKED = "6281311112222", "62813****2222"


@pytest.fixture
def child(make_student, make_guardian):
    """A child with ibu and ayah, each with a number."""
    student = make_student(IBU, name="Aisyah Putri", parent_name="Ibu Siti")
    make_guardian(student, "ayah", AYAH, name="Bapak Budi")
    return student


def post(client, student, *guardians):
    return client.post(
        f"{STUDENTS}{student.pk}/change/",
        student_data(student.classroom, *guardians, nis=student.nis, full_name=student.full_name),
    )


def guardians_of(student):
    return list(
        Guardian.objects.filter(student=student)
        .order_by("pk")
        .values_list("relation", "name", "phone", "receives_messages")
    )


def test_a_new_student_is_saved_with_two_guardians(admin_client, classroom):
    page = admin_client.get(f"{STUDENTS}add/")
    assert page.context["inline_admin_formsets"][0].formset.total_form_count() == 1

    response = admin_client.post(
        f"{STUDENTS}add/",
        student_data(
            classroom,
            {"relation": "ibu", "name": "Ibu Siti", "phone": "0812-3456-7890"},
            {"relation": "ayah", "name": "Bapak Budi", "phone": "+62 813 1111 2222"},
        ),
    )

    assert response.status_code == 302
    assert guardians_of(Student.objects.get()) == [
        ("ibu", "Ibu Siti", IBU, True),
        ("ayah", "Bapak Budi", AYAH, True),
    ]


def test_guardians_are_changed_added_and_removed_on_the_students_page(admin_client, child):
    ibu, ayah = child.guardians.order_by("pk")

    response = post(
        admin_client,
        child,
        saved(ibu, name="Ibu Siti Aminah", receives_messages=False),
        saved(ayah, DELETE=True),
        {"relation": "wali", "name": "Nenek Ani", "phone": "0857-1111-2222"},
    )

    assert response.status_code == 302
    assert guardians_of(child) == [
        ("ibu", "Ibu Siti Aminah", IBU, False),
        ("wali", "Nenek Ani", "6285711112222", True),
    ]
    # The history names who changed, never a number.
    (entry,) = LogEntry.objects.filter(object_id=str(child.pk))
    message = entry.get_change_message()
    assert "Nenek Ani" in message and "Bapak Budi" in message
    assert "628" not in entry.change_message


def test_the_page_shows_each_guardians_check(admin_client, child):
    Guardian.objects.filter(relation="ibu").update(whatsapp_registered=False)

    page = admin_client.get(f"{STUDENTS}{child.pk}/change/").content.decode()

    assert f'value="{IBU}"' in page and f'value="{AYAH}"' in page  # editable, whole
    assert "Wali murid" in page and "Menerima pesan WhatsApp" in page
    assert 'name="guardians-0-whatsapp_registered"' not in page  # read only


@pytest.fixture
def teacher(client, django_user_model, child):
    user = django_user_model.objects.create_user("guru", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="guru"))
    child.classroom.teachers.add(user)
    client.force_login(user)
    return user


def test_a_teacher_sees_the_guardians_masked_and_changes_nothing(client, teacher, child):
    page = client.get(f"{STUDENTS}{child.pk}/change/").content.decode()
    listing = client.get(STUDENTS).content.decode()
    found = client.get(STUDENTS, {"q": "0813-1111-2222"})
    history = client.get(f"{STUDENTS}{child.pk}/history/").content.decode()

    for html in (page, listing, found.content.decode(), history):
        for digits in (IBU, AYAH, "34567890", "11112222"):
            assert digits not in html
    for html in (page, listing):
        assert IBU_MASKED in html and AYAH_MASKED in html
        assert "Bapak Budi" in html and "Ibu Siti" in html
    assert list(found.context["cl"].result_list) == [child]
    assert 'name="guardians-0-phone"' not in page  # no field to read or change
    assert 'name="guardians-MAX_NUM_FORMS" value="0"' in page  # none to add
    assert 'name="guardians-0-DELETE"' not in page

    ibu, ayah = child.guardians.order_by("pk")
    response = post(client, child, saved(ibu, phone="0899-0000-0000"), saved(ayah))
    assert response.status_code == 403
    assert guardians_of(child)[0][2] == IBU


def test_the_list_shows_each_guardian_with_relation_name_and_number(admin_client, child):
    Guardian.objects.filter(relation="ayah").update(receives_messages=False)

    page = admin_client.get(STUDENTS).content.decode()
    cell = page.split('class="field-guardian_list">')[1].split("</td>")[0]

    assert cell.index("Ibu · Ibu Siti") < cell.index(IBU) < cell.index("Ayah · Bapak Budi")
    assert cell.index("Ayah · Bapak Budi") < cell.index(AYAH)
    assert "st-opted-out" in cell and "Ayah · Bapak Budi (tidak menerima pesan)" in cell


def test_a_guardian_with_neither_name_nor_number_is_refused(admin_client, classroom, child):
    # Only the relation chosen (or the box unticked): nobody to name and no number to send
    # to. Saved, it would count as "a guardian without a number" in the list and the send.
    response = admin_client.post(
        f"{STUDENTS}add/", student_data(classroom, {"relation": "ayah"}, nis="N0099")
    )
    assert response.status_code == 200
    assert "Isi nama wali murid atau nomor WhatsApp-nya." in response.content.decode()
    assert not Student.objects.filter(nis="N0099").exists()

    ibu, ayah = child.guardians.order_by("pk")
    response = post(admin_client, child, saved(ibu), saved(ayah, name="", phone=""))
    assert response.status_code == 200
    assert guardians_of(child)[1] == ("ayah", "Bapak Budi", AYAH, True)

    # Removing such a guardian is what the delete box is for: still allowed.
    response = post(admin_client, child, saved(ibu), saved(ayah, name="", phone="", DELETE=True))
    assert response.status_code == 302
    assert len(guardians_of(child)) == 1
