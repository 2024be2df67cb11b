"""One answer for a report file, staff's and parents' alike (reports.file_response): nginx
sends it in production, Django streams it in development; and the report files' code
imports nothing from broadcasts/ (issue 13)."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

import broadcasts.parent_views
import reports.admin.files
from reports import file_response
from reports.file_response import report_file_download_name, report_file_response
from reports.models import report_file_storage
from tests.conftest import PDF, store_report_file

ROOT = Path(__file__).resolve().parents[2]


def test_staff_and_parents_files_go_through_the_one_helper():
    assert broadcasts.parent_views.report_file_response is file_response.report_file_response
    assert reports.admin.files.report_file_response is file_response.report_file_response
    for module in (broadcasts.parent_views, reports.admin.files):
        source = Path(module.__file__).read_text()
        assert "X-Accel-Redirect" not in source and "FileResponse(" not in source


def test_production_names_nginxs_internal_location_quoted(settings):
    settings.REPORT_FILES_ACCEL_REDIRECT = "/_report-files/"
    report_file_storage().save("7/a b#?.pdf", ContentFile(PDF))
    response = report_file_response(
        file_name="7/a b#?.pdf", content_type="application/pdf", filename="Laporan-S001.pdf"
    )
    assert response["X-Accel-Redirect"] == "/_report-files/7/a%20b%23%3F.pdf"
    assert response.content == b"" and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="Laporan-S001.pdf"'
    assert response["Cache-Control"] == "private, no-store"


def test_production_refuses_a_file_gone_from_the_folder(settings):
    # nginx would answer its own bare 404: the caller shows its page instead.
    settings.REPORT_FILES_ACCEL_REDIRECT = "/_report-files/"
    with pytest.raises(FileNotFoundError):
        report_file_response(
            file_name="7/gone.pdf", content_type="application/pdf", filename="Laporan.pdf"
        )


def test_development_streams_the_stored_file(settings, db, report, make_student):
    settings.REPORT_FILES_ACCEL_REDIRECT = ""
    student = make_student()
    stored = store_report_file(report, student, name="x.pdf")
    response = report_file_response(
        file_name=stored.file.name,
        content_type=stored.content_type,
        filename="Laporan.pdf",
        as_attachment=True,
    )
    assert response.streaming and "X-Accel-Redirect" not in response
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Disposition"] == 'attachment; filename="Laporan.pdf"'
    response.close()
    with pytest.raises(FileNotFoundError):
        report_file_response(
            file_name="7/gone.pdf", content_type="application/pdf", filename="x.pdf"
        )


@pytest.mark.parametrize(
    ("nis", "content_type", "expected"),
    [
        ("S001", "application/pdf", "Laporan-S001-Maret-2026.pdf"),
        ("A 01/2", "image/jpeg", "Laporan-A-01-2-Maret-2026.jpg"),
        ("", "image/png", "Laporan-Maret-2026.png"),
    ],
)
def test_the_download_name_is_the_nis_and_month_never_the_childs_name(nis, content_type, expected):
    name = report_file_download_name(nis=nis, month=3, year=2026, content_type=content_type)
    assert name == expected


def _broadcasts_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [name for name in names if name.split(".")[0] == "broadcasts"]
    return found


@pytest.mark.parametrize(
    "relative",
    [
        "reports/models.py",
        "reports/filetypes.py",
        "reports/file_response.py",
        "reports/selectors.py",
        "reports/zip_uploads.py",
        "reports/services/files.py",
        "reports/services/zip_import.py",
        "reports/services/retention.py",
    ],
)
def test_the_report_files_code_imports_nothing_from_broadcasts(relative):
    assert _broadcasts_imports(ROOT / relative) == []


# --- Another storage by settings alone (django-storages) ------------------------------------


def test_the_storage_backend_and_its_options_come_from_the_environment():
    """REPORT_FILES_STORAGE and REPORT_FILES_STORAGE_OPTIONS alone choose another backend;
    by default a private folder outside static files."""
    script = (
        "import json, os; os.environ.setdefault('DJANGO_SECRET_KEY', 'x' * 50);"
        "from tkassalam.settings import base as s;"
        "print(json.dumps([s.STORAGES['report_files'], str(s.REPORT_FILES_DIR),"
        " str(s.STATIC_ROOT)]))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPORT_FILES")}
    env["DJANGO_SETTINGS_MODULE"] = "tkassalam.settings.base"
    default = json.loads(
        subprocess.run(
            [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, check=True
        ).stdout
    )
    storage, folder, static_root = default
    assert storage["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert storage["OPTIONS"]["location"] == folder == str(ROOT / "var" / "report-files")
    assert not folder.startswith(static_root) and "base_url" not in storage["OPTIONS"]
    env["REPORT_FILES_STORAGE"] = "storages.backends.s3.S3Storage"
    env["REPORT_FILES_STORAGE_OPTIONS"] = '{"bucket_name": "rapor", "default_acl": "private"}'
    (storage, _folder, _static) = json.loads(
        subprocess.run(
            [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, check=True
        ).stdout
    )
    assert storage == {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {"bucket_name": "rapor", "default_acl": "private"},
    }


def test_files_are_stored_served_and_deleted_through_the_storage_api_only(
    settings, django_capture_on_commit_callbacks, report, make_student, tmp_path
):
    """A backend with no local path (as S3's): nothing assumes a folder."""
    settings.STORAGES = {
        **settings.STORAGES,
        "report_files": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    settings.REPORT_FILES_ACCEL_REDIRECT = ""
    student = make_student()
    storage = report_file_storage()
    assert type(storage).__name__ == "InMemoryStorage"

    stored = store_report_file(report, student, name="x.pdf")
    assert storage.exists(stored.file.name)
    response = report_file_response(
        file_name=stored.file.name, content_type=stored.content_type, filename="x.pdf"
    )
    assert b"".join(response.streaming_content) == PDF

    with django_capture_on_commit_callbacks(execute=True):
        report.delete()
    assert not storage.exists(stored.file.name)
