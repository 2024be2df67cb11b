"""The import preview answers first: what will be imported, what is refused, who gets no
message; the valid rows of a file with rows in error are imported without a second upload."""

import re

import pytest

from students.models import Student
from tests.students.test_import_export import (
    EXPORTED_HEADER,
    GOOD_ROWS,
    IMPORT_URL,
    MIXED_ROWS,
    confirm,
    csv_upload,
    page_text,
    upload,
)

# Spreadsheet rows 2-7: rows 3, 5 and 6 are in error, row 4 has no number.
FOUR_REFUSED = [
    GOOD_ROWS[0],
    ["N010", "Dewi Anggraini", "TK A Melati", "Ibu Rina", "0812"],
    GOOD_ROWS[2],
    ["", "Eko Prasetyo", "TK A Melati", "Ibu Ani", "0812-9999-8888"],
    ["N011", "", "TK A Melati", "Ibu Ani", "0812-9999-8888"],
    ["N012", "Fajar", "TK Tidak Ada", "Ibu Ani", "0812-9999-8887"],
]


@pytest.fixture(autouse=True)
def upload_dir(tmp_path, settings):
    settings.STUDENT_IMPORT_DIR = tmp_path / "imports"
    return settings.STUDENT_IMPORT_DIR


def before(html, first, then):
    """Whether ``first`` is on the page, above ``then``."""
    return first in html and then in html and html.index(first) < html.index(then)


def test_the_verdict_comes_first_with_counts_and_the_first_refused_rows(admin_client, classroom):
    html = page_text(upload(admin_client, csv_upload(FOUR_REFUSED)))

    verdict = html[html.index('id="import-verdict"') : html.index('class="student-import-confirm"')]
    assert "Berkas: <strong>students.csv</strong>" in verdict
    assert "2 baris akan diimpor (ditambahkan: 2, diperbarui: 0)." in verdict
    assert "4 baris ditolak dan tidak akan diimpor:" in verdict
    assert "<li>Baris 3: Nomor WhatsApp orang tua: Nomor WhatsApp tidak valid: " in verdict
    assert "<li>Baris 5: NIS: Field ini tidak boleh kosong.</li>" in verdict
    assert "<li>dan 1 lainnya, tercantum di bawah</li>" in verdict
    assert "Baris 7" not in verdict  # the fourth is in the full list below
    # The verdict and its button before the full lists.
    assert before(html, 'id="import-verdict"', 'value="Impor 2 baris yang valid"')
    assert before(html, 'value="Impor 2 baris yang valid"', "<h2>Baris bermasalah</h2>")
    assert before(html, "<h2>Baris bermasalah</h2>", '<td class="row-number">7</td>')


def test_the_valid_rows_are_imported_from_the_kept_upload_without_a_second_one(
    admin_client, classroom, upload_dir
):
    preview = upload(admin_client, csv_upload(MIXED_ROWS))
    assert not Student.objects.exists()

    done = confirm(admin_client, preview)

    assert done.status_code == 302
    assert set(Student.objects.values_list("nis", flat=True)) == {"N001", "N002", "N003"}
    assert not list(upload_dir.iterdir())  # read once, then deleted


def test_the_upload_page_no_longer_asks_about_valid_rows_in_advance(admin_client, classroom):
    page = admin_client.get(IMPORT_URL)

    assert "valid_rows_only" not in page.context["form"].fields


def test_a_student_without_a_number_is_flagged_in_the_verdict_and_the_row(admin_client, classroom):
    html = page_text(upload(admin_client, csv_upload(GOOD_ROWS)))

    assert (
        "1 siswa tanpa nomor WhatsApp tidak akan menerima pesan (baris 4: Citra Lestari)." in html
    )
    assert html.count("tanpa nomor: tidak akan menerima pesan") == 1
    assert 'value="Konfirmasi impor"' in html  # nothing refused: a plain confirm
    assert "ditolak" not in html


def test_an_update_that_empties_a_number_is_flagged_too(admin_client, classroom, make_student):
    student = make_student("0812-3456-7890", name="Aisyah Putri")
    Student.objects.filter(pk=student.pk).update(nis="N001")
    rows = [["N001", "Aisyah Putri", "TK A Melati", "Ibu Siti", " "]]

    html = page_text(upload(admin_client, csv_upload(rows)))

    assert "diperbarui: 1" in html
    assert "1 siswa tanpa nomor WhatsApp tidak akan menerima pesan (baris 2: Aisyah Putri)" in html


def test_a_file_with_no_valid_row_says_so_first_and_keeps_no_upload(
    admin_client, classroom, upload_dir
):
    rows = [["N010", "Dewi Anggraini", "TK A Melati", "Ibu Rina", "0812"]]

    preview = upload(admin_client, csv_upload(rows))

    assert "confirm_form" not in preview.context
    html = page_text(preview)
    assert before(html, "Tidak ada baris berkas ini yang dapat diimpor", 'name="import_file"')
    assert "1 baris ditolak dan tidak akan diimpor:" in html
    assert not list(upload_dir.iterdir())


# --- Guardians -------------------------------------------------------------------------------


def guardian_cells(html, row):
    """The text of the "Wali murid" cell of the spreadsheet's ``row`` among the rows to import."""
    start = html.index(f'<td class="row-number">{row}</td>', html.index("student-valid-rows"))
    cell = html.index('<td class="guardians">', start)
    return re.sub(r"<[^>]+>", "", html[cell : html.index("</td>", cell)]).split()


def test_each_guardian_is_shown_with_its_number_check_and_what_changes(
    admin_client, make_student, make_guardian
):
    student = make_student("0812-3456-7890", name="Aisyah Putri", whatsapp_registered=True)
    make_guardian(student, "ayah", "0812", name="Bapak Joko")  # stored before numbers were checked
    Student.objects.filter(pk=student.pk).update(nis="N001")
    rows = [
        # The mother's number changes, the father's cells are empty, a guardian is new.
        [
            "N001",
            "Aisyah Putri",
            "TK A Melati",
            "",
            "",
            "Ibu Siti",
            "0857-1234-5678",
            "Nenek Ani",
            "",
        ],
        ["N002", "Budi Santoso", "TK A Melati", "Bapak Joko", "0813-1111-2222", "", "", "", ""],
    ]

    html = page_text(upload(admin_client, csv_upload(rows, header=EXPORTED_HEADER)))

    assert " ".join(guardian_cells(html, 2)) == (
        "Ibu: Ibu Siti, 6285712345678 nomor valid · nomor diubah "
        "Ayah: Bapak Joko, 0812 nomor tidak valid: Nomor telepon terlalu pendek, terlalu "
        "panjang, atau tidak ada. · tetap seperti sekarang: kolomnya kosong atau tidak ada "
        "di berkas "
        "Wali: Nenek Ani tanpa nomor · wali murid baru"
    )
    assert " ".join(guardian_cells(html, 3)) == (
        "Ayah: Bapak Joko, 6281311112222 nomor valid · wali murid baru"
    )
    assert (
        "Wali murid: baru 2; nomor diubah 1; nama atau hubungan diubah 0; tidak berubah 1." in html
    )
    # The student's own columns, then the guardians: no column per guardian cell.
    header = html[
        html.index("student-valid-rows") : html.index("</thead>", html.index("student-valid-rows"))
    ]
    assert re.findall(r"<th>([^<]*)</th>", header) == [
        "Baris",
        "",
        "NIS",
        "Nama lengkap",
        "Kelas",
        "Wali murid",
    ]


def test_a_student_without_a_guardian_is_flagged(admin_client, classroom):
    rows = [["N001", "Citra Lestari", "TK A Melati", "", "", "", "", "", ""]]

    html = page_text(upload(admin_client, csv_upload(rows, header=EXPORTED_HEADER)))

    assert guardian_cells(html, 2) == ["tanpa", "wali", "murid"]
    assert "1 siswa tanpa nomor WhatsApp tidak akan menerima pesan (baris 2: Citra Lestari)" in html


def test_a_refused_guardian_number_is_named_by_its_column_and_shown_with_the_file(
    admin_client, classroom
):
    header = [*EXPORTED_HEADER, "catatan"]
    rows = [
        ["N001", "Aisyah", "TK A Melati", "Bapak Joko", "0812", "", "", "", "", "alergi"],
        ["N002", "Budi", "TK A Melati", "", "", "Ibu Ani", "0812-3456-7890", "", "", ""],
    ]

    html = page_text(upload(admin_client, csv_upload(rows, header=header)))

    verdict = html[html.index('id="import-verdict"') : html.index("<h2>Baris bermasalah</h2>")]
    assert "<li>Baris 2: Nomor WhatsApp ayah: Nomor WhatsApp tidak valid: " in verdict
    table = html[
        html.index("student-invalid-rows") : html.index(
            "</table>", html.index("student-invalid-rows")
        )
    ]
    assert re.findall(r"<th>([^<]*)</th>", table) == [
        "Baris",
        "Kesalahan",
        "NIS",
        "Nama lengkap",
        "Kelas",
        "Nama ayah",
        "Nomor WhatsApp ayah",
        "Nama ibu",
        "Nomor WhatsApp ibu",
        "Nama wali",
        "Nomor WhatsApp wali",
    ]
    assert (
        "<td>N001</td><td>Aisyah</td><td>TK A Melati</td><td>Bapak Joko</td><td>0812</td>" in table
    )


def test_the_upload_page_says_what_empty_guardian_cells_do(admin_client, classroom):
    html = page_text(admin_client.get(IMPORT_URL))

    assert (
        "Wali murid yang sel nama dan nomornya sama-sama kosong dibiarkan seperti sekarang" in html
    )
    assert "impor tidak pernah menghapus wali murid" in html
