"""The student list's search: NIS, names, and a parent's number in any form staff type."""

import pytest
from django.urls import reverse

from students.models import Classroom

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
