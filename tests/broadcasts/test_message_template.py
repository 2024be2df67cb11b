"""The school's own wording: one row, the text in use; placeholders checked before
anything is sent, preview, use."""

import pytest
from django.utils import translation

from broadcasts.messages import (
    DEFAULT_TEMPLATE,
    current_template,
    message_template_get_or_create,
    template_errors,
)
from broadcasts.models import MessageTemplate, MonthlyReportBroadcast
from broadcasts.services import broadcast_create_for_report

LIST_URL = "/admin/broadcasts/messagetemplate/"
ADD_URL = LIST_URL + "add/"
URL = LIST_URL + f"{MessageTemplate.SCHOOL_PK}/change/"


def school_writes(text):
    """The school's row, holding ``text`` (as if saved from the admin)."""
    template = message_template_get_or_create()
    template.text = text
    template.save()
    return template


def unchanged():
    """The row holds the default text still (or is not made yet: the same text in use)."""
    return current_template() == DEFAULT_TEMPLATE and MessageTemplate.objects.count() <= 1


def test_the_seed_text_is_a_valid_template():
    assert template_errors(DEFAULT_TEMPLATE) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Halo {nama_sisw}", "{nama_sisw}"),
        ("Halo {nama_siswa} {NAMA}", "{NAMA}"),
        ("Kurung {nama_siswa", "{{"),
        ("Kurung }", "{{"),
        ("   ", "Pesan kosong."),  # the message is empty
        ("Halo {0}", "{0}"),
        ("Halo {}", "{}"),
        ("Halo {nama_siswa.upper}", "{nama_siswa.upper}"),
        ("Halo {nama_siswa[0]}", "{nama_siswa[0]}"),
    ],
)
def test_a_misspelt_placeholder_or_stray_brace_is_an_error_that_names_it(text, expected):
    errors = template_errors(text)
    assert errors
    assert expected in " ".join(errors)


@pytest.mark.parametrize(
    "placeholder",
    [
        "{nama_siswa:d}",  # ValueError for a text when rendered
        "{nama_siswa!z}",  # ValueError: unknown conversion
        "{nama_siswa!r}",  # renders 'Aisyah' with quotes
        "{nama_siswa:>{kelas}}",  # a nested placeholder as the width
        "{bulan:%B}",
        "{tahun:>30}",  # pads the year with spaces
    ],
)
def test_a_format_spec_or_conversion_is_an_error_that_names_the_placeholder(placeholder):
    with translation.override("id"):
        errors = template_errors(f"Laporan {placeholder} sudah ada.")

    assert len(errors) == 1
    assert placeholder in errors[0]
    assert "Isian otomatis hanya berisi namanya" in errors[0]


def test_the_admin_form_refuses_a_format_spec(admin_client):
    response = admin_client.post(URL, {"text": "Laporan {nama_siswa:d} sudah ada."})

    form = response.context["adminform"].form
    assert "{nama_siswa:d}" in str(form.errors["text"])
    assert unchanged()


def test_the_default_is_used_until_the_school_writes_its_own(db):
    MessageTemplate.objects.all().delete()
    assert current_template() == DEFAULT_TEMPLATE
    school_writes("Ananda {nama_siswa}: laporan {bulan} {tahun} siap.")
    assert current_template() == "Ananda {nama_siswa}: laporan {bulan} {tahun} siap."


def test_new_rows_use_the_schools_template(report, make_student):
    school_writes("Yth. {nama_orang_tua}, laporan {nama_siswa} ({kelas}) {bulan} {tahun} siap.")
    make_student(name="Aisyah", parent_name="Ibu Siti")
    broadcast_create_for_report(monthly_report=report)
    assert MonthlyReportBroadcast.objects.get().message == (
        "Yth. Ibu Siti, laporan Aisyah (TK A Melati) November 2026 siap."
    )


def test_the_admin_form_refuses_a_typo_and_saves_nothing(admin_client):
    response = admin_client.post(URL, {"text": "Laporan {nama_sisw} sudah ada."})
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.has_error("text", code="invalid_template")
    assert "{nama_sisw}" in str(form.errors["text"])
    assert unchanged()


def test_the_admin_saves_a_good_template_and_previews_it_for_a_real_student(
    admin_client, report, make_student, admin_user
):
    make_student(name="Bima Saputra")
    response = admin_client.post(URL, {"text": "Laporan {nama_siswa} bulan {bulan}."})
    template = MessageTemplate.objects.get()
    assert response.status_code == 302
    assert template.updated_by == admin_user
    assert current_template() == "Laporan {nama_siswa} bulan {bulan}."

    page = admin_client.get(URL)
    assert "Laporan Bima Saputra bulan November." in page.content.decode()
    assert "{nama_orang_tua}" in page.content.decode()  # the placeholder list
    assert "<code>{nama_wali}</code>" in page.content.decode()


def test_the_preview_is_for_a_real_guardian_who_receives_messages_naming_the_child(
    admin_client, report, make_student, make_guardian
):
    student = make_student(name="Bima Saputra", parent_name="Ibu Ratna")
    student.guardians.update(receives_messages=False)  # the first guardian: not a recipient
    make_guardian(student, "ayah", name="Pak Hadi")
    school_writes("Yth. Bapak/Ibu {nama_wali}, laporan {nama_siswa} ({nama_orang_tua}).")

    page = admin_client.get(URL).content.decode()

    assert "Seperti yang akan dibaca Pak Hadi (ayah), wali murid Bima Saputra:" in page
    assert "Yth. Pak Hadi, laporan Bima Saputra (Pak Hadi)." in page
    assert "Ibu Ratna" not in page


def test_without_a_guardian_who_would_receive_it_the_preview_says_so(
    admin_client, report, make_student
):
    make_student(phone="")  # a guardian without a number
    school_writes("Laporan {nama_siswa}.")

    page = admin_client.get(URL).content.decode()

    assert "Belum ada wali dengan nomor WhatsApp yang menerima pesan." in page


def test_the_preview_is_not_for_a_guardian_whose_number_is_blank_or_not_on_whatsapp(
    admin_client, report, make_student, make_guardian
):
    """Such a guardian gets no message (delivery.guardian_delivery_problem): not "will read it"."""
    student = make_student(name="Bima Saputra", parent_name="Ibu Ratna", whatsapp_registered=False)
    make_guardian(student, "wali", "   ", name="Wali Kosong")
    make_guardian(student, "ayah", name="Pak Hadi")
    school_writes("Laporan {nama_siswa} untuk {nama_wali}.")

    page = admin_client.get(URL).content.decode()

    assert "Seperti yang akan dibaca Pak Hadi (ayah), wali murid Bima Saputra:" in page
    assert "Ibu Ratna" not in page
    assert "Wali Kosong" not in page


def test_there_is_one_template_per_school(admin_client, db):
    school_writes("Halo {nama_siswa}")
    assert admin_client.get(ADD_URL).status_code == 403


def test_preview_shows_the_posted_text_for_a_real_student_and_saves_nothing(
    admin_client, report, make_student
):
    make_student(name="Bima Saputra")
    response = admin_client.post(
        URL, {"text": "Laporan {nama_siswa} bulan {bulan}.", "_preview": "Pratinjau"}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "Laporan Bima Saputra bulan November." in page
    assert "errornote" not in page
    assert unchanged()


def test_preview_of_a_changed_text_leaves_the_saved_one(admin_client, report, make_student):
    make_student(name="Bima Saputra")
    template = school_writes("Lama: {nama_siswa}.")

    page = admin_client.post(URL, {"text": "Baru: {nama_siswa}.", "_preview": "Pratinjau"})

    assert page.status_code == 200
    assert "Baru: Bima Saputra." in page.content.decode()
    assert "Lama: Bima Saputra." not in page.content.decode()
    template.refresh_from_db()
    assert template.text == "Lama: {nama_siswa}."
    assert template.updated_by is None


def test_preview_of_a_misspelt_placeholder_is_the_form_error(admin_client, report, make_student):
    make_student(name="Bima Saputra")
    template = school_writes("Lama: {nama_siswa}.")

    response = admin_client.post(URL, {"text": "Baru: {nama_sisw}.", "_preview": "Pratinjau"})

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.has_error("text", code="invalid_template")
    assert "{nama_sisw}" in str(form.errors["text"])
    assert "Lama: Bima Saputra." not in response.content.decode()  # not the saved one's preview
    template.refresh_from_db()
    assert template.text == "Lama: {nama_siswa}."


def test_the_form_has_a_preview_button_in_indonesian(admin_client, db):
    page = admin_client.get(URL).content.decode()
    assert '<input type="submit" value="Pratinjau" name="_preview">' in page


# --- Length: Fonnte sends at most 60,000 characters ---------------------------------------


def form_errors(response):
    assert response.status_code == 200
    return " ".join(response.context["adminform"].form.errors.get("text", []))


def test_a_template_longer_than_fonnte_accepts_is_refused_in_indonesian(admin_client):
    response = admin_client.post(URL, {"text": "Halo {nama_siswa}. " + "x" * 100_000})

    errors = form_errors(response)
    assert "paling banyak 60000 karakter" in errors
    assert unchanged()


def test_a_template_whose_longest_message_is_too_long_is_refused_saying_how_long(admin_client):
    # 400 * 13 = 5,200 characters as written; 400 * 151 = 60,400 with 150-character names.
    text = "{nama_siswa}." * 400

    errors = form_errors(admin_client.post(URL, {"text": text}))

    assert errors.startswith("Pesan terlalu panjang")
    assert "bisa mencapai 60400 karakter" in errors
    assert "paling banyak 60000" in errors
    assert "paling banyak 4800 karakter (sekarang 5200)" in errors
    assert unchanged()


def test_the_length_check_fills_the_guardian_name_at_its_own_longest(admin_client, monkeypatch):
    """{nama_wali} and {nama_orang_tua} count at Guardian.name's length, not the student's."""
    from students.models import Guardian

    monkeypatch.setattr(Guardian._meta.get_field("name"), "max_length", 200)
    for placeholder in ("nama_wali", "nama_orang_tua"):
        # 300 * 201 = 60,300 with 200-character guardian names; 300 * 151 would fit.
        errors = form_errors(admin_client.post(URL, {"text": f"{{{placeholder}}}." * 300}))

        assert "bisa mencapai 60300 karakter" in errors
        assert "wali: 200" in errors
    assert unchanged()


def test_a_template_whose_longest_message_just_fits_is_saved(admin_client, settings):
    settings.SCHOOL_WEBSITE = ""  # its line is left out of every message
    padding = 60_000 - 100 - len("September") - len("\n")
    text = "{kelas}{bulan}\n" + "x" * padding + "\nInfo: {situs_sekolah}"

    assert admin_client.post(URL, {"text": text}).status_code == 302

    assert MessageTemplate.objects.get().text.replace("\r\n", "\n") == text


def test_the_school_name_counts_at_its_configured_length(settings):
    text = "{nama_sekolah}" + "x" * (60_000 - 20)
    settings.SCHOOL_NAME = "S" * 20
    assert template_errors(text) == []

    settings.SCHOOL_NAME = "S" * 21
    assert len(template_errors(text)) == 1


# --- One row: the text in use, always there, edited, never added or deleted ----------------


def test_the_list_shows_the_text_in_use_as_one_editable_row_on_a_fresh_database(admin_client):
    MessageTemplate.objects.all().delete()  # as after a flush: nothing made yet

    page = admin_client.get(LIST_URL).content.decode()

    template = MessageTemplate.objects.get()
    assert (template.pk, template.text) == (MessageTemplate.SCHOOL_PK, DEFAULT_TEMPLATE)
    assert "1 templat pesan" in page and "0 templat pesan" not in page
    assert f'href="{URL}"' in page
    assert ADD_URL not in page  # no "Tambah", here or in the side menu
    assert 'value="delete_selected"' not in page


def test_the_change_page_opens_on_a_fresh_database_with_the_default_text(admin_client):
    MessageTemplate.objects.all().delete()

    response = admin_client.get(URL)

    assert response.status_code == 200
    assert response.context["adminform"].form["text"].value() == DEFAULT_TEMPLATE
    page = response.content.decode()
    assert "/delete/" not in page and "deletelink" not in page


def test_the_row_can_be_neither_added_nor_deleted(admin_client, db):
    message_template_get_or_create()

    assert admin_client.get(ADD_URL).status_code == 403
    assert admin_client.post(ADD_URL, {"text": "Halo {nama_siswa}"}).status_code == 403
    assert admin_client.post(URL + "../delete/", {"post": "yes"}).status_code == 403
    assert MessageTemplate.objects.count() == 1


def test_the_row_is_made_once(db):
    MessageTemplate.objects.all().delete()

    first, second = message_template_get_or_create(), message_template_get_or_create()

    assert first.pk == second.pk == MessageTemplate.SCHOOL_PK
    assert MessageTemplate.objects.count() == 1


def test_the_migration_keeps_the_text_a_school_wrote_as_the_one_row(db):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("broadcasts.migrations.0009_message_template_one_row")
    MessageTemplate.objects.all().delete()
    MessageTemplate.objects.create(pk=5, text="Tulisan sekolah: {nama_siswa}.")
    MessageTemplate.objects.create(pk=9, text="Tidak pernah dipakai.")

    migration.keep_the_text_in_use(apps, None)

    assert list(MessageTemplate.objects.values_list("pk", "text")) == [
        (MessageTemplate.SCHOOL_PK, "Tulisan sekolah: {nama_siswa}.")
    ]
    assert current_template() == "Tulisan sekolah: {nama_siswa}."


def test_the_default_text_button_puts_it_back_in_the_form_unsaved(
    admin_client, report, make_student
):
    make_student(name="Bima Saputra")
    template = school_writes("Lama: {nama_siswa}.")

    response = admin_client.post(URL, {"text": "Lama: {nama_siswa}.", "_default": "Teks bawaan"})

    assert response.status_code == 200
    assert response.context["adminform"].form["text"].value() == DEFAULT_TEMPLATE
    assert "Silakan hubungi wali kelas TK A Melati" in response.content.decode()  # previewed
    template.refresh_from_db()
    assert template.text == "Lama: {nama_siswa}."
