"""A report's files on its admin page, one child at a time: who may see, upload, replace,
remove and open them, and the stored files going with their rows (issue 13)."""

import re
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from broadcasts.models import MonthlyReportBroadcast
from reports.models import MonthlyReport, ReportFile, report_file_storage
from reports.services.files import report_file_remove
from students.models import Classroom, Student
from tests.conftest import PDF, store_report_file

REPORTS = "/admin/reports/monthlyreport/"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
DOCX = b"PK\x03\x04 a docx renamed to .pdf"


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def files_section(client, report) -> str:
    response = client.get(f"{REPORTS}{report.pk}/change/")
    assert response.status_code == 200
    match = re.search(
        r'<div class="module rf-module" id="report-files">.*?</table>',
        response.content.decode(),
        re.S,
    )
    assert match, "no report files section on the report page"
    return match.group(0)


def upload_url(report, student):
    return f"{REPORTS}{report.pk}/files/{student.pk}/upload/"


def remove_url(report, student):
    return f"{REPORTS}{report.pk}/files/{student.pk}/remove/"


def file_url(report, student):
    return f"{REPORTS}{report.pk}/files/{student.pk}/"


def upload(client, report, student, data, name="S001.pdf"):
    return client.post(upload_url(report, student), {"file": SimpleUploadedFile(name, data)})


def all_stored() -> set[str]:
    """Every file in the report files' folder (the tests share one)."""
    root = Path(settings.STORAGES["report_files"]["OPTIONS"]["location"])
    return {str(path) for path in root.rglob("*") if path.is_file()}


def stored(report_file) -> bytes:
    with report_file_storage().open(report_file.file.name) as handle:
        return handle.read()


@pytest.fixture
def member(django_user_model, client):
    def login(group):
        user = django_user_model.objects.create_user(group, password="pw", is_staff=True)
        user.groups.add(Group.objects.get(name=group))
        client.force_login(user)
        return user

    return login


@pytest.fixture
def teacher(member, report):
    """A guru of the report's class, logged in."""
    user = member("guru")
    report.classroom.teachers.add(user)
    return user


@pytest.fixture
def other_report(db):
    return MonthlyReport.objects.create(
        classroom=Classroom.objects.create(name="TK B Mawar"), month=11, year=2026
    )


# --- Permissions ----------------------------------------------------------------------------


def test_the_admin_groups_may_manage_report_files_and_teachers_may_not(db):
    for name in ("admin", "super_admin"):
        group = Group.objects.get(name=name)
        assert group.permissions.filter(codename="manage_report_files").exists()
    assert (
        not Group.objects.get(name="guru")
        .permissions.filter(codename="manage_report_files")
        .exists()
    )


def test_the_roles_made_again_after_a_flush_keep_the_permission(db):
    from tests.conftest import restore_roles

    Group.objects.all().delete()  # as a transactional test's flush leaves them

    restore_roles()

    for name in ("admin", "super_admin"):
        assert (
            Group.objects.get(name=name).permissions.filter(codename="manage_report_files").exists()
        )
    assert (
        not Group.objects.get(name="guru")
        .permissions.filter(codename="manage_report_files")
        .exists()
    )


def test_the_zip_button_shows_for_who_manages_files_once_the_zip_page_exists(
    client, member, report, make_student
):
    from django.urls import reverse as django_reverse

    def reverse(name, *args, **kwargs):
        if name == "admin:reports_monthlyreport_upload_zip":
            return f"/zip/{kwargs['args'][0]}/"
        return django_reverse(name, *args, **kwargs)

    member("admin")
    make_student()
    with mock.patch("reports.admin.files.reverse", side_effect=reverse):
        section = files_section(client, report)

    assert f'href="/zip/{report.pk}/"' in section and "Unggah ZIP berkas laporan" in section


# --- Upload, replace, remove as an admin ----------------------------------------------------


def test_an_admin_uploads_replaces_and_removes_a_childs_file_each_in_the_history(
    client, member, report, make_student, django_capture_on_commit_callbacks
):
    user = member("admin")
    student = make_student(name="Aisyah Putri")
    make_student(name="Bima Saputra")

    response = upload(client, report, student, PDF, name="rapor aisyah.pdf")

    assert response.status_code == 302
    assert response["Location"] == f"{REPORTS}{report.pk}/change/#report-files"
    report_file = ReportFile.objects.get(monthly_report=report, student=student)
    assert stored(report_file) == PDF and report_file.uploaded_by == user
    section = text_of(files_section(client, report))
    assert "1 dari 2 siswa sudah punya berkas" in section
    assert "Aisyah Putri" in section and "PDF" in section and "belum ada berkas" in section

    with django_capture_on_commit_callbacks(execute=True):
        upload(client, report, student, PNG, name="foto.png")

    replaced = ReportFile.objects.get(monthly_report=report, student=student)
    assert replaced.pk == report_file.pk and replaced.content_type == "image/png"
    assert stored(replaced) == PNG
    assert not report_file_storage().exists(report_file.file.name)  # the old file went

    confirm = client.get(remove_url(report, student))
    assert confirm.status_code == 200
    assert "Hapus berkas laporan ini?" in confirm.content.decode()
    assert ReportFile.objects.filter(pk=replaced.pk).exists()  # asking removes nothing

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(remove_url(report, student))

    assert response.status_code == 302
    assert not ReportFile.objects.exists()
    assert not report_file_storage().exists(replaced.file.name)
    history = list(
        LogEntry.objects.filter(object_id=str(report.pk))
        .order_by("pk")
        .values_list("user_id", "change_message")
    )
    assert history == [
        (user.pk, "Berkas laporan Aisyah Putri ditambahkan (rapor aisyah.pdf)."),
        (user.pk, "Berkas laporan Aisyah Putri diganti (foto.png)."),
        (user.pk, "Berkas laporan Aisyah Putri dihapus."),
    ]


def test_a_refused_file_says_why_and_stores_nothing(client, member, report, make_student):
    member("admin")
    student = make_student(name="Aisyah Putri")
    before = all_stored()

    response = upload(client, report, student, DOCX, name="rapor.pdf")

    page = client.get(response["Location"]).content.decode()
    assert "Aisyah Putri: berkas tidak disimpan." in page
    assert "bukan PDF, JPEG, atau PNG" in page
    assert not ReportFile.objects.exists()
    assert all_stored() == before  # no orphan file
    assert not LogEntry.objects.exists()


def test_a_refused_replacement_keeps_the_file_there_was(client, member, report, make_student):
    user = member("admin")
    student = make_student()
    before = store_report_file(report, student, PDF, user=user)

    upload(client, report, student, DOCX)

    after = ReportFile.objects.get()
    assert after.file.name == before.file.name and stored(after) == PDF


def test_two_admins_adding_a_childs_first_file_at_once_get_a_message_not_an_error(
    client, member, report, make_student
):
    # The other admin's file commits between this upload's look for a file (none yet)
    # and its insert: the unique (report, student) refuses the second row.
    user = member("admin")
    student = make_student(name="Aisyah Putri")
    other = store_report_file(report, student, PNG, "lain.png", user=user)
    before = all_stored()

    with mock.patch("reports.services.files._current_file", return_value=None):
        response = upload(client, report, student, PDF)

    assert response.status_code == 302
    page = text_of(client.get(response["Location"]).content.decode())
    assert "Aisyah Putri: berkas tidak disimpan." in page
    assert "Pada saat yang sama berkas lain untuk anak ini sudah disimpan" in page
    assert ReportFile.objects.get().file.name == other.file.name
    assert stored(other) == PNG
    assert all_stored() == before  # this upload's file was not left behind
    assert LogEntry.objects.count() == 1  # only the other admin's "added"


def test_only_a_child_of_the_reports_class_gets_a_file(
    client, member, report, other_report, make_student
):
    member("admin")
    stranger = make_student(classroom=other_report.classroom)

    assert upload(client, report, stranger, PDF).status_code == 404
    assert not ReportFile.objects.exists()


def test_the_upload_form_accepts_the_report_types_and_removing_needs_a_post(
    client, member, report, make_student
):
    member("admin")
    student = make_student()
    store_report_file(report, student)

    section = files_section(client, report)

    assert 'accept=".pdf,.jpg,.jpeg,.png,' in section and 'enctype="multipart/form-data"' in section
    assert "csrfmiddlewaretoken" in section
    assert client.get(upload_url(report, student)).status_code == 405
    assert ReportFile.objects.exists()


def test_a_child_moved_to_another_class_keeps_their_file_listed(
    client, member, report, other_report, make_student
):
    member("admin")
    student = make_student(name="Citra Lestari")
    store_report_file(report, student)
    Student.objects.filter(pk=student.pk).update(classroom=other_report.classroom)

    section = text_of(files_section(client, report))

    assert "Citra Lestari" in section and "sudah tidak di kelas ini" in section
    assert "0 dari 0 siswa sudah punya berkas" in section


# --- Teachers -------------------------------------------------------------------------------


def test_a_teacher_sees_the_files_of_their_class_read_only(client, teacher, report, make_student):
    with_file, without = make_student(name="Aisyah Putri"), make_student(name="Bima Saputra")
    store_report_file(report, with_file)

    section = files_section(client, report)

    assert "1 dari 2 siswa sudah punya berkas" in text_of(section)
    assert file_url(report, with_file) in section  # they may open it
    assert 'class="rf-upload"' not in section and upload_url(report, without) not in section
    assert remove_url(report, with_file) not in section
    assert "Unggah ZIP" not in section
    assert "Hanya admin sekolah" in section


def test_a_teacher_cannot_upload_or_remove(client, teacher, report, make_student):
    with_file, without = make_student(), make_student()
    report_file = store_report_file(report, with_file)

    assert upload(client, report, without, PDF).status_code == 403
    assert upload(client, report, with_file, PNG).status_code == 403
    assert client.get(remove_url(report, with_file)).status_code == 403
    assert client.post(remove_url(report, with_file)).status_code == 403

    assert list(ReportFile.objects.values_list("pk", flat=True)) == [report_file.pk]
    assert stored(ReportFile.objects.get()) == PDF


def test_a_teacher_reaches_no_file_of_another_class(client, teacher, other_report, make_student):
    student = make_student(classroom=other_report.classroom)
    store_report_file(other_report, student)

    for url in (f"{REPORTS}{other_report.pk}/change/", file_url(other_report, student)):
        response = client.get(url)
        assert response.status_code == 302, url  # "not found", as the report page itself
        assert response["Location"] == "/admin/"
        assert not hasattr(response, "streaming_content")


def test_an_admin_from_another_class_cannot_change_a_reports_file(
    client, django_user_model, report, other_report, make_student
):
    """Managing files does not widen what a user sees: the report must be theirs to see."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("wali", password="pw", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(codename="manage_report_files"),
        Permission.objects.get(codename="view_monthlyreport"),
    )
    report.classroom.teachers.add(user)
    client.force_login(user)
    student = make_student(classroom=other_report.classroom)

    response = upload(client, other_report, student, PDF)

    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert not ReportFile.objects.exists()


# --- The staff view of a file ---------------------------------------------------------------


def test_staff_open_a_file_without_it_counting_as_a_parents_open(
    client, member, report, make_student
):
    member("admin")
    student = make_student()
    store_report_file(report, student, PNG)
    row = MonthlyReportBroadcast.objects.create(
        monthly_report=report,
        student=student,
        phone_number="6281234567890",
        message="m",
        status="sent",
        link_token="t" * 43,
    )

    response = client.get(file_url(report, student))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline;")
    assert f"Laporan-{student.nis}-November-2026.png" in response["Content-Disposition"]
    assert "no-store" in response["Cache-Control"]
    row.refresh_from_db()
    assert row.opened_at is None and row.open_count == 0


def test_a_teacher_opens_a_file_of_their_class(client, teacher, report, make_student):
    student = make_student()
    store_report_file(report, student)

    response = client.get(file_url(report, student))

    assert response.status_code == 200 and b"".join(response.streaming_content) == PDF


def test_behind_nginx_staff_files_are_sent_by_nginx(client, member, report, make_student, settings):
    settings.REPORT_FILES_ACCEL_REDIRECT = "/_report_files/"
    member("admin")
    student = make_student()
    report_file = store_report_file(report, student)

    response = client.get(file_url(report, student))

    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"] == f"/_report_files/{report_file.file.name}"
    assert response["Content-Type"] == "application/pdf"


def test_a_child_without_a_file_is_not_found(client, member, report, make_student):
    member("admin")
    assert client.get(file_url(report, make_student())).status_code == 404


def test_a_row_whose_stored_file_is_gone_is_not_found(client, member, report, make_student):
    member("admin")
    student = make_student()
    report_file_storage().delete(store_report_file(report, student).file.name)

    assert client.get(file_url(report, student)).status_code == 404


def test_a_user_without_any_report_permission_opens_no_file(
    client, django_user_model, report, make_student
):
    student = make_student()
    store_report_file(report, student)
    client.force_login(django_user_model.objects.create_user("tamu", password="pw", is_staff=True))

    response = client.get(file_url(report, student))

    assert response.status_code in (302, 403)
    assert not hasattr(response, "streaming_content")


# --- A large class --------------------------------------------------------------------------


def page_queries(client, report) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"{REPORTS}{report.pk}/change/").status_code == 200
    return len(queries)


def test_the_sections_queries_do_not_grow_with_the_class(client, member, report, make_student):
    user = member("admin")
    for _ in range(10):
        store_report_file(report, make_student(), user=user)
    small = page_queries(client, report)
    for _ in range(30):
        store_report_file(report, make_student(), user=user)
    make_student()  # and one without a file

    large = page_queries(client, report)

    assert large == small
    assert "40 dari 41 siswa sudah punya berkas" in text_of(files_section(client, report))


# --- Stored files go with their rows ---------------------------------------------------------


def test_deleting_a_report_deletes_its_stored_files(
    client, member, report, make_student, django_capture_on_commit_callbacks
):
    member("admin")  # the school's admin, not a superuser
    names = [store_report_file(report, make_student()).file.name for _ in range(2)]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{REPORTS}{report.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not MonthlyReport.objects.exists() and not ReportFile.objects.exists()
    assert not any(report_file_storage().exists(name) for name in names)


def test_deleting_a_student_deletes_their_stored_files(
    report, other_report, make_student, django_capture_on_commit_callbacks
):
    student, other = make_student(), make_student()
    theirs = [
        store_report_file(report, student).file.name,
        store_report_file(other_report, student).file.name,
    ]
    kept = store_report_file(report, other).file.name

    with django_capture_on_commit_callbacks(execute=True):
        student.delete()

    assert not any(report_file_storage().exists(name) for name in theirs)
    assert report_file_storage().exists(kept)


def test_a_deletion_rolled_back_keeps_the_stored_file(
    report, make_student, django_capture_on_commit_callbacks
):
    report_file = store_report_file(report, make_student())

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        report.delete()
        raise RuntimeError("the deletion fails after the rows went")

    assert ReportFile.objects.filter(pk=report_file.pk).exists()
    assert report_file_storage().exists(report_file.file.name)


def test_removing_a_file_deletes_it_from_storage_once(
    report, make_student, django_capture_on_commit_callbacks
):
    report_file = store_report_file(report, make_student())
    storage = report_file_storage()

    with (
        mock.patch.object(storage, "delete", wraps=storage.delete) as delete,
        django_capture_on_commit_callbacks(execute=True),
    ):
        report_file_remove(report_file=report_file, user=None)

    delete.assert_called_once_with(report_file.file.name)
    assert not storage.exists(report_file.file.name)
