"""The student list's search: NIS, names, and a guardian's name or number in any form staff
type; the list's query count stays fixed however many students, guardians and classes."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from students.models import Classroom, Guardian, Student

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
def test_a_guardians_number_typed_in_any_form_finds_the_student(admin_client, students, term):
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


def test_the_second_guardians_number_and_name_find_the_child(admin_client, students, make_guardian):
    make_guardian(students[1], "ayah", "6281399998888", name="Bapak Hendra")

    assert found(admin_client, "0813-9999-8888") == [students[1].nis]
    assert found(admin_client, "Hendra") == [students[1].nis]


def test_two_guardians_matching_list_the_child_once(admin_client, students, make_guardian):
    # Ayah and ibu sharing one phone, and both named "Santoso".
    make_guardian(students[0], "ayah", "6281234567890", name="Bapak Santoso")
    Guardian.objects.filter(student=students[0], relation="ibu").update(name="Ibu Santoso")

    for term in ("0812-3456-7890", "Santoso"):
        response = admin_client.get(CHANGELIST, {"q": term})
        cl = response.context["cl"]
        assert [s.nis for s in cl.result_list].count(students[0].nis) == 1, term
        assert cl.result_count == len(cl.result_list), term


def queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def fill(classrooms, per_classroom):
    """Students with two guardians each (ibu and ayah), in every WhatsApp state."""
    for c in range(classrooms):
        classroom = Classroom.objects.create(name=f"Kelas {c}")
        students = Student.objects.bulk_create(
            Student(nis=f"Q{c:02d}{i:04d}", full_name=f"Siswa {i}", classroom=classroom)
            for i in range(per_classroom)
        )
        Guardian.objects.bulk_create(
            Guardian(
                student=student,
                relation=relation,
                name=f"{relation} {i}",
                phone=("6281234567890", "", "0812")[(i + offset) % 3]
                if offset
                else "6281234567890",
                whatsapp_registered=(None, True, False)[(i + offset) % 3],
                receives_messages=bool((i + offset) % 4),
            )
            for i, student in enumerate(students)
            for offset, relation in enumerate(("ibu", "ayah"))
        )


@pytest.mark.parametrize(
    "params",
    [
        "",
        "?q=Siswa",
        "?q=6281234567890",
        "?wa=not_registered",
        "?wa=unchecked",
        "?wa=nobody",
        # The facet counts ("Tampilkan hitungan"): a COUNT per class and per WhatsApp check.
        "?_facets=True",
    ],
)
def test_the_query_count_does_not_depend_on_the_number_of_students(admin_client, db, params):
    fill(classrooms=1, per_classroom=3)  # a child in each state
    few = queries(admin_client, CHANGELIST + params)
    Student.objects.all().delete()
    Classroom.objects.all().delete()
    fill(classrooms=5, per_classroom=30)  # 150 students, 300 guardians, more than a page
    many = queries(admin_client, CHANGELIST + params)
    assert many == few
    assert many <= 8  # as before guardians: the page's guardians are one query


def test_a_teachers_list_queries_as_few(client, django_user_model, db):
    from django.contrib.auth.models import Group

    teacher = django_user_model.objects.create_user("guru", password="pw", is_staff=True)
    teacher.groups.add(Group.objects.get(name="guru"))
    client.force_login(teacher)

    def page():
        for classroom in Classroom.objects.all():
            classroom.teachers.add(teacher)
        return queries(client, CHANGELIST)

    fill(classrooms=1, per_classroom=3)
    few = page()
    Student.objects.all().delete()
    Classroom.objects.all().delete()
    fill(classrooms=3, per_classroom=30)
    assert page() == few
