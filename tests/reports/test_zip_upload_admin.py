"""The report's ZIP upload page: upload, preview, confirm; who may; the kept upload."""

import io
import os
import re
import time
import zipfile

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from reports.models import MonthlyReport, ReportFile
from students.models import Classroom, Student
from tests.conftest import PDF


@pytest.fixture(autouse=True)
def zip_dir(settings, tmp_path):
    settings.REPORT_ZIP_DIR = tmp_path / "report-zips"
    return settings.REPORT_ZIP_DIR


def manage_permission():
    """reports.manage_report_files (made by its migration once merged; here if missing)."""
    permission, _ = Permission.objects.get_or_create(
        codename="manage_report_files",
        content_type=ContentType.objects.get_for_model(MonthlyReport),
        defaults={"name": "Can upload, replace and remove report files"},
    )
    return permission


def upload_url(report):
    return reverse("admin:reports_monthlyreport_upload_zip", args=[report.pk])


def zip_upload(files, name="kelas.zip"):
    path_like = io.BytesIO()
    with zipfile.ZipFile(path_like, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry, data in files:
            archive.writestr(entry, data)
    return SimpleUploadedFile(name, path_like.getvalue(), content_type="application/zip")


@pytest.fixture
def pupils(report):
    return [
        Student.objects.create(nis=f"S00{n}", full_name=name, classroom=report.classroom)
        for n, name in ((1, "Ahmad Fauzi"), (2, "Budi Santoso"), (3, "Citra Lestari"))
    ]


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("kepala", "k@example.com", "pw")


def kept_files(zip_dir):
    return sorted(os.listdir(zip_dir)) if zip_dir.exists() else []


def preview(client, report, files):
    response = client.post(upload_url(report), {"zip_file": zip_upload(files)})
    assert response.status_code == 200
    return response


def test_upload_preview_confirm_stores_and_removes_the_kept_zip(
    client, superuser, report, pupils, zip_dir
):
    client.force_login(superuser)
    page = client.get(upload_url(report))
    assert page.status_code == 200
    assert "Unggah berkas laporan (ZIP)" in page.content.decode()

    response = preview(
        client,
        report,
        [("S001 - Ahmad.pdf", PDF), ("s002_budi.PDF", PDF), ("X9.pdf", PDF), ("S003.pdf", b"no")],
    )
    html = response.content.decode()
    assert "2 berkas akan disimpan (baru: 2, mengganti berkas lama: 0)" in html
    assert "Simpan 2 berkas" in html
    assert "X9.pdf" in html and "S003.pdf" in html and "Citra Lestari" in html
    assert not ReportFile.objects.exists()
    (kept,) = kept_files(zip_dir)
    assert oct(os.stat(zip_dir / kept).st_mode & 0o777) == "0o600"
    token = re.search(r'name="upload" value="([^"]+)"', html).group(1)
    assert len(token) >= 32 and token in kept

    done = client.post(upload_url(report), {"upload": token, "confirm": "1"}, follow=True)

    assert done.redirect_chain[-1][0] == reverse(
        "admin:reports_monthlyreport_change", args=[report.pk]
    )
    assert "2 berkas disimpan, 0 mengganti berkas lama." in done.content.decode()
    assert set(ReportFile.objects.values_list("student__nis", flat=True)) == {"S001", "S002"}
    assert kept_files(zip_dir) == []

    # The same preview again: gone, nothing stored twice.
    again = client.post(upload_url(report), {"upload": token, "confirm": "1"}, follow=True)
    assert "tidak tersedia" in again.content.decode()


def test_a_second_upload_replaces_and_says_so(client, superuser, report, pupils):
    client.force_login(superuser)
    for _round in range(2):
        html = preview(client, report, [("S001.pdf", PDF)]).content.decode()
        token = re.search(r'name="upload" value="([^"]+)"', html).group(1)
        done = client.post(upload_url(report), {"upload": token}, follow=True)
    assert "1 berkas disimpan, 1 mengganti berkas lama." in done.content.decode()
    assert "mengganti berkas lama" in html
    assert ReportFile.objects.count() == 1


def test_a_refused_zip_says_why_and_keeps_nothing(client, superuser, report, pupils, zip_dir):
    client.force_login(superuser)
    response = preview(client, report, [("S001.pdf", PDF), ("../../x.pdf", PDF)])
    html = response.content.decode()
    assert "keluar dari foldernya" in html and 'name="upload"' not in html
    assert kept_files(zip_dir) == [] and not ReportFile.objects.exists()


def test_a_zip_over_the_upload_limit_is_refused(client, superuser, report, pupils, settings):
    settings.REPORT_ZIP_MAX_BYTES = 100
    client.force_login(superuser)
    html = preview(client, report, [("S001.pdf", PDF * 10)]).content.decode()
    assert "paling besar 100" in html and not ReportFile.objects.exists()


def test_a_preview_with_nothing_to_store_offers_no_button(
    client, superuser, report, pupils, zip_dir
):
    client.force_login(superuser)
    html = preview(client, report, [("X9.pdf", PDF)]).content.decode()
    assert "Tidak ada berkas dari ZIP ini yang dapat disimpan" in html
    assert 'name="confirm"' not in html and kept_files(zip_dir) == []


def test_another_users_preview_cannot_be_confirmed(
    client, superuser, django_user_model, report, pupils, zip_dir
):
    client.force_login(superuser)
    html = preview(client, report, [("S001.pdf", PDF)]).content.decode()
    token = re.search(r'name="upload" value="([^"]+)"', html).group(1)
    other = django_user_model.objects.create_superuser("yayasan", "y@example.com", "pw")
    client.force_login(other)

    response = client.post(upload_url(report), {"upload": token}, follow=True)

    assert "tidak tersedia" in response.content.decode()
    assert not ReportFile.objects.exists() and len(kept_files(zip_dir)) == 1


def test_an_expired_preview_stores_nothing_and_is_purged(
    client, superuser, report, pupils, zip_dir, settings
):
    client.force_login(superuser)
    html = preview(client, report, [("S001.pdf", PDF)]).content.decode()
    token = re.search(r'name="upload" value="([^"]+)"', html).group(1)
    (kept,) = kept_files(zip_dir)
    old = time.time() - settings.REPORT_ZIP_PREVIEW_MAX_AGE - 10
    os.utime(zip_dir / kept, (old, old))

    response = client.post(upload_url(report), {"upload": token}, follow=True)

    assert "tidak tersedia" in response.content.decode()
    assert not ReportFile.objects.exists() and kept_files(zip_dir) == []


def test_an_old_abandoned_upload_is_purged_by_the_next_one(
    client, superuser, report, pupils, zip_dir, settings
):
    client.force_login(superuser)
    preview(client, report, [("S001.pdf", PDF)])
    (abandoned,) = kept_files(zip_dir)
    old = time.time() - settings.REPORT_ZIP_PREVIEW_MAX_AGE - 10
    os.utime(zip_dir / abandoned, (old, old))
    preview(client, report, [("S002.pdf", PDF)])
    assert abandoned not in kept_files(zip_dir) and len(kept_files(zip_dir)) == 1


def test_a_teacher_may_not_upload(client, django_user_model, report, pupils, zip_dir):
    guru = django_user_model.objects.create_user("guru", password="pw", is_staff=True)
    guru.groups.add(Group.objects.get(name="guru"))
    report.classroom.teachers.add(guru)
    client.force_login(guru)

    assert client.get(upload_url(report)).status_code == 403
    response = client.post(upload_url(report), {"zip_file": zip_upload([("S001.pdf", PDF)])})

    assert response.status_code == 403
    assert not ReportFile.objects.exists() and kept_files(zip_dir) == []


def test_a_teacher_cannot_confirm_an_admins_preview(
    client, django_user_model, superuser, report, pupils, zip_dir
):
    client.force_login(superuser)
    html = preview(client, report, [("S001.pdf", PDF)]).content.decode()
    token = re.search(r'name="upload" value="([^"]+)"', html).group(1)
    guru = django_user_model.objects.create_user("guru", password="pw", is_staff=True)
    guru.groups.add(Group.objects.get(name="guru"))
    report.classroom.teachers.add(guru)
    client.force_login(guru)

    assert client.post(upload_url(report), {"upload": token}).status_code == 403

    assert not ReportFile.objects.exists() and len(kept_files(zip_dir)) == 1


def test_another_class_report_is_not_found(client, django_user_model, report, pupils):
    """Someone who may manage files but sees one class only: the other class's report is 404."""
    user = django_user_model.objects.create_user("wali", password="pw", is_staff=True)
    user.user_permissions.add(
        manage_permission(), Permission.objects.get(codename="view_monthlyreport")
    )
    report.classroom.teachers.add(user)
    other = MonthlyReport.objects.create(
        classroom=Classroom.objects.create(name="TK B Mawar"), month=11, year=2026
    )
    client.force_login(user)

    assert client.get(upload_url(report)).status_code == 200
    assert client.get(upload_url(other)).status_code == 404
    response = client.post(upload_url(other), {"zip_file": zip_upload([("S001.pdf", PDF)])})
    assert response.status_code == 404 and not ReportFile.objects.exists()


@pytest.mark.parametrize("group", ["admin", "super_admin"])
def test_the_admin_groups_may_upload(client, django_user_model, report, pupils, group):
    user = django_user_model.objects.create_user(group, password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    if not user.has_perm("reports.manage_report_files"):
        # Until the permission's migration (another part of this issue) grants it.
        Group.objects.get(name=group).permissions.add(manage_permission())
        user = django_user_model.objects.get(pk=user.pk)
    client.force_login(user)
    html = preview(client, report, [("S001.pdf", PDF)]).content.decode()
    token = re.search(r'name="upload" value="([^"]+)"', html).group(1)
    client.post(upload_url(report), {"upload": token})
    assert ReportFile.objects.get().uploaded_by == user


def test_the_page_fits_a_phone_and_names_the_rule(client, superuser, report, pupils):
    client.force_login(superuser)
    html = client.get(upload_url(report)).content.decode()
    assert 'name="viewport"' in html and "reports/zip_upload.css" in html
    assert "<code>S001 - Ahmad Fauzi.pdf</code>" in html
    assert 'enctype="multipart/form-data"' in html


def test_beat_purges_abandoned_uploads(zip_dir, settings):
    from reports import tasks

    zip_dir.mkdir()
    old, fresh, other = (
        zip_dir / "report-zip-1-1-old.zip",
        zip_dir / "report-zip-1-1-new.zip",
        zip_dir / "notes.txt",
    )
    for path in (old, fresh, other):
        path.write_bytes(b"PK")
    stale = time.time() - settings.REPORT_ZIP_PREVIEW_MAX_AGE - 10
    os.utime(old, (stale, stale))
    os.utime(other, (stale, stale))
    (entry,) = [
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == tasks.purge_report_zip_uploads.name
    ]
    assert entry["schedule"] <= settings.REPORT_ZIP_PREVIEW_MAX_AGE

    assert tasks.purge_report_zip_uploads() == 1
    assert sorted(p.name for p in zip_dir.iterdir()) == sorted([fresh.name, other.name])


def test_the_report_page_links_to_the_zip_upload(client, superuser, report, pupils):
    client.force_login(superuser)
    html = client.get(reverse("admin:reports_monthlyreport_change", args=[report.pk]))
    assert f'href="{upload_url(report)}"' in html.content.decode()


def test_a_second_click_on_confirm_stores_nothing_twice(client, superuser, report, pupils, zip_dir):
    """The kept upload is claimed by renaming it: a confirm that finds it gone stores nothing."""
    from reports.zip_uploads import kept_upload_claim

    client.force_login(superuser)
    html = preview(client, report, [("S001.pdf", PDF)]).content.decode()
    token = re.search(r'name="upload" value="([^"]+)"', html).group(1)
    claimed = kept_upload_claim(token, report=report, user=superuser)  # the first click's
    assert claimed is not None and claimed.exists()

    response = client.post(upload_url(report), {"upload": token}, follow=True)

    assert "tidak tersedia" in response.content.decode()
    assert not ReportFile.objects.exists()
