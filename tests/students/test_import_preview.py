"""The import preview answers first: what will be imported, what is refused, who gets no
message; the valid rows of a file with rows in error are imported without a second upload."""

import pytest

from students.models import Student
from tests.students.test_import_export import (
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
