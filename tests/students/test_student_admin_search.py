"""The student list's search: NIS, names, and a parent's number in any form staff type;
the list's query count stays fixed however many students and classes there are."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from students.models import Classroom, Student

CHANGELIST = reverse("admin:students_student_changelist")


def found(client, term, **params):
    response = client.get(CHANGELIST, {"q": term, **params})
    assert response.status_code == 200
    return sorted(student.nis for student in response.context["cl"].result_list)


@pytest.fixture
def students(make_student):
    """Numbers stored as the form and the import store them (``62…``)."""
    return [
        make_student("6281234567890", name="Aisyah Putri"),
        make_student("6285711112222", name="Budi Santoso", parent_name="Bapak Joko"),
    ]


@pytest.mark.parametrize(
    "term",
    ["0812-3456-7890", "0812 3456 7890", "+62 812 3456 7890", "812 3456 7890", "6281234567890"],
)
def test_a_parents_number_typed_in_any_form_finds_the_student(admin_client, students, term):
    assert found(admin_client, term) == [students[0].nis]


def test_a_number_nobody_has_finds_nobody(admin_client, students):
    assert found(admin_client, "0813-9999-0000") == []


def test_nis_and_names_are_still_searched(admin_client, students):
    assert found(admin_client, students[1].nis) == [students[1].nis]
    assert found(admin_client, "aisyah") == [students[0].nis]
    assert found(admin_client, "Joko") == [students[1].nis]
    assert found(admin_client, "Putri") == [students[0].nis]


def test_a_number_search_keeps_the_list_filters(admin_client, students, make_student):
    other_class = Classroom.objects.create(name="TK B Mawar")
    sibling = make_student("6281234567890", name="Adik Aisyah", classroom=other_class)

    assert found(admin_client, "0812-3456-7890") == [students[0].nis, sibling.nis]
    assert found(admin_client, "0812-3456-7890", classroom__id__exact=other_class.pk) == [
        sibling.nis
    ]


def queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def fill(classrooms, per_classroom):
    for c in range(classrooms):
        classroom = Classroom.objects.create(name=f"Kelas {c}")
        Student.objects.bulk_create(
            Student(
                nis=f"Q{c:02d}{i:04d}",
                full_name=f"Siswa {i}",
                classroom=classroom,
                parent_phone="6281234567890",
                whatsapp_registered=(None, True, False)[i % 3],
            )
            for i in range(per_classroom)
        )


@pytest.mark.parametrize(
    "params",
    [
        "",
        "?q=Siswa",
        "?whatsapp_registered__exact=0",
        # The facet counts ("Tampilkan hitungan"): a COUNT per class and per WhatsApp check.
        "?_facets=True",
    ],
)
def test_the_query_count_does_not_depend_on_the_number_of_students(admin_client, db, params):
    fill(classrooms=1, per_classroom=1)
    few = queries(admin_client, CHANGELIST + params)
    Student.objects.all().delete()
    Classroom.objects.all().delete()
    fill(classrooms=5, per_classroom=30)  # 150 students, more than a page
    many = queries(admin_client, CHANGELIST + params)
    assert many == few
    assert many <= 8
