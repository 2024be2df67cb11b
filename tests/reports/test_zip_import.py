"""The ZIP bulk upload: the preview's every category, the NIS rule, and ZIPs refused whole."""

import io
import random
import stat
import struct
import zipfile
from pathlib import Path

import pytest
from django.contrib.admin.models import LogEntry

from reports.models import ReportFile, report_file_storage
from reports.services.files import report_file_store
from reports.services.zip_import import (
    ZipRefused,
    match_nis,
    nis_key,
    report_zip_preview,
    report_zip_store,
)
from students.models import Classroom, Student
from tests.conftest import PDF, store_report_file

JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("tu", "tu@example.com", "pw")


def student(classroom, nis, name):
    return Student.objects.create(nis=nis, full_name=name, classroom=classroom)


def make_zip(path: Path, files, *, compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in files:
            if name.endswith("/"):
                archive.mkdir(name.rstrip("/"))
            else:
                archive.writestr(name, data)
    return path


def patch_central_directory(path: Path, *, flag=None, file_size=None):
    """Rewrite the first central directory header: its flags, or its unpacked size (a lie)."""
    data = bytearray(path.read_bytes())
    at = data.index(b"PK\x01\x02")
    if flag is not None:
        data[at + 8 : at + 10] = struct.pack("<H", flag)
    if file_size is not None:
        data[at + 24 : at + 28] = struct.pack("<I", file_size)
    path.write_bytes(bytes(data))


def stored_files():
    root = Path(report_file_storage().location)
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("S001.pdf", "S001"),
        ("S001 - Ahmad Fauzi.pdf", "S001"),
        ("s001_ahmad.PDF", "S001"),
        ("kelas A/S001.pdf", "S001"),
        ("S001", "S001"),
        ("S0011.pdf", None),
        ("S001a.pdf", None),
        ("XS001.pdf", None),
        ("S001-2 Budi.pdf", "S001-2"),
        ("S001-3 Citra.pdf", "S001"),
        ("s001-2.jpg", "S001-2"),
    ],
)
def test_a_file_matches_the_nis_its_name_starts_with_the_longest_first(name, expected):
    by_key = {nis_key(nis): nis for nis in ("S001", "S001-2", "S002")}
    assert match_nis(name, by_key) == expected


@pytest.fixture
def school(report, staff):
    """TK A Melati: Ahmad (S001, a file stored), Budi (S002), Citra (S003), Dewi (S004, a
    file stored), Eka (S005); another class's Fajar (O001)."""
    classroom = report.classroom
    people = {
        "ahmad": student(classroom, "S001", "Ahmad Fauzi"),
        "budi": student(classroom, "S002", "Budi Santoso"),
        "citra": student(classroom, "S003", "Citra Lestari"),
        "dewi": student(classroom, "S004", "Dewi Sartika"),
        "eka": student(classroom, "S005", "Eka Putri"),
        "fajar": student(Classroom.objects.create(name="TK B Mawar"), "O001", "Fajar"),
    }
    for key in ("ahmad", "dewi"):
        store_report_file(report, people[key], name="old.pdf", user=staff)
    return people


def test_the_preview_sorts_every_file_and_student_and_stores_nothing(tmp_path, report, school):
    zip_path = make_zip(
        tmp_path / "kelas.zip",
        [
            ("laporan/", b""),
            ("laporan/S001 - Ahmad Fauzi.pdf", PDF),  # replaces the stored file
            ("laporan/s002_budi.JPG", JPEG),  # new
            ("laporan/S003.pdf", b"PK\x03\x04 a Word file renamed"),  # not opened: refused
            ("laporan/S005 a.pdf", PDF),  # two files for Eka
            ("laporan/S005_b.png", PNG),
            ("laporan/O001.pdf", PDF),  # another class's student
            ("laporan/X999.pdf", PDF),  # nobody's
            ("laporan/S0011.pdf", PDF),  # not S001's
            ("laporan/lain.zip", PDF),  # an archive, by name
            ("laporan/S004.pdf", b"just some text"),  # Dewi's, not a report file
            ("laporan/kosong.pdf", b""),
            ("__MACOSX/laporan/._S001 - Ahmad Fauzi.pdf", b"\0\5\26\7"),
            ("laporan/.DS_Store", b"\0\0\0\1Bud1"),
        ],
    )
    files_before = stored_files()

    preview = report_zip_preview(monthly_report=report, zip_file=zip_path)

    to_store = {entry.student.nis: entry for entry in preview.to_store}
    assert set(to_store) == {"S001", "S002"}
    assert to_store["S001"].replaces and not to_store["S002"].replaces
    assert (preview.new_count, preview.replace_count) == (1, 1)
    assert to_store["S002"].content_type == "image/jpeg"
    assert {entry.basename for entry in preview.duplicates} == {"S005 a.pdf", "S005_b.png"}
    assert all("2 berkas" in entry.reason for entry in preview.duplicates)
    unmatched = {entry.basename: entry.reason for entry in preview.unmatched}
    assert set(unmatched) == {"O001.pdf", "X999.pdf", "S0011.pdf"}
    assert "TK B Mawar" in unmatched["O001.pdf"] and "kelas lain" in unmatched["O001.pdf"]
    assert "TK B Mawar" not in unmatched["X999.pdf"]
    refused = {entry.basename: entry for entry in preview.refused}
    assert set(refused) == {"S003.pdf", "lain.zip", "S004.pdf", "kosong.pdf"}
    assert "PDF, JPEG, atau PNG" in refused["S003.pdf"].reason
    assert "di dalam ZIP tidak dibuka" in refused["lain.zip"].reason
    assert "PDF, JPEG, atau PNG" in refused["S004.pdf"].reason
    assert refused["S004.pdf"].student == school["dewi"]
    assert "kosong" in refused["kosong.pdf"].reason
    assert {entry.name for entry in preview.ignored} == {
        "laporan/",
        "__MACOSX/laporan/._S001 - Ahmad Fauzi.pdf",
        "laporan/.DS_Store",
    }
    without = {item.student.nis: item.has_stored_file for item in preview.without_file}
    # Citra and Dewi: a refused file is no file; Dewi keeps hers. Eka's two files: none.
    assert without == {"S003": False, "S004": True, "S005": False}
    assert ReportFile.objects.count() == 2 and stored_files() == files_before


@pytest.mark.django_db(transaction=True)
def test_storing_adds_and_replaces_in_the_reports_history(tmp_path, report, school, staff):
    big = b"%PDF-1.7\n" + random.Random(1).randbytes(2_000_000)  # spooled to disk
    zip_path = make_zip(
        tmp_path / "kelas.zip", [("S001 - Ahmad.pdf", big), ("S002.png", PNG), ("X.pdf", PDF)]
    )
    old_ahmad = ReportFile.objects.get(student=school["ahmad"]).file.name

    outcome = report_zip_store(monthly_report=report, zip_file=zip_path, user=staff)

    assert (outcome.stored, outcome.replaced) == (2, 1)
    ahmad = ReportFile.objects.get(student=school["ahmad"])
    assert ahmad.file.read() == big and ahmad.original_name == "S001 - Ahmad.pdf"
    assert ahmad.uploaded_by == staff
    assert ReportFile.objects.get(student=school["budi"]).content_type == "image/png"
    storage = report_file_storage()
    assert not storage.exists(old_ahmad)  # replaced: deleted once the store committed
    assert ReportFile.objects.count() == 3
    history = list(LogEntry.objects.values_list("change_message", flat=True))
    assert sum("S002.png" in line for line in history) == 1


@pytest.mark.django_db(transaction=True)
def test_a_failure_while_storing_stores_nothing(tmp_path, report, school, staff, monkeypatch):
    zip_path = make_zip(tmp_path / "kelas.zip", [("S001.pdf", PDF), ("S002.pdf", PDF)])
    files_before = stored_files()
    old_ahmad = ReportFile.objects.get(student=school["ahmad"]).file.name
    from reports.services import zip_import

    calls = []

    def store_then_fail(**kwargs):
        calls.append(kwargs["student"])
        if len(calls) == 2:
            raise OSError("disk full")
        return report_file_store(**kwargs)

    monkeypatch.setattr(zip_import, "report_file_store", store_then_fail)
    with pytest.raises(OSError):
        report_zip_store(monthly_report=report, zip_file=zip_path, user=staff)

    assert len(calls) == 2
    assert ReportFile.objects.count() == 2
    assert ReportFile.objects.get(student=school["ahmad"]).file.name == old_ahmad
    assert stored_files() == files_before


def refused_whole(zip_file, report, staff, match):
    files_before, rows_before = stored_files(), ReportFile.objects.count()
    with pytest.raises(ZipRefused, match=match):
        report_zip_preview(monthly_report=report, zip_file=zip_file)
    with pytest.raises(ZipRefused, match=match):
        report_zip_store(monthly_report=report, zip_file=zip_file, user=staff)
    assert ReportFile.objects.count() == rows_before and stored_files() == files_before


@pytest.mark.django_db
@pytest.mark.parametrize("bad_name", ["../../x.pdf", "laporan/../../S002.pdf", "/etc/S002.pdf"])
def test_a_path_leaving_the_folder_refuses_the_whole_zip(tmp_path, report, school, staff, bad_name):
    zip_path = make_zip(tmp_path / "a.zip", [("S002.pdf", PDF), (bad_name, PDF)])
    refused_whole(zip_path, report, staff, "keluar dari foldernya")


@pytest.mark.django_db
def test_a_backslash_path_refuses_the_whole_zip(tmp_path, report, school, staff):
    zip_path = make_zip(tmp_path / "a.zip", [("S002.pdf", PDF), ("..\\..\\x.pdf", PDF)])
    # zipfile turns a backslash into "/" on Windows only: the name keeps it here.
    refused_whole(zip_path, report, staff, "keluar dari foldernya")


@pytest.mark.django_db
def test_a_zip_bomb_is_refused_by_its_ratio(tmp_path, report, school, staff):
    # 8 MB of zeros packs into about 8 KB: a ratio near 1000, over 100.
    zip_path = make_zip(tmp_path / "bom.zip", [("S002.pdf", b"%PDF-" + b"\0" * (8 * 1024 * 1024))])
    refused_whole(zip_path, report, staff, "ZIP bomb")


@pytest.mark.django_db
def test_a_header_that_lies_about_the_size_refuses_the_whole_zip(tmp_path, report, school, staff):
    zip_path = make_zip(
        tmp_path / "bohong.zip",
        [("S002.pdf", b"%PDF-" + b"\0" * (3 * 1024 * 1024)), ("S001.pdf", PDF)],
    )
    patch_central_directory(zip_path, file_size=1000)  # says 1000 bytes: under any ratio
    refused_whole(zip_path, report, staff, "rusak")


@pytest.mark.django_db
def test_an_encrypted_zip_is_refused(tmp_path, report, school, staff):
    zip_path = make_zip(tmp_path / "sandi.zip", [("S002.pdf", PDF)], compression=zipfile.ZIP_STORED)
    patch_central_directory(zip_path, flag=0x1)
    refused_whole(zip_path, report, staff, "kata sandi")


@pytest.mark.django_db
@pytest.mark.parametrize("damage", ["not a zip", "truncated", "bad crc"])
def test_a_corrupt_zip_is_refused(tmp_path, report, school, staff, damage):
    zip_path = make_zip(
        tmp_path / "rusak.zip", [("S002.pdf", PDF * 10)], compression=zipfile.ZIP_STORED
    )
    data = zip_path.read_bytes()
    if damage == "not a zip":
        data = b"%PDF-1.4 this is a PDF, not a ZIP" * 10
    elif damage == "truncated":
        data = data[: len(data) // 2]
    else:
        at = data.index(b"%%EOF")
        data = data[:at] + b"%%EOX" + data[at + 5 :]
    zip_path.write_bytes(data)
    refused_whole(zip_path, report, staff, "rusak|bukan berkas ZIP")


@pytest.mark.django_db
def test_too_many_entries_refuse_the_whole_zip(tmp_path, report, school, staff, settings):
    settings.REPORT_ZIP_MAX_ENTRIES = 3
    zip_path = make_zip(tmp_path / "a.zip", [(f"S00{n}.pdf", PDF) for n in range(1, 5)])
    refused_whole(zip_path, report, staff, "lebih dari 3 berkas")


@pytest.mark.django_db
def test_too_many_unpacked_bytes_refuse_the_whole_zip(tmp_path, report, school, staff, settings):
    settings.REPORT_ZIP_MAX_UNPACKED_BYTES = 1000
    zip_path = make_zip(tmp_path / "a.zip", [("S001.pdf", PDF * 12), ("S002.pdf", PDF * 12)])
    refused_whole(zip_path, report, staff, "paling banyak")


@pytest.mark.django_db
def test_a_file_over_the_size_limit_is_refused_alone(tmp_path, report, school, staff, settings):
    settings.REPORT_FILE_MAX_BYTES = 1000
    zip_path = make_zip(tmp_path / "a.zip", [("S001.pdf", PDF * 30), ("S002.pdf", PDF)])
    preview = report_zip_preview(monthly_report=report, zip_file=zip_path)
    assert [entry.basename for entry in preview.to_store] == ["S002.pdf"]
    assert [entry.basename for entry in preview.refused] == ["S001.pdf"]
    assert "paling besar" in preview.refused[0].reason


@pytest.mark.django_db
def test_a_file_object_on_disk_is_read_too(tmp_path, report, school):
    zip_path = make_zip(tmp_path / "a.zip", [("S002.pdf", PDF)])
    with open(zip_path, "rb") as file:
        preview = report_zip_preview(monthly_report=report, zip_file=file)
    assert [entry.student.nis for entry in preview.to_store] == ["S002"]
    assert report_zip_preview(monthly_report=report, zip_file=io.BytesIO(zip_path.read_bytes()))


@pytest.mark.django_db
def test_a_small_file_that_packs_well_is_no_bomb(tmp_path, report, school):
    """A blank page compresses a thousandfold; under 1 MB the ratio does not matter."""
    zip_path = make_zip(tmp_path / "a.zip", [("S002.pdf", b"%PDF-" + b"\0" * 900_000)])
    preview = report_zip_preview(monthly_report=report, zip_file=zip_path)
    assert [entry.basename for entry in preview.to_store] == ["S002.pdf"]


@pytest.mark.django_db(transaction=True)
def test_a_file_stored_by_another_admin_meanwhile_refuses_the_zip_with_a_message(
    tmp_path, report, school, staff, monkeypatch
):
    # Another admin's file for Ahmad commits while this ZIP is stored: the unique (report,
    # student) refuses this row; the ZIP is refused whole with a message, not an error.
    zip_path = make_zip(tmp_path / "kelas.zip", [("S002.pdf", PDF), ("S001.pdf", PDF)])
    files_before = stored_files()
    from reports.services import files

    monkeypatch.setattr(files, "_current_file", lambda monthly_report, student: None)
    with pytest.raises(ZipRefused, match="Pada saat yang sama berkas lain"):
        report_zip_store(monthly_report=report, zip_file=zip_path, user=staff)

    assert ReportFile.objects.count() == 2
    assert not ReportFile.objects.filter(student=school["budi"]).exists()
    assert stored_files() == files_before


@pytest.mark.django_db
def test_a_symbolic_link_entry_is_refused_alone_and_never_read(tmp_path, report, school):
    # A link's entry holds a path; one that looks like a PDF is still not a report.
    zip_path = tmp_path / "link.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        link = zipfile.ZipInfo("S002.pdf")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "%PDF-../../../etc/passwd")
        archive.writestr("S003 Citra.PDF", b"scanner junk " + PDF)  # junk before %PDF: a PDF

    preview = report_zip_preview(monthly_report=report, zip_file=zip_path)

    (refused,) = preview.refused
    assert refused.basename == "S002.pdf" and "Pintasan (tautan)" in refused.reason
    assert [entry.student.nis for entry in preview.to_store] == ["S003"]
    assert preview.to_store[0].content_type == "application/pdf"


def test_another_classs_nis_with_a_separator_is_named_too(tmp_path, report, school):
    student(Classroom.objects.get(name="TK B Mawar"), "O-002", "Gilang")
    zip_path = make_zip(tmp_path / "kelas.zip", [("o-002 Gilang.pdf", PDF), ("O-0021.pdf", PDF)])

    preview = report_zip_preview(monthly_report=report, zip_file=zip_path)

    unmatched = {entry.basename: entry.reason for entry in preview.unmatched}
    assert "TK B Mawar" in unmatched["o-002 Gilang.pdf"]
    assert "TK B Mawar" not in unmatched["O-0021.pdf"]  # not O-002's: the NIS ends there
