"""Imports have limits checked before parsing; an unconfirmed upload dies with its preview."""

import io
import os
import re
import time
import zipfile

import openpyxl
import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from import_export.formats import base_formats

from students import tasks
from students.checks import POSITIVE_SETTINGS, check_import_limits
from students.models import Guardian, Student
from students.resources import StudentCSV
from tests.students.test_import_export import (
    EXPORTED_HEADER,
    GOOD_ROWS,
    HEADER,
    IMPORT_URL,
    confirm,
    csv_upload,
    upload,
    xlsx_upload,
)


@pytest.fixture(autouse=True)
def upload_dir(tmp_path, settings):
    """Where an upload is kept between preview and confirm (students.imports)."""
    settings.STUDENT_IMPORT_DIR = tmp_path / "imports"
    return settings.STUDENT_IMPORT_DIR


@pytest.fixture
def never_parsed(monkeypatch):
    """Fail the test if the library parses the file (refused before parsing)."""

    def parse(*args, **kwargs):
        raise AssertionError("the file was parsed")

    monkeypatch.setattr(StudentCSV, "create_dataset", parse)
    monkeypatch.setattr(base_formats.XLSX, "create_dataset", parse)


def file_errors(preview):
    assert preview.status_code == 200
    assert "confirm_form" not in preview.context
    return " ".join(preview.context["form"].errors.get("import_file", []))


def rows(n):
    return [[f"N{i:04d}", f"Siswa {i}", "TK A Melati", "Ibu Siti", ""] for i in range(n)]


def test_a_file_larger_than_the_limit_is_refused_in_indonesian(
    admin_client, classroom, settings, never_parsed, upload_dir
):
    settings.STUDENT_IMPORT_MAX_BYTES = 1024
    big = csv_upload(rows(40))
    assert big.size > 1024

    errors = file_errors(upload(admin_client, big))

    assert "Berkas ini berukuran" in errors and "paling besar 1,0\xa0KB" in errors
    assert not upload_dir.exists()
    assert not Student.objects.exists()


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_file_with_more_rows_than_the_limit_is_refused_in_indonesian(
    admin_client, classroom, settings, never_parsed, kind
):
    settings.STUDENT_IMPORT_MAX_ROWS = 3
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0
    make = csv_upload if kind == "csv" else xlsx_upload

    errors = file_errors(upload(admin_client, make(rows(4))))

    assert "lebih dari 3 baris siswa" in errors
    assert not Student.objects.exists()


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_file_at_the_row_limit_is_imported(admin_client, classroom, settings, kind):
    settings.STUDENT_IMPORT_MAX_ROWS = 3
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # the upload is a temporary file, as a large one
    make = csv_upload if kind == "csv" else xlsx_upload
    # A line break inside a quoted cell (a note, in a column the import ignores) is no row.
    data = [[*row, "alergi\nkacang"] for row in rows(3)]

    preview = upload(admin_client, make(data, header=[*HEADER, "catatan"]))

    assert "confirm_form" in preview.context, preview.context["form"].errors
    confirm(admin_client, preview)
    assert Student.objects.count() == 3


def huge_xlsx(rows, *, dimension=None):
    """An XLSX whose sheet holds ``rows`` rows of one number: small when zipped."""
    book = openpyxl.Workbook()
    book.active.append(HEADER)
    content = io.BytesIO()
    book.save(content)
    source = zipfile.ZipFile(content)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = re.sub(
                    r'<dimension ref="[^"]*" ?/>',
                    f'<dimension ref="{dimension}"/>' if dimension else "",
                    data.decode(),
                )
                more = "<row><c><v>1</v></c></row>" * (rows - 1)
                data = text.replace("</row></sheetData>", f"</row>{more}</sheetData>").encode()
            target.writestr(item, data)
    return SimpleUploadedFile("students.xlsx", out.getvalue())


@pytest.mark.parametrize(
    ("rows", "dimension"),
    [
        (1_000_000, None),  # no declared size: openpyxl would read every row
        (2, "A1:E1000000"),  # a declared size: openpyxl adds the empty rows up to it
    ],
)
def test_an_xlsx_of_a_million_rows_is_refused_quickly(
    admin_client, classroom, never_parsed, rows, dimension
):
    """Under 1 MB zipped; the library would build a million rows (openpyxl alone: ~10 s)."""
    file = huge_xlsx(rows, dimension=dimension)
    assert file.size < 1024 * 1024

    started = time.monotonic()
    errors = file_errors(upload(admin_client, file))

    assert "lebih dari 5000 baris siswa" in errors
    assert time.monotonic() - started < 3


def test_rows_past_a_declared_size_are_not_counted(admin_client, classroom, settings):
    """openpyxl reads a sheet only to its declared size, and so does the count."""
    settings.STUDENT_IMPORT_MAX_ROWS = 5
    file = huge_xlsx(100, dimension="A1:E3")

    preview = upload(admin_client, file)

    assert "import_file" not in preview.context["form"].errors


# --- The kept upload -----------------------------------------------------------------


def kept(upload_dir):
    return sorted(path.name for path in upload_dir.iterdir())


def age(path, seconds):
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_preview_keeps_the_upload_for_its_owner_only_and_confirm_deletes_it(
    admin_client, classroom, upload_dir
):
    preview = upload(admin_client, csv_upload(GOOD_ROWS))

    [name] = kept(upload_dir)
    assert name.startswith("student-import-")
    assert os.stat(upload_dir / name).st_mode & 0o077 == 0
    confirm(admin_client, preview)
    assert kept(upload_dir) == []


def test_a_confirm_that_fails_still_deletes_the_upload(
    admin_client, classroom, upload_dir, monkeypatch
):
    preview = upload(admin_client, csv_upload(GOOD_ROWS))

    def fail(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(StudentCSV, "create_dataset", fail)
    with pytest.raises(RuntimeError):
        confirm(admin_client, preview)

    assert kept(upload_dir) == []


def test_an_abandoned_preview_is_purged_once_expired(admin_client, classroom, settings, upload_dir):
    settings.STUDENT_IMPORT_PREVIEW_MAX_AGE = 600
    upload(admin_client, csv_upload(GOOD_ROWS))
    upload(admin_client, csv_upload(GOOD_ROWS))
    old, recent = (upload_dir / name for name in kept(upload_dir))
    age(old, 601)
    age(recent, 599)

    call_command("purge_import_uploads", stdout=io.StringIO())

    assert kept(upload_dir) == [recent.name]


def test_beat_purges_the_expired_uploads(settings, upload_dir):
    entry = next(
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == tasks.purge_import_uploads.name
    )
    assert entry["schedule"] <= settings.STUDENT_IMPORT_PREVIEW_MAX_AGE
    upload_dir.mkdir()
    (upload_dir / "student-import-old").write_text("N001,Aisyah,6281234567890")
    age(upload_dir / "student-import-old", settings.STUDENT_IMPORT_PREVIEW_MAX_AGE + 1)
    (upload_dir / "other-file").write_text("kept")
    age(upload_dir / "other-file", settings.STUDENT_IMPORT_PREVIEW_MAX_AGE + 1)

    assert tasks.purge_import_uploads() == 1

    assert kept(upload_dir) == ["other-file"]


def test_a_new_upload_purges_the_expired_ones(admin_client, classroom, settings, upload_dir):
    upload(admin_client, csv_upload(GOOD_ROWS))
    [old] = kept(upload_dir)
    age(upload_dir / old, settings.STUDENT_IMPORT_PREVIEW_MAX_AGE + 1)

    upload(admin_client, csv_upload(GOOD_ROWS))

    assert old not in kept(upload_dir) and len(kept(upload_dir)) == 1


def test_confirming_an_expired_preview_imports_nothing_and_says_why(
    admin_client, classroom, upload_dir
):
    preview = upload(admin_client, csv_upload(GOOD_ROWS))
    [name] = kept(upload_dir)
    age(upload_dir / name, 3601)

    done = confirm(admin_client, preview)

    assert done.status_code == 302 and done.url == IMPORT_URL
    [message] = [str(m) for m in get_messages(done.wsgi_request)]
    assert message.startswith("Pratinjau ini sudah tidak tersedia")
    assert "lebih dari 60 menit" in message
    assert not Student.objects.exists()
    assert kept(upload_dir) == []


def test_confirming_twice_imports_once(admin_client, classroom):
    preview = upload(admin_client, csv_upload(GOOD_ROWS))
    confirm(admin_client, preview)

    again = confirm(admin_client, preview)

    assert again.status_code == 302
    assert Student.objects.count() == 3


@pytest.mark.parametrize("name", POSITIVE_SETTINGS)
def test_a_limit_of_zero_is_a_system_check_error(settings, name):
    setattr(settings, name, 0)

    assert [error.id for error in check_import_limits()] == ["students.E001"]
    assert name in check_import_limits()[0].msg


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_the_row_limit_is_the_same_for_a_file_of_guardian_columns(
    admin_client, classroom, settings, kind
):
    settings.STUDENT_IMPORT_MAX_ROWS = 3
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0
    make = csv_upload if kind == "csv" else xlsx_upload
    data = [
        [
            f"N{i:04d}",
            f"Siswa {i}",
            "TK A Melati",
            "Bapak Joko",
            "0813-1111-2222",
            "Ibu Siti",
            "0812-3456-7890",
            "",
            "",
        ]
        for i in range(4)
    ]

    refused = file_errors(upload(admin_client, make(data, header=EXPORTED_HEADER)))
    preview = upload(admin_client, make(data[:3], header=EXPORTED_HEADER))

    assert "lebih dari 3 baris siswa" in refused
    confirm(admin_client, preview)
    assert Guardian.objects.count() == 6
