"""The student import and export with guardians: columns per father, mother and guardian
besides the one-parent columns, matched by (student, relation) on every import, and a
lossless round trip through the export."""

import csv
import importlib
import io
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from students.models import Guardian, Student
from students.relations import relation_of
from tests.students.test_import_export import (
    EXPORTED_HEADER,
    GOOD_ROWS,
    HEADER,
    confirm,
    csv_upload,
    export,
    guardians_of,
    invalid,
    page_text,
    reason_of,
    to_write,
    upload,
    xlsx_upload,
)

UPLOADS = {"csv": csv_upload, "xlsx": xlsx_upload}
MIGRATION = importlib.import_module("students.migrations.0006_guardians_from_parents")


@pytest.fixture(autouse=True)
def upload_dir(tmp_path, settings):
    settings.STUDENT_IMPORT_DIR = tmp_path / "imports"
    return settings.STUDENT_IMPORT_DIR


@pytest.fixture
def client(admin_client):
    """In English: reasons are compared with their English msgids."""
    admin_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return admin_client


@pytest.fixture
def delay():
    with mock.patch("students.tasks.check_whatsapp_numbers.delay") as delay:
        yield delay


def row(nis, name, *, ayah=("", ""), ibu=("", ""), wali=("", "")):
    return [nis, name, "TK A Melati", *ayah, *ibu, *wali]


# Ayah and ibu; only a wali; no guardian.
FAMILIES = [
    row(
        "N001",
        "Aisyah Putri",
        ayah=("Bapak Joko", "0813-1111-2222"),
        ibu=("Siti", "0812-3456-7890"),
    ),
    row("N002", "Budi Santoso", wali=("Nenek Ani", "+62 857 1234 5678")),
    row("N003", "Citra Lestari"),
]


def guardian_rows():
    """Every guardian, as a round trip must leave it (its check state included)."""
    return list(
        Guardian.objects.order_by("pk").values(
            "pk",
            "student_id",
            "relation",
            "name",
            "phone",
            "receives_messages",
            "whatsapp_registered",
            "whatsapp_checked_at",
        )
    )


def preview_guardians(preview):
    """{spreadsheet row: [(relation, name, number check, change)]} of the rows to import."""
    return {
        item["row"]: [
            (line["relation"], line["name"], line["check"], line["change"])
            for line in item["guardians"]
        ]
        for item in preview.context["student_valid_rows"]
    }


# --- The relation of the one-parent columns ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "relation"),
    [
        ("Ibu Siti", "ibu"),
        ("bu. Siti", "ibu"),
        ("Bunda Rina", "ibu"),
        ("Bapak Joko", "ayah"),
        ("Bpk. Ahmad", "ayah"),
        ("pak Joko", "ayah"),
        ("Siti", "wali"),
        ("Budi", "wali"),  # not "Bu" + "di"
        ("Ibunya Budi", "wali"),
        ("", "wali"),
    ],
)
def test_the_relation_is_read_off_the_honorific_as_the_migration_did(name, relation):
    assert relation_of(name) == relation
    # The migration's frozen copy reads the same.
    assert MIGRATION.relation_of(name) == relation


def test_the_one_parent_columns_make_one_guardian_each(client, classroom):
    rows = [*GOOD_ROWS, ["N004", "Dewi", "TK A Melati", "Siti Aminah", "0812-9999-8888"]]

    confirm(client, upload(client, csv_upload(rows)))

    assert guardians_of("N001") == [("ibu", "Ibu Siti", "6281234567890")]
    assert guardians_of("N002") == [("ayah", "Bapak Joko", "6281311112222")]
    assert guardians_of("N003") == []
    assert guardians_of("N004") == [("wali", "Siti Aminah", "6281299998888")]


# --- Columns per relation ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_columns_per_relation_make_each_guardian(client, classroom, kind):
    preview = upload(client, UPLOADS[kind](FAMILIES, header=EXPORTED_HEADER))

    assert to_write(preview) == {2: "new", 3: "new", 4: "new"}
    confirm(client, preview)
    # The relation is the column's, whatever the name says ("Siti" is the mother here).
    assert guardians_of("N001") == [
        ("ayah", "Bapak Joko", "6281311112222"),
        ("ibu", "Siti", "6281234567890"),
    ]
    assert guardians_of("N002") == [("wali", "Nenek Ani", "6285712345678")]
    assert guardians_of("N003") == []


@pytest.mark.parametrize(
    "header",
    [
        [
            "NIS",
            "Nama Lengkap",
            "Kelas",
            "Nama Ayah",
            "Nomor Ayah",
            "Nama Ibu",
            "Nomor Ibu",
            "Nama Wali",
            "Nomor Wali",
        ],
        [
            "nis",
            "nama siswa",
            "kelas",
            "Nama Bapak",
            "No. HP Ayah",
            "NAMA_IBU",
            "Nomor WhatsApp Ibu",
            "nama wali",
            "Telepon-Wali",
        ],
        [
            "nis",
            "full_name",
            "classroom",
            "nama_ayah",
            "nomor_hp_ayah",
            "nama_ibu",
            "no_hp_ibu",
            "nama_wali",
            "nomor_whatsapp_wali",
        ],
    ],
)
def test_guardian_headings_are_matched_as_the_others(client, classroom, header):
    confirm(client, upload(client, csv_upload(FAMILIES, header=header)))

    assert [relation for relation, _name, _phone in guardians_of("N001")] == ["ayah", "ibu"]
    assert guardians_of("N002") == [("wali", "Nenek Ani", "6285712345678")]


def test_a_file_may_hold_some_relations_only(client, classroom):
    rows = [["N001", "Aisyah", "TK A Melati", "Ibu Siti", "0812-3456-7890"]]
    header = ["nis", "nama_lengkap", "kelas", "nama_ibu", "nomor_ibu"]

    confirm(client, upload(client, csv_upload(rows, header=header)))

    assert guardians_of("N001") == [("ibu", "Ibu Siti", "6281234567890")]


def refusal(preview):
    assert "confirm_form" not in preview.context
    return " ".join(str(error.error) for error in preview.context["result"].base_errors)


def test_a_name_column_without_its_number_column_refuses_the_file(client, classroom):
    header = ["nis", "nama_lengkap", "kelas", "nama_ayah", "nomor_ayah", "nama_ibu", "hp_ibu"]
    rows = [row[:7] for row in FAMILIES]

    preview = upload(client, csv_upload(rows, header=header))

    assert refusal(preview).startswith(
        "The file has no column “Mother's WhatsApp number” (accepted names: nomor_ibu, "
    )
    assert not Student.objects.exists()


def test_a_file_without_any_guardian_column_is_refused(client, classroom):
    rows = [row[:3] for row in FAMILIES]

    preview = upload(client, csv_upload(rows, header=["nis", "nama_lengkap", "kelas"]))

    assert refusal(preview) == (
        "The file has no columns for the guardians' names and numbers (accepted: "
        "nama_orang_tua + nomor_whatsapp; nama_ayah + nomor_ayah; nama_ibu + nomor_ibu; "
        "nama_wali + nomor_wali). The first row of the file must hold the column names."
    )
    assert not Student.objects.exists()


def test_a_file_with_one_parent_and_relation_columns_is_refused(admin_client, classroom):
    header = [*HEADER, "nama_ayah", "nomor_ayah"]
    rows = [[*row, "Bapak Joko", "0813-1111-2222"] for row in GOOD_ROWS]

    preview = upload(admin_client, csv_upload(rows, header=header))

    assert refusal(preview) == (
        "Berkas memuat kolom satu orang tua (nama_orang_tua + nomor_whatsapp) sekaligus "
        "kolom ayah, ibu, atau wali (nama_ayah + nomor_ayah). Pakai salah satu saja."
    )
    assert not Student.objects.exists()


def test_an_invalid_number_refuses_the_row_naming_the_guardians_column(client, classroom):
    rows = [row("N001", "Aisyah", ayah=("Bapak Joko", "0813-1111-2222"), ibu=("Siti", "0812"))]

    preview = upload(client, csv_upload(rows, header=EXPORTED_HEADER))

    assert invalid(preview) == {2: [reason_of("0812", label="Mother's WhatsApp number")]}
    assert "confirm_form" not in preview.context
    assert not Guardian.objects.exists()


# --- Importing again -------------------------------------------------------------------------


def test_importing_again_updates_guardians_without_duplicating_them(
    client, classroom, delay, django_capture_on_commit_callbacks
):
    confirm(client, upload(client, csv_upload(FAMILIES, header=EXPORTED_HEADER)))
    checked_at = timezone.now()
    Guardian.objects.update(whatsapp_registered=True, whatsapp_checked_at=checked_at)
    ayah, ibu = Guardian.objects.filter(student__nis="N001").order_by("pk")
    changed = [
        row(
            "N001",
            "Aisyah Putri",
            ayah=("Bapak Joko", "0813 1111 2222"),
            ibu=("Siti", "0812-7777-6666"),
        ),
        *FAMILIES[1:],
    ]

    preview = upload(client, csv_upload(changed, header=EXPORTED_HEADER))
    assert preview_guardians(preview)[2] == [
        ("father", "Bapak Joko", "valid number", "unchanged"),
        ("mother", "Siti", "valid number", "number changed"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        confirm(client, preview)

    assert Guardian.objects.count() == 3
    ibu.refresh_from_db()
    ayah.refresh_from_db()
    assert (ibu.phone, ibu.whatsapp_registered, ibu.whatsapp_checked_at) == (
        "6281277776666",
        None,
        None,
    )
    # The same number written otherwise is no change: its check stands.
    assert (ayah.phone, ayah.whatsapp_registered) == ("6281311112222", True)
    # Only the student with a new number is checked, after the commit.
    delay.assert_called_once_with(student_ids=[ibu.student_id])


def test_an_import_of_new_numbers_queues_their_check_after_commit_never_in_the_preview(
    client, classroom, delay, django_capture_on_commit_callbacks, settings
):
    settings.WHATSAPP_RUNNER = "celery"
    with django_capture_on_commit_callbacks(execute=True):
        preview = upload(client, csv_upload(FAMILIES, header=EXPORTED_HEADER))
    delay.assert_not_called()

    with django_capture_on_commit_callbacks(execute=True):
        confirm(client, preview)

    ids = Student.objects.filter(nis__in=["N001", "N002"]).values_list("pk", flat=True)
    delay.assert_called_once_with(student_ids=sorted(ids))


def test_empty_cells_leave_a_guardian_as_it_is(client, make_student, make_guardian):
    student = make_student("0812-3456-7890", name="Aisyah", whatsapp_registered=True)
    make_guardian(student, "ayah", "0813-1111-2222", name="Bapak Joko")
    before = guardian_rows()
    # The mother's two cells are empty: she stays; the father's number changes.
    rows = [row(student.nis, "Aisyah", ayah=("Bapak Joko", "0813-9999-0000"))]

    preview = upload(client, csv_upload(rows, header=EXPORTED_HEADER))

    assert preview_guardians(preview)[2] == [
        (
            "mother",
            "Ibu Siti",
            "valid number",
            "left as it is: its columns are empty or not in the file",
        ),
        ("father", "Bapak Joko", "valid number", "number changed"),
    ]
    confirm(client, preview)
    after = guardian_rows()
    assert after[0] == before[0]
    assert after[1]["phone"] == "6281399990000"
    assert len(after) == 2


def test_relation_columns_missing_from_the_file_leave_those_guardians(
    client, make_student, make_guardian
):
    student = make_student("0812-3456-7890", name="Aisyah")
    make_guardian(student, "wali", "0813-1111-2222", name="Nenek Ani")
    before = guardian_rows()
    header = ["nis", "nama_lengkap", "kelas", "nama_ayah", "nomor_ayah"]

    rows = [[student.nis, "Aisyah", "TK A Melati", "Bapak Joko", ""]]

    confirm(client, upload(client, csv_upload(rows, header=header)))

    assert guardian_rows()[:2] == before
    assert guardians_of(student.nis)[2] == ("ayah", "Bapak Joko", "")


def test_a_name_without_its_number_empties_the_number_and_flags_the_student(
    admin_client, make_student
):
    student = make_student("0812-3456-7890", name="Aisyah")
    rows = [row(student.nis, "Aisyah", ibu=("Ibu Siti", ""))]

    preview = upload(admin_client, csv_upload(rows, header=EXPORTED_HEADER))

    assert preview_guardians(preview) == {2: [("ibu", "Ibu Siti", "tanpa nomor", "nomor diubah")]}
    html = page_text(preview)
    assert "1 siswa tanpa nomor WhatsApp tidak akan menerima pesan (baris 2: Aisyah)" in html
    assert '<span class="number-empty">tanpa nomor</span>' in html
    confirm(admin_client, preview)
    assert guardians_of(student.nis) == [("ibu", "Ibu Siti", "")]


def test_the_one_parent_columns_update_the_guardian_an_earlier_file_made(client, classroom):
    confirm(client, upload(client, csv_upload(GOOD_ROWS)))
    first = list(Guardian.objects.order_by("pk").values_list("pk", flat=True))
    again = [
        ["N001", "Aisyah Putri", "TK A Melati", "Ibu Siti Aminah", "0812-0000-1111"],
        ["N002", "Budi Santoso", "TK A Melati", "Bapak Joko", "+62 813 1111 2222"],
        ["N003", "Citra Lestari", "TK A Melati", "", ""],
    ]

    confirm(client, upload(client, csv_upload(again)))

    assert list(Guardian.objects.order_by("pk").values_list("pk", flat=True)) == first
    assert guardians_of("N001") == [("ibu", "Ibu Siti Aminah", "6281200001111")]
    assert guardians_of("N002") == [("ayah", "Bapak Joko", "6281311112222")]
    assert guardians_of("N003") == []


@pytest.mark.parametrize(
    ("relation", "old_name", "new_name", "after"),
    [
        # A migrated parent without an honorific (wali), named the same again.
        ("wali", "Siti", "Siti", "wali"),
        # The file drops the honorific: the name says nothing, the relation stays.
        ("ayah", "Bapak Joko", "Joko", "ayah"),
        # The file adds one: the only guardian is that one, and now known to be the mother.
        ("wali", "Siti", "Ibu Siti", "ibu"),
    ],
)
def test_the_one_parent_columns_update_a_students_only_guardian(
    client, make_student, relation, old_name, new_name, after
):
    student = make_student("0812-3456-7890", name="Aisyah", parent_name=old_name, relation=relation)
    [guardian] = student.guardians.all()
    rows = [[student.nis, "Aisyah", "TK A Melati", new_name, "0812-5555-6666"]]

    confirm(client, upload(client, csv_upload(rows)))

    assert guardians_of(student.nis) == [(after, new_name, "6281255556666")]
    assert Guardian.objects.get().pk == guardian.pk


def test_the_one_parent_columns_update_the_guardian_of_the_honorifics_relation(
    client, make_student, make_guardian
):
    student = make_student("0812-3456-7890", name="Aisyah")  # Ibu Siti
    make_guardian(student, "ayah", "0813-1111-2222", name="Bapak Joko")
    rows = [[student.nis, "Aisyah", "TK A Melati", "Bapak Joko Susilo", "0813-4444-5555"]]

    confirm(client, upload(client, csv_upload(rows)))

    assert guardians_of(student.nis) == [
        ("ibu", "Ibu Siti", "0812-3456-7890"),
        ("ayah", "Bapak Joko Susilo", "6281344445555"),
    ]


@pytest.mark.parametrize("name", ["Siti", "Ibu Siti"])
def test_the_one_parent_columns_find_the_guardian_by_its_number_first(
    client, make_student, make_guardian, name
):
    # A one-parent file (an earlier export) after the school added the other guardians:
    # its parent is the guardian holding that number, not a new one nor another wali.
    student = make_student("0812-3456-7890", name="Aisyah")  # Ibu Siti, mother
    make_guardian(student, "wali", "0857-1111-2222", name="Nenek Ani")
    make_guardian(student, "ayah", "0813-1111-2222", name="Bapak Joko")
    before = list(Guardian.objects.order_by("pk").values_list("pk", flat=True))
    rows = [[student.nis, "Aisyah", "TK A Melati", name, "6281234567890"]]

    confirm(client, upload(client, csv_upload(rows)))

    assert list(Guardian.objects.order_by("pk").values_list("pk", flat=True)) == before
    assert guardians_of(student.nis) == [
        ("ibu", name, "0812-3456-7890"),
        ("wali", "Nenek Ani", "0857-1111-2222"),
        ("ayah", "Bapak Joko", "0813-1111-2222"),
    ]


def test_the_one_parent_columns_give_a_wali_found_by_number_the_honorifics_relation(
    client, make_student, make_guardian
):
    student = make_student("0812-3456-7890", name="Aisyah", parent_name="Siti", relation="wali")
    make_guardian(student, "ayah", "0813-1111-2222", name="Bapak Joko")
    rows = [[student.nis, "Aisyah", "TK A Melati", "Ibu Siti", "0812-3456-7890"]]

    confirm(client, upload(client, csv_upload(rows)))

    assert guardians_of(student.nis) == [
        ("ibu", "Ibu Siti", "0812-3456-7890"),
        ("ayah", "Bapak Joko", "0813-1111-2222"),
    ]


@pytest.mark.parametrize(
    ("name", "after"),
    [
        # The honorific names the relation: the father, not the mother with his phone.
        ("Bapak Hendra Wijaya", [("ibu", "Ibu Rina"), ("ayah", "Bapak Hendra Wijaya")]),
        ("Ibu Rina Sari", [("ibu", "Ibu Rina Sari"), ("ayah", "Bapak Hendra")]),
        # Without one, the name does.
        ("Hendra", [("ibu", "Ibu Rina"), ("ayah", "Hendra")]),
        ("rina", [("ibu", "rina"), ("ayah", "Bapak Hendra")]),
    ],
)
def test_the_one_parent_columns_on_parents_sharing_a_phone_find_the_one_named(
    client, make_student, make_guardian, name, after
):
    student = make_student("0812-1000-0003", name="Nadia", parent_name="Ibu Rina")
    make_guardian(student, "ayah", "0812-1000-0003", name="Bapak Hendra")
    rows = [[student.nis, "Nadia", "TK A Melati", name, "0812-1000-0003"]]

    confirm(client, upload(client, csv_upload(rows)))

    phone = "0812-1000-0003"
    assert guardians_of(student.nis) == [(relation, name, phone) for relation, name in after]


def test_a_second_guardian_of_the_same_relation_is_left_out_of_the_file_and_kept(
    client, make_student, make_guardian
):
    student = make_student("0812-3456-7890", name="Aisyah")  # Ibu Siti, mother
    make_guardian(student, "ibu", "0813-1111-2222", name="Ibu Rina")
    before = guardian_rows()

    content = export(client, "csv").content
    exported = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert exported[1][5:7] == ["Ibu Siti", "0812-3456-7890"]  # the first only
    assert "Ibu Rina" not in content.decode("utf-8-sig")

    confirm(client, upload(client, SimpleUploadedFile("students.csv", content)))

    assert guardian_rows() == before


# --- Export, and back ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_an_export_imports_back_without_a_change(client, make_student, make_guardian, kind):
    aisyah = make_student("0812-3456-7890", name="Aisyah Putri", whatsapp_registered=True)
    make_guardian(aisyah, "ayah", "6281311112222", name="Bapak Joko", receives_messages=False)
    make_student("+62 857 1234 5678", name="Budi Santoso", parent_name="Nenek Ani", relation="wali")
    citra = make_student(name="Citra Lestari")
    citra.guardians.all().delete()
    Guardian.objects.filter(relation="wali").update(
        whatsapp_registered=False, whatsapp_checked_at=timezone.now()
    )
    students = list(Student.objects.order_by("pk").values())
    before = guardian_rows()

    content = export(client, kind).content
    preview = upload(client, SimpleUploadedFile(f"students.{kind}", content))

    assert to_write(preview) == {2: "update", 3: "update", 4: "update"}
    assert preview_guardians(preview) == {
        2: [
            ("mother", "Ibu Siti", "valid number", "unchanged"),
            ("father", "Bapak Joko", "valid number", "unchanged"),
        ],
        3: [("guardian", "Nenek Ani", "valid number", "unchanged")],
        4: [],
    }
    confirm(client, preview)
    assert list(Student.objects.order_by("pk").values()) == students
    assert guardian_rows() == before


def test_the_export_reads_guardians_in_a_few_queries_whatever_the_students(
    client, make_student, make_guardian
):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert export(client, "csv").status_code == 200
        return len(captured)

    for _ in range(3):
        make_guardian(make_student(), "ayah")
    few = queries()
    for _ in range(30):
        make_guardian(make_student(), "ayah")

    assert queries() == few


# --- Queries ---------------------------------------------------------------------------------

#: Queries per row of the import before guardians (commit 75f951f, measured with 10 and 20
#: rows, preview and confirm alike): a savepoint and its release, the student by NIS, the
#: classroom, the NIS's uniqueness, the save, its history entry.
QUERIES_PER_ROW = 7


def family_rows(n, *, phone_end="1"):
    return [
        row(
            f"N{i:04d}",
            f"Siswa {i}",
            ayah=(f"Bapak {i}", f"0813-1111-{i:03d}{phone_end}"),
            ibu=(f"Ibu {i}", "0812-3456-7890"),
        )
        for i in range(n)
    ]


def import_queries(client, rows):
    with CaptureQueriesContext(connection) as preview_queries:
        preview = upload(client, csv_upload(rows, header=EXPORTED_HEADER))
    assert "confirm_form" in preview.context
    with CaptureQueriesContext(connection) as confirm_queries:
        confirm(client, preview)
    return len(preview_queries), len(confirm_queries)


def test_the_import_queries_per_row_did_not_grow_with_guardians(client, classroom, settings):
    settings.WHATSAPP_RUNNER = "celery"

    def per_row(phone_end):
        Student.objects.all().delete()
        new_10 = import_queries(client, family_rows(10, phone_end=phone_end))
        changed_10 = import_queries(client, family_rows(10, phone_end="9"))
        Student.objects.all().delete()
        new_20 = import_queries(client, family_rows(20, phone_end=phone_end))
        changed_20 = import_queries(client, family_rows(20, phone_end="9"))
        return [
            (b - a) / 10
            for pair in ((new_10, new_20), (changed_10, changed_20))
            for a, b in zip(*pair, strict=True)
        ]

    # New students with two guardians each; then each father's number changed.
    assert Guardian.objects.count() == 0
    assert per_row("1") == [QUERIES_PER_ROW] * 4
    assert Guardian.objects.count() == 40


def test_the_fathers_column_at_a_migrated_walis_number_is_that_wali_not_a_second_guardian(
    client, make_student
):
    """A parent without an honorific became a wali in the upgrade (students 0006); the first
    file with father's and mother's columns says who they are, without adding them twice."""
    student = make_student("0813-1111-2222", name="Aisyah", parent_name="Joko", relation="wali")
    [wali] = student.guardians.all()
    rows = [
        row(
            student.nis,
            "Aisyah",
            ayah=("Joko Susilo", "0813-1111-2222"),
            ibu=("Siti", "0812-3456-7890"),
        )
    ]

    confirm(client, upload(client, csv_upload(rows, header=EXPORTED_HEADER)))

    assert guardians_of(student.nis) == [
        ("ayah", "Joko Susilo", "0813-1111-2222"),  # the same number, as it was stored
        ("ibu", "Siti", "6281234567890"),
    ]
    assert student.guardians.first().pk == wali.pk


def test_a_wali_of_the_file_keeps_the_wali_at_the_fathers_number(client, make_student):
    """A real wali sharing the father's phone stays the wali when the file names the wali."""
    student = make_student("0813-1111-2222", name="Aisyah", parent_name="Nenek", relation="wali")
    rows = [
        row(
            student.nis,
            "Aisyah",
            ayah=("Joko", "0813-1111-2222"),
            wali=("Nenek", "0813-1111-2222"),
        )
    ]

    confirm(client, upload(client, csv_upload(rows, header=EXPORTED_HEADER)))

    assert sorted(guardians_of(student.nis)) == [
        ("ayah", "Joko", "6281311112222"),
        ("wali", "Nenek", "0813-1111-2222"),
    ]
