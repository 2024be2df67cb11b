"""The student list opens a student from the name as well as from the NIS."""

STUDENTS_URL = "/admin/students/student/"


def test_the_students_name_is_a_link_to_the_student(admin_client, make_student):
    student = make_student(name="Aisyah Putri")

    page = admin_client.get(STUDENTS_URL).content.decode()

    assert f'<a href="{STUDENTS_URL}{student.pk}/change/">Aisyah Putri</a>' in page
    assert f'<a href="{STUDENTS_URL}{student.pk}/change/">{student.nis}</a>' in page
