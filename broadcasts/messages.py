"""The WhatsApp text a parent receives."""

from dataclasses import dataclass

from django.conf import settings

from reports.months import month_name

# The seed system's text, kept word for word. It is content the school writes
# for parents (always Indonesian), not interface text, so it is not a msgid.
DEFAULT_TEMPLATE = (
    "🔔 *Notifikasi {school_name}*\n"
    "\n"
    "Assalamualaikum Yth. Orang Tua/Wali dari *{student_name}*\n"
    "\n"
    "Laporan perkembangan ananda *{student_name}*\n"
    "Laporan bulan *{month} {year}* telah tersedia\n"
    "\n"
    "Silahkan login ke sistem untuk melihat detail laporan.\n"
    "Informasi lebih lanjut: {school_website}\n"
    "\n"
    "Terima kasih atas perhatiannya.\n"
    "\n"
    "_Pesan otomatis dari {school_name}_"
)


@dataclass(frozen=True)
class MessageContext:
    student_name: str
    parent_name: str
    classroom: str
    month: str
    year: int
    school_name: str
    school_website: str


def message_context(*, student, monthly_report) -> MessageContext:
    """Everything a template may use, for one student and report."""
    return MessageContext(
        student_name=student.full_name,
        parent_name=student.parent_name,
        classroom=monthly_report.classroom.name,
        month=month_name(monthly_report.month),
        year=monthly_report.year,
        school_name=settings.SCHOOL_NAME,
        school_website=settings.SCHOOL_WEBSITE,
    )


def render_message(context: MessageContext, template: str = DEFAULT_TEMPLATE) -> str:
    """Fill in the template; a line about the website is dropped when the school has none."""
    lines = template.splitlines()
    if not context.school_website:
        lines = [line for line in lines if "{school_website}" not in line]
    return "\n".join(lines).format(**context.__dict__)
