"""Students from CSV/XLSX through the admin's two steps (upload, then confirm), and back out."""

import csv
import io

import openpyxl
import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError
from django.forms import BooleanField
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from students.models import Classroom, Guardian, Student
from students.phones import InvalidPhoneNumber, normalize_phone
from students.resources import StudentResource

IMPORT_URL = reverse("admin:students_student_import")
PROCESS_URL = reverse("admin:students_student_process_import")
EXPORT_URL = reverse("admin:students_student_export")
#: A file of earlier versions: one parent per student (English headings, as exported then).
HEADER = ["nis", "full_name", "classroom", "parent_name", "parent_phone"]
#: What the export writes: the import page's first names, in Indonesian, a name and a
#: number for the father, the mother and the guardian.
EXPORTED_HEADER = [
    "nis",
    "nama_lengkap",
    "kelas",
    "nama_ayah",
    "nomor_ayah",
    "nama_ibu",
    "nomor_ibu",
    "nama_wali",
    "nomor_wali",
]

GOOD_ROWS = [
    ["N001", "Aisyah Putri", "TK A Melati", "Ibu Siti", "0812-3456-7890"],
    ["N002", "Budi Santoso", "TK A Melati", "Bapak Joko", "+62 813 1111 2222"],
    ["N003", "Citra Lestari", "TK A Melati", "", ""],
]
# Data rows 1-5, spreadsheet rows 2-6: rows 3 (phone) and 5 (no NIS) are in error.
MIXED_ROWS = [
    GOOD_ROWS[0],
    ["N010", "Dewi Anggraini", "TK A Melati", "Ibu Rina", "0812"],
    GOOD_ROWS[1],
    ["", "Eko Prasetyo", "TK A Melati", "Ibu Ani", "0812-9999-8888"],
    GOOD_ROWS[2],
]


@pytest.fixture(autouse=True)
def upload_dir(tmp_path, settings):
    """Where an upload is kept between preview and confirm (students.imports)."""
    settings.STUDENT_IMPORT_DIR = tmp_path / "imports"
    return settings.STUDENT_IMPORT_DIR


@pytest.fixture
def client(admin_client):
    """The superuser's client, in English: reasons are compared with their English msgids."""
    admin_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return admin_client


def csv_upload(rows, header=HEADER, delimiter=","):
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    return SimpleUploadedFile("students.csv", text.getvalue().encode(), "text/csv")


def xlsx_upload(rows, header=HEADER):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    content = io.BytesIO()
    book.save(content)
    return SimpleUploadedFile(
        "students.xlsx",
        content.getvalue(),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


UPLOADS = {"csv": csv_upload, "xlsx": xlsx_upload}


def format_index(response, extension):
    """The value of the form's format choice for ``extension`` ("csv" or "xlsx")."""
    choices = dict(response.context["form"].fields["format"].choices)
    return next(value for value, title in choices.items() if title == extension)


def upload(client, file, *, valid_rows_only=False):
    """Step 1: upload the file; the response is the preview."""
    page = client.get(IMPORT_URL)
    extension = file.name.rsplit(".", 1)[1]
    data = {"resource": "0", "format": format_index(page, extension), "import_file": file}
    if valid_rows_only:
        data["valid_rows_only"] = "on"
    return client.post(IMPORT_URL, data)


def confirm(client, preview, **override):
    """Step 2: post the confirm form exactly as the preview rendered it."""
    form = preview.context["confirm_form"]
    data = {name: form[name].value() for name in form.fields}
    data.update(override)
    return client.post(PROCESS_URL, data)


def invalid(preview):
    """{spreadsheet row: [reasons]} of the rows in error the preview lists."""
    return {item["row"]: item["errors"] for item in preview.context["student_invalid_rows"]}


def to_write(preview):
    """{spreadsheet row: "new" | "update"} of the rows the preview will write."""
    return {item["row"]: item["import_type"] for item in preview.context["student_valid_rows"]}


def guardians_of(nis):
    """``[(relation, name, phone)]`` of the student's guardians, oldest first."""
    return list(
        Guardian.objects.filter(student__nis=nis)
        .order_by("pk")
        .values_list("relation", "name", "phone")
    )


def reason_of(raw_phone, label="Parent's WhatsApp number"):
    with translation.override("en"):
        try:
            normalize_phone(raw_phone)
        except InvalidPhoneNumber as err:
            return f"{label}: " + gettext("Invalid WhatsApp number: %(reason)s") % {
                "reason": err.reason
            }
    raise AssertionError(f"{raw_phone!r} is a valid number")


def blank_reason(label):
    with translation.override("en"):
        return f"{label}: " + gettext("This field cannot be blank.")


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_good_file_is_previewed_and_written_only_on_confirm(client, classroom, kind, upload_dir):
    preview = upload(client, UPLOADS[kind](GOOD_ROWS))

    assert preview.status_code == 200
    assert "confirm_form" in preview.context
    assert to_write(preview) == {2: "new", 3: "new", 4: "new"}
    assert not Student.objects.exists()

    done = confirm(client, preview)
    assert not list(upload_dir.iterdir())

    assert done.status_code == 302
    # One guardian per parent, the relation read off the honorific; none for empty cells.
    assert guardians_of("N001") == [("ibu", "Ibu Siti", "6281234567890")]
    assert guardians_of("N002") == [("ayah", "Bapak Joko", "6281311112222")]
    assert guardians_of("N003") == []
    budi = Student.objects.get(nis="N002")
    assert (budi.full_name, budi.classroom) == ("Budi Santoso", classroom)
    assert LogEntry.objects.count() == 3


def test_spreadsheet_numbers_and_blank_lines_are_read_as_typed(client, classroom):
    """Numbers typed as numbers (NIS, phone without its 0) and a trailing blank line."""
    rows = [[1234567890, "Aisyah Putri", "tk a melati", "Ibu Siti", 81234567890.0]]
    rows.append([None, None, None, None, None])

    preview = upload(client, xlsx_upload(rows))

    assert to_write(preview) == {2: "new"}
    assert not preview.context["student_invalid_rows"]
    confirm(client, preview)
    student = Student.objects.get()
    assert (student.nis, student.classroom) == ("1234567890", classroom)
    assert guardians_of("1234567890") == [("ibu", "Ibu Siti", "6281234567890")]


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_file_with_bad_rows_lists_them_and_imports_nothing_before_a_confirm(
    client, classroom, kind, upload_dir
):
    preview = upload(client, UPLOADS[kind](MIXED_ROWS))

    assert preview.status_code == 200
    assert invalid(preview) == {3: [reason_of("0812")], 5: [blank_reason("NIS")]}
    page = preview.content.decode()
    assert reason_of("0812").split(": ", 1)[1] in page
    assert not Student.objects.exists()
    # The preview's confirm imports the valid rows only, from the upload kept for it.
    assert preview.context["confirm_form"]["valid_rows_only"].value() is True
    assert len(list(upload_dir.iterdir())) == 1


def test_a_confirm_without_the_choice_imports_nothing_from_a_file_with_bad_rows(client, classroom):
    """The server enforces the policy, whatever the confirm form says."""
    preview = upload(client, csv_upload(MIXED_ROWS), valid_rows_only=True)

    done = confirm(client, preview, valid_rows_only="False")

    assert done.status_code == 302
    assert done.url == IMPORT_URL
    assert not Student.objects.exists()
    assert not LogEntry.objects.exists()
    assert [m.level_tag for m in get_messages(done.wsgi_request)] == ["error"]


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_only_the_valid_rows_are_imported_when_the_admin_chooses_so(client, classroom, kind):
    preview = upload(client, UPLOADS[kind](MIXED_ROWS), valid_rows_only=True)

    assert "confirm_form" in preview.context
    assert invalid(preview) == {3: [reason_of("0812")], 5: [blank_reason("NIS")]}
    assert to_write(preview) == {2: "new", 4: "new", 6: "new"}
    assert not Student.objects.exists()

    done = confirm(client, preview)

    assert done.status_code == 302
    assert set(Student.objects.values_list("nis", flat=True)) == {"N001", "N002", "N003"}
    notes = [str(m) for m in get_messages(done.wsgi_request) if m.level_tag == "warning"]
    assert len(notes) == 1
    assert "Row 3: " + reason_of("0812") in notes[0]
    assert "Row 5: " + blank_reason("NIS") in notes[0]


def test_a_too_long_nis_and_a_missing_name_are_row_errors(client, classroom):
    rows = [["12345678901", "Aisyah", "TK A Melati", "", ""], ["N001", "", "TK A Melati", "", ""]]

    preview = upload(client, csv_upload(rows))

    errors = {
        row.number + 1: row.error.error_dict for row in preview.context["result"].invalid_rows
    }
    assert errors[2]["nis"][0].code == "max_length"
    assert errors[3]["full_name"][0].code == "blank"


def test_importing_again_updates_students_instead_of_adding_them(client, classroom):
    confirm(client, upload(client, csv_upload(GOOD_ROWS)))
    [first] = Guardian.objects.filter(student__nis="N001")
    changed = [["N001", "Aisyah Putri Rahma", "TK A Melati", "Ibu Siti", "0857 1234 5678"]]

    preview = upload(client, xlsx_upload(changed + GOOD_ROWS[1:]))

    assert to_write(preview) == {2: "update", 3: "update", 4: "update"}
    assert Student.objects.get(nis="N001").full_name == "Aisyah Putri"  # not before confirm
    assert guardians_of("N001") == [("ibu", "Ibu Siti", "6281234567890")]
    confirm(client, preview)
    assert Student.objects.count() == 3
    assert Student.objects.get(nis="N001").full_name == "Aisyah Putri Rahma"
    # The same guardian, its number changed: no second one.
    assert guardians_of("N001") == [("ibu", "Ibu Siti", "6285712345678")]
    assert Guardian.objects.get(student__nis="N001").pk == first.pk
    assert Guardian.objects.count() == 2


def test_an_unknown_classroom_refuses_the_row_and_creates_no_classroom(client, classroom):
    rows = [GOOD_ROWS[0], ["N002", "Budi", "TK B Mawar", "", ""]]

    preview = upload(client, csv_upload(rows), valid_rows_only=True)

    with translation.override("en"):
        reason = "Classroom: " + gettext(
            'There is no classroom named "%(name)s". Add it under Classrooms first.'
        ) % {"name": "TK B Mawar"}
    assert invalid(preview) == {3: [reason]}
    confirm(client, preview)
    assert list(Student.objects.values_list("nis", flat=True)) == ["N001"]
    assert list(Classroom.objects.values_list("name", flat=True)) == ["TK A Melati"]


def test_a_nis_twice_in_one_file_refuses_the_second_row(client, classroom):
    rows = [GOOD_ROWS[0], ["N001", "Someone Else", "TK A Melati", "", ""]]

    preview = upload(client, csv_upload(rows))

    with translation.override("en"):
        reason = "NIS: " + gettext("NIS %(nis)s is already on row %(row)s of this file.") % {
            "nis": "N001",
            "row": 2,
        }
    assert invalid(preview) == {3: [reason]}


def test_a_csv_saved_with_semicolons_and_capitalised_headings_is_read(client, classroom):
    header = ["NIS", "Full_Name", "Classroom", "Parent_Name", "Parent_Phone"]

    preview = upload(client, csv_upload(GOOD_ROWS, header=header, delimiter=";"))

    assert to_write(preview) == {2: "new", 3: "new", 4: "new"}


INDONESIAN_HEADER = ["NIS", "Nama Lengkap", "Kelas", "Nama orang tua", "Nomor WhatsApp"]


@pytest.mark.parametrize(
    ("kind", "header"),
    [
        ("xlsx", INDONESIAN_HEADER),
        ("csv", ["nis", "nama_lengkap", "kelas", "nama_orang_tua", "nomor_hp"]),
        ("csv", [" Nis", "NAMA SISWA", "kelas ", "Nama_Orang_Tua", "No. HP"]),
        ("xlsx", ["nis", "nama lengkap", "classroom", "nama orang tua", "telepon"]),
    ],
)
def test_a_file_with_indonesian_headings_is_imported(client, classroom, kind, header):
    preview = upload(client, UPLOADS[kind](GOOD_ROWS, header=header))

    assert to_write(preview) == {2: "new", 3: "new", 4: "new"}
    confirm(client, preview)
    budi = Student.objects.get(nis="N002")
    assert (budi.full_name, budi.classroom) == ("Budi Santoso", classroom)
    assert guardians_of("N002") == [("ayah", "Bapak Joko", "6281311112222")]


def missing_column_error(label, headings):
    return (
        f"Berkas tidak memiliki kolom “{label}” (nama yang diterima: {headings}). "
        "Baris pertama berkas harus berisi nama-nama kolom."
    )


def test_a_file_without_a_column_is_refused_whole_naming_the_column(admin_client, classroom):
    header = ["NIS", "Nama Lengkap", "Kelompok", "Nama orang tua", "Nomor WhatsApp"]

    preview = upload(admin_client, xlsx_upload(GOOD_ROWS, header=header))

    assert "confirm_form" not in preview.context
    result = preview.context["result"]
    assert [str(error.error) for error in result.base_errors] == [
        missing_column_error("Kelas", "kelas, classroom")
    ]
    # Named once for the file, not once per row.
    assert not result.invalid_rows and not list(result.row_errors())
    assert missing_column_error("Kelas", "kelas, classroom") in page_text(preview)
    assert not Student.objects.exists()


def test_a_file_without_the_nis_column_is_refused_whole(admin_client, classroom):
    rows = [row[1:] for row in GOOD_ROWS]

    preview = upload(admin_client, csv_upload(rows, header=HEADER[1:]))

    assert "confirm_form" not in preview.context
    assert missing_column_error("NIS", "nis") in page_text(preview)
    assert not Student.objects.exists()


def test_two_columns_for_the_number_refuse_the_file(admin_client, classroom):
    header = ["nis", "nama_lengkap", "kelas", "nama_orang_tua", "no_hp", "Telepon"]
    rows = [[*row, "0813-0000-1111"] for row in GOOD_ROWS]

    preview = upload(admin_client, csv_upload(rows, header=header))

    assert "confirm_form" not in preview.context
    assert (
        "Dua kolom sama-sama berisi “Nomor WhatsApp orang tua”: “no_hp” dan “Telepon”. "
        "Sisakan satu saja." in page_text(preview)
    )
    assert not Student.objects.exists()


def test_other_columns_are_ignored(client, classroom):
    header = [*HEADER, "Catatan"]
    rows = [[*row, "alergi kacang"] for row in GOOD_ROWS]

    preview = upload(client, csv_upload(rows, header=header))

    assert to_write(preview) == {2: "new", 3: "new", 4: "new"}


def test_an_unexpected_error_on_confirm_rolls_the_whole_file_back(client, classroom, monkeypatch):
    """Even with "only the valid rows": rows are all-or-nothing and so is a failed file."""
    preview = upload(client, csv_upload(GOOD_ROWS), valid_rows_only=True)
    original_save = StudentResource.do_instance_save

    def fail_on_the_last_row(self, instance, is_create):
        if instance.nis == "N003":
            raise IntegrityError("disk full")
        original_save(self, instance, is_create)

    monkeypatch.setattr(StudentResource, "do_instance_save", fail_on_the_last_row)

    done = confirm(client, preview)

    assert done.status_code == 302
    assert done.url == IMPORT_URL
    assert not Student.objects.exists()
    assert not LogEntry.objects.exists()


def export(client, extension):
    page = client.get(EXPORT_URL)
    form = page.context["form"]
    data = {name: "on" for name, field in form.fields.items() if isinstance(field, BooleanField)}
    data["format"] = format_index(page, extension)
    return client.post(EXPORT_URL, data)


def test_export_to_csv_has_every_student_with_each_guardian(client, make_student, make_guardian):
    aisyah = make_student("0812-3456-7890", name="Aisyah Putri")
    make_guardian(aisyah, "ayah", "6281311112222", name="Bapak Joko")
    make_student("", name="Budi Santoso", parent_name="Nenek Ani", relation="wali")

    response = export(client, "csv")

    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [
        EXPORTED_HEADER,
        [
            "N00001",
            "Aisyah Putri",
            "TK A Melati",
            "Bapak Joko",
            "6281311112222",
            "Ibu Siti",
            "0812-3456-7890",  # as stored, as before
            "",
            "",
        ],
        ["N00002", "Budi Santoso", "TK A Melati", "", "", "", "", "Nenek Ani", ""],
    ]


def test_export_to_xlsx_has_every_student_with_each_guardian(client, make_student):
    make_student("6281234567890", name="Aisyah Putri")

    response = export(client, "xlsx")

    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert [list(row) for row in sheet.iter_rows(values_only=True)] == [
        EXPORTED_HEADER,
        [
            "N00001",
            "Aisyah Putri",
            "TK A Melati",
            None,
            None,
            "Ibu Siti",
            "6281234567890",
            None,
            None,
        ],
    ]


def test_an_exported_file_imports_back_as_updates(client, make_student):
    make_student("0812-3456-7890", name="Aisyah Putri")
    exported = export(client, "xlsx").content

    preview = upload(client, SimpleUploadedFile("students.xlsx", exported))

    assert to_write(preview) == {2: "update"}


def staff_client(client, django_user_model, *codenames):
    user = django_user_model.objects.create_user("guru", password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="students", codename__in=codenames)
    )
    client.force_login(user)
    return client


def test_a_staff_user_who_cannot_add_and_change_students_cannot_import(
    client, django_user_model, classroom
):
    viewer = staff_client(client, django_user_model, "view_student")

    assert viewer.get(IMPORT_URL).status_code == 403
    data = {"import_file_name": "x", "original_file_name": "x.csv", "format": "0"}
    assert viewer.post(PROCESS_URL, data).status_code == 403
    assert viewer.get(EXPORT_URL).status_code == 403  # exporting has its own permission
    assert not Student.objects.exists()


def test_a_staff_user_who_can_add_and_change_students_can_import(
    client, django_user_model, classroom
):
    editor = staff_client(
        client, django_user_model, "view_student", "add_student", "change_student"
    )

    confirm(editor, upload(editor, csv_upload(GOOD_ROWS)))

    assert Student.objects.count() == 3


def test_a_staff_user_who_cannot_view_students_cannot_export(client, django_user_model):
    outsider = staff_client(client, django_user_model)

    assert outsider.get(EXPORT_URL).status_code == 403


# --- In Indonesian: the library's own strings come from our catalog -----------------------

# What django-import-export 4.x shows in English on these pages without our catalog.
LIBRARY_ENGLISH = [
    "This importer will import the following fields",
    "This exporter will export the following fields",
    "File to import",
    "Format:",
    'value="Submit"',
    "Select all",
    "Confirm import",
    ">Import<",
    ">Export<",
    "Import |",
    "Export |",
    "Full Name",
    "encountered while trying to read file",
    "Some rows failed to validate",
    "Preview",
]


def page_text(response):
    """The page without its tags, whitespace collapsed; buttons' values kept as attributes."""
    assert response.status_code == 200
    return " ".join(response.content.decode().split())


def assert_no_library_english(html):
    assert [english for english in LIBRARY_ENGLISH if english in html] == []


def test_the_student_list_offers_import_and_export_in_indonesian(admin_client, make_student):
    make_student()

    html = page_text(admin_client.get(reverse("admin:students_student_changelist")))

    assert 'class="import_link">Impor</a>' in html
    assert 'class="export_link">Ekspor</a>' in html
    assert_no_library_english(html)


def test_the_upload_page_is_in_indonesian(admin_client, classroom):
    html = page_text(admin_client.get(IMPORT_URL))

    assert "<title>Impor |" in html and "<h1>Impor</h1>" in html
    assert "Impor ini membaca kolom berikut dari berkas:" in html
    assert ">Berkas yang diimpor:</label>" in html
    assert ">Format berkas:</label>" in html
    assert 'value="Lanjutkan"' in html
    assert_no_library_english(html)


def test_the_upload_page_lists_the_accepted_column_names_in_indonesian(admin_client, classroom):
    html = page_text(admin_client.get(IMPORT_URL))

    assert (
        "Impor ini membaca kolom berikut dari berkas: <code>nis, nama_lengkap, kelas, "
        "nama_orang_tua, nomor_whatsapp, nama_ayah, nomor_ayah, nama_ibu, nomor_ibu, "
        "nama_wali, nomor_wali</code>" in html
    )
    assert "<caption>Nama kolom yang diterima di baris pertama berkas</caption>" in html
    assert (
        "<td>Nama lengkap</td> <td><code>nama_lengkap</code>, <code>nama_siswa</code>, "
        "<code>full_name</code></td>" in html
    )
    assert "<td>Nomor WhatsApp orang tua</td>" in html and "<code>no_hp</code>" in html
    assert "<td>Nama ayah</td> <td><code>nama_ayah</code>, <code>nama_bapak</code></td>" in html
    assert "<td>Nomor WhatsApp ibu</td> <td><code>nomor_ibu</code>, " in html
    assert "<code>no_hp_wali</code>" in html
    assert "Huruf besar/kecil, spasi, dan tanda baca tidak dibedakan" in html


def assert_columns_named_as_on_the_form(html):
    """The preview's tables name their columns as the student form does, not as the code."""
    assert "<th>Nama lengkap</th>" in html and "<th>Wali murid</th>" in html
    assert "<th>full_name</th>" not in html and "<th>parent_phone</th>" not in html


def test_the_preview_of_a_good_file_is_in_indonesian(admin_client, classroom):
    html = page_text(upload(admin_client, csv_upload(GOOD_ROWS)))

    assert "<h1>Impor</h1>" in html
    assert "Baris yang akan diimpor" in html and "Akan ditambahkan" in html
    assert 'value="Konfirmasi impor"' in html
    assert_no_library_english(html)
    assert_columns_named_as_on_the_form(html)


def test_the_preview_of_a_file_with_bad_rows_is_in_indonesian(admin_client, classroom):
    html = page_text(upload(admin_client, csv_upload(MIXED_ROWS)))

    assert "Baris bermasalah" in html and "Nomor WhatsApp tidak valid" in html
    assert_no_library_english(html)
    assert_columns_named_as_on_the_form(html)


def test_a_row_in_error_is_named_by_its_row_and_its_column_as_on_the_form(admin_client, classroom):
    """Not by the field's name in the code ("parent_phone: …")."""
    preview = upload(admin_client, csv_upload(MIXED_ROWS))
    html = page_text(preview)

    assert '<td class="row-number">3</td>' in html and '<td class="row-number">5</td>' in html
    assert "<li>Nomor WhatsApp orang tua: Nomor WhatsApp tidak valid: " in html
    assert "<li>NIS: Field ini tidak boleh kosong.</li>" in html
    assert "parent_phone:" not in html and "nis:" not in html


def test_after_an_import_of_the_valid_rows_the_rows_left_out_are_named_in_indonesian(
    admin_client, classroom
):
    done = confirm(admin_client, upload(admin_client, csv_upload(MIXED_ROWS), valid_rows_only=True))

    [note] = [str(m) for m in get_messages(done.wsgi_request) if m.level_tag == "warning"]
    assert "Baris 3: Nomor WhatsApp orang tua: Nomor WhatsApp tidak valid: " in note
    assert "Baris 5: NIS: Field ini tidak boleh kosong." in note


def test_an_unreadable_file_is_refused_in_indonesian(admin_client, classroom):
    garbage = SimpleUploadedFile("students.xlsx", b"not a workbook")

    html = page_text(upload(admin_client, garbage))

    assert "Berkas tidak dapat dibaca (" in html
    assert "Pastikan format berkas yang dipilih sesuai dengan berkasnya." in html
    assert_no_library_english(html)


def test_the_export_page_is_in_indonesian(admin_client, make_student):
    make_student()

    html = page_text(admin_client.get(EXPORT_URL))

    assert "<title>Ekspor |" in html and "<h1>Ekspor</h1>" in html
    assert "Ekspor ini menulis kolom berikut ke berkas:" in html
    assert "Pilih semua" in html
    # Each column as on the student form, with the heading the file gets.
    assert "Nama lengkap (nama_lengkap)" in html
    assert "Nama ayah (nama_ayah)" in html and "Nomor WhatsApp ibu (nomor_ibu)" in html
    assert "Nomor WhatsApp wali (nomor_wali)" in html
    # The one parent's columns are read, not written.
    assert "(nomor_whatsapp)" not in html and "(nama_orang_tua)" not in html
    assert "(full_name)" not in html and "(parent_phone)" not in html
    assert 'value="Lanjutkan"' in html
    assert_no_library_english(html)


def test_an_export_without_any_column_is_refused_in_indonesian(admin_client, make_student):
    make_student()
    page = admin_client.get(EXPORT_URL)

    html = page_text(admin_client.post(EXPORT_URL, {"format": format_index(page, "csv")}))

    assert "Pilih setidaknya 1 kolom siswa untuk diekspor." in html


def test_the_library_strings_are_english_again_in_english(client, classroom):
    """The catalog translates, it does not replace: English stays available."""
    html = page_text(client.get(IMPORT_URL))

    assert "This importer will import the following fields:" in html
    assert "<h1>Import</h1>" in html
