from broadcasts.messages import message_context, render_message


def test_the_message_follows_the_seed_template_with_the_month_in_indonesian(
    report, make_student, settings
):
    student = make_student(name="Aisyah Putri")
    text = render_message(message_context(student=student, monthly_report=report))
    assert text == (
        "🔔 *Notifikasi TK ABA Assalam*\n"
        "\n"
        "Assalamualaikum Yth. Orang Tua/Wali dari *Aisyah Putri*\n"
        "\n"
        "Laporan perkembangan ananda *Aisyah Putri*\n"
        "Laporan bulan *November 2026* telah tersedia\n"
        "\n"
        "Silahkan login ke sistem untuk melihat detail laporan.\n"
        "Informasi lebih lanjut: https://tkassalam.example.sch.id\n"
        "\n"
        "Terima kasih atas perhatiannya.\n"
        "\n"
        "_Pesan otomatis dari TK ABA Assalam_"
    )


def test_month_names_are_indonesian_even_when_the_admin_uses_english(
    report, make_student, settings
):
    from django.utils import translation

    report.month = 8
    with translation.override("en"):
        text = render_message(message_context(student=make_student(), monthly_report=report))
    assert "*Agustus 2026*" in text


def test_school_name_comes_from_settings_and_the_website_line_is_dropped_without_one(
    report, make_student, settings
):
    settings.SCHOOL_NAME = "TK Harapan"
    settings.SCHOOL_WEBSITE = ""
    text = render_message(message_context(student=make_student(), monthly_report=report))
    assert "*Notifikasi TK Harapan*" in text
    assert "_Pesan otomatis dari TK Harapan_" in text
    assert "Informasi lebih lanjut" not in text
