"""A child's report file: checked by content, stored privately, replaced in place, removed."""

import contextlib
import io
import threading
from pathlib import Path

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.utils import translation

from reports.models import ReportFile, report_file_storage
from reports.selectors import students_with_file
from reports.services.files import ReportFileRefused, report_file_remove
from tests.conftest import PDF, store_report_file

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("tu", "tu@example.com", "pw")


@pytest.mark.django_db(transaction=True)
def test_replacing_keeps_the_row_and_deletes_the_old_file_after_commit(report, make_student, staff):
    student = make_student()
    first = store_report_file(report, student, PDF, user=staff)
    old_name = first.file.name
    assert old_name.startswith(f"{report.pk}/") and old_name.endswith(".pdf")
    assert student.full_name not in old_name and student.nis not in old_name

    second = store_report_file(report, student, PNG, "foto.png", user=staff)

    assert second.pk == first.pk and second.content_type == "image/png"
    storage = report_file_storage()
    assert not storage.exists(old_name) and storage.open(second.file.name).read() == PNG
    assert students_with_file(monthly_report=report) == {student.pk}
    history = list(LogEntry.objects.values_list("change_message", flat=True).order_by("pk"))
    assert len(history) == 2 and "foto.png" in history[1]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "empty"),
        (b"PK\x03\x04 a docx renamed to .pdf", "PDF, JPEG or PNG"),
        (b"MZ\x90\x00 an exe", "PDF, JPEG or PNG"),
    ],
)
def test_a_file_that_is_not_a_report_is_refused_and_nothing_is_stored(
    report, make_student, staff, settings, data, why
):
    settings.LANGUAGE_CODE = "en"
    with pytest.raises(ReportFileRefused, match=why):
        store_report_file(report, make_student(), data, user=staff)
    assert not ReportFile.objects.exists()


@pytest.mark.django_db
def test_a_file_over_the_size_limit_is_refused(report, make_student, staff, settings):
    settings.REPORT_FILE_MAX_BYTES = 100
    with pytest.raises(ReportFileRefused):
        store_report_file(report, make_student(), PDF + b"x" * 100, user=staff)
    assert not ReportFile.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_removing_deletes_row_and_stored_file(report, make_student, staff):
    report_file = store_report_file(report, make_student(), io.BytesIO(PDF).read(), user=staff)
    name = report_file.file.name
    report_file_remove(report_file=report_file, user=staff)
    assert not ReportFile.objects.exists() and not report_file_storage().exists(name)


# --- Two admins at once (a real race: PostgreSQL and MariaDB) -------------------------------


def _race(report, student, monkeypatch, *, wait=10):
    """Two uploads for one child, both past their look for the child's file before either
    writes; what each got (``stored`` or the refusal's text)."""
    from django.db import connections

    from reports.services import files

    barrier = threading.Barrier(2, timeout=wait)
    original = files._current_file

    def look_then_wait(monthly_report, student):
        found = original(monthly_report, student)
        # A replacement: the other waits for this row's lock, and the barrier breaks.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return found

    monkeypatch.setattr(files, "_current_file", look_then_wait)
    outcomes = []

    def upload(number):
        try:
            store_report_file(report, student, name=f"{number}.pdf")
            outcomes.append("stored")
        except ReportFileRefused as refused:
            outcomes.append(str(refused))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=upload, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def _stored_names():
    root = Path(report_file_storage().location)
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


@pytest.mark.django_db(transaction=True)
def test_two_first_files_at_once_store_one_and_tell_the_other(report, make_student, monkeypatch):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite takes one writer at a time: no two uploads meet (IMMEDIATE)")
    student = make_student()
    before = _stored_names()

    outcomes = _race(report, student, monkeypatch)

    assert outcomes[0].startswith("Pada saat yang sama berkas lain") and outcomes[1] == "stored"
    report_file = ReportFile.objects.get()
    assert _stored_names() - before == {report_file.file.name}  # the refused one's file is gone


@pytest.mark.django_db(transaction=True)
def test_two_replacements_at_once_leave_one_file_and_no_orphan(
    report, make_student, staff, monkeypatch
):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite takes one writer at a time: no two uploads meet (IMMEDIATE)")
    student = make_student()
    first = store_report_file(report, student, PNG, "old.png", user=staff)
    before = _stored_names() - {first.file.name}

    # The second waits for the first's lock on the row: the barrier gives up after 1 s.
    assert _race(report, student, monkeypatch, wait=1) == ["stored", "stored"]

    report_file = ReportFile.objects.get()
    assert report_file.pk == first.pk and report_file.content_type == "application/pdf"
    assert _stored_names() - before == {report_file.file.name}


@pytest.mark.django_db
def test_the_history_is_written_in_the_schools_language_whatever_the_uploaders(
    report, make_student, staff
):
    with translation.override("en"):
        store_report_file(report, make_student(name="Aisyah"), user=staff, name="a.pdf")
    (entry,) = LogEntry.objects.all()
    assert entry.change_message == "Berkas laporan Aisyah ditambahkan (a.pdf)."
