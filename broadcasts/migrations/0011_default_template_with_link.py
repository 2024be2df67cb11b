"""The default message gains the personal link line ({tautan_laporan}, issue 13).

The school's template row (SCHOOL_PK) changes only while it holds the old default text
exactly: a text the school wrote itself is never touched. Reversible the same way. The
texts are copied here, not imported: a later change of DEFAULT_TEMPLATE must not change
what this migration did.
"""

from django.db import migrations

SCHOOL_PK = 1

OLD_DEFAULT = (
    "🔔 *Notifikasi {nama_sekolah}*\n"
    "\n"
    "Assalamualaikum Yth. Orang Tua/Wali dari *{nama_siswa}*\n"
    "\n"
    "Laporan perkembangan ananda *{nama_siswa}*\n"
    "Laporan bulan *{bulan} {tahun}* telah tersedia.\n"
    "\n"
    "Silakan hubungi wali kelas {kelas} untuk melihat detail laporan.\n"
    "Informasi lebih lanjut: {situs_sekolah}\n"
    "\n"
    "Terima kasih atas perhatiannya.\n"
    "\n"
    "_Pesan otomatis dari {nama_sekolah}_"
)

NEW_DEFAULT = (
    "🔔 *Notifikasi {nama_sekolah}*\n"
    "\n"
    "Assalamualaikum Yth. Orang Tua/Wali dari *{nama_siswa}*\n"
    "\n"
    "Laporan perkembangan ananda *{nama_siswa}*\n"
    "Laporan bulan *{bulan} {tahun}* telah tersedia.\n"
    "Buka laporan ananda di sini: {tautan_laporan}\n"
    "\n"
    "Silakan hubungi wali kelas {kelas} untuk melihat detail laporan.\n"
    "Informasi lebih lanjut: {situs_sekolah}\n"
    "\n"
    "Terima kasih atas perhatiannya.\n"
    "\n"
    "_Pesan otomatis dari {nama_sekolah}_"
)


def _replace(old, new):
    def run(apps, schema_editor):
        template = apps.get_model("broadcasts", "MessageTemplate")
        text = template.objects.filter(pk=SCHOOL_PK).values_list("text", flat=True).first()
        # Compared here, not in SQL: MariaDB's collations ignore trailing spaces and case.
        if text == old:
            template.objects.filter(pk=SCHOOL_PK).update(text=new)

    return run


class Migration(migrations.Migration):
    dependencies = [("broadcasts", "0010_personal_links")]

    operations = [
        migrations.RunPython(_replace(OLD_DEFAULT, NEW_DEFAULT), _replace(NEW_DEFAULT, OLD_DEFAULT))
    ]
