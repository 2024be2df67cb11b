"""The broadcast and student pages as school staff read them: who a message is for (child,
guardian and relation), a failure's reason in its row,
attempts numbered 1, 2, 3, receipts and settings in the school's words, and no button on a
page where nothing can be changed or deleted."""

import html
import re

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from broadcasts.models import (
    BroadcastAttempt,
    BroadcastStatus,
    MessageTemplate,
    MonthlyReportBroadcast,
)
from tests.broadcast_rows import guardian_row

BROADCASTS = "/admin/broadcasts/monthlyreportbroadcast/"
STUDENTS = "/admin/students/student/"
PHONE, MASKED = "6281234567890", "62812****7890"
REASON = f"Fonnte menolak nomor ini: target invalid {PHONE}, periksa nomor orang tua di data siswa"
#: Words of the code that a school admin must not meet on a page (as whole words).
DEVELOPER_WORDS = re.compile(
    r"\b(workers?|placeholders?|endpoints?|lease|tokens?|webhooks?|payload|raw|queued?|"
    r"SCHOOL_NAME|SCHOOL_WEBSITE|FONNTE_\w+|respons|delivered|read)\b",
    re.IGNORECASE,
)


@pytest.fixture
def staff(django_user_model, client):
    """Log in as a superuser, a member of an admin group, or a teacher of the class."""

    def login(role, classroom=None):
        if role == "superuser":
            user = django_user_model.objects.create_superuser("root", password="pw")
        else:
            user = django_user_model.objects.create_user(role, password="pw", is_staff=True)
            user.groups.add(Group.objects.get(name=role))
            if classroom is not None:
                classroom.teachers.add(user)
        client.force_login(user)
        return user

    return login


@pytest.fixture
def failed(report, make_student):
    """A failed row resent once: its attempts are stored as 1, 2, then 1 again."""
    row = guardian_row(
        monthly_report=report,
        student=make_student(PHONE, name="Aisyah Putri"),
        phone_number=PHONE,
        message="m",
        status=BroadcastStatus.FAILED,
        error_message=REASON,
        response='{"status": false, "reason": "target invalid"}',
    )
    start = timezone.now()
    for minute, (number, outcome) in enumerate([(1, "retry"), (2, "failed"), (1, "failed")]):
        BroadcastAttempt.objects.create(
            broadcast=row,
            number=number,
            started_at=start + timezone.timedelta(minutes=minute),
            finished_at=start + timezone.timedelta(minutes=minute, seconds=5),
            outcome=outcome,
            detail="Fonnte: target invalid",
        )
    return row


def text_of(page: str) -> str:
    """What the reader sees: the page's text without tags, scripts and attributes."""
    body = page.split("<body", 1)[1]
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def attempt_numbers(page: str) -> list[str]:
    return re.findall(r'<td class="field-ordinal"><p>(\d+)</p></td>', page)


@pytest.mark.parametrize("role", ["superuser", "admin", "super_admin", "guru"])
def test_a_rows_page_offers_no_save_and_no_delete(client, staff, failed, role):
    staff(role, classroom=failed.monthly_report.classroom)

    page = client.get(f"{BROADCASTS}{failed.pk}/change/").content.decode()
    changelist = client.get(BROADCASTS)

    for button in ('name="_save"', 'name="_continue"', 'name="_addanother"', "deletelink"):
        assert button not in page, button
    assert client.get(f"{BROADCASTS}{failed.pk}/delete/").status_code == 403
    assert client.post(f"{BROADCASTS}{failed.pk}/change/", {"status": "sent"}).status_code == 403
    actions = changelist.context["action_form"]
    offered = [name for name, _label in actions.fields["action"].choices] if actions else []
    assert "delete_selected" not in offered
    failed.refresh_from_db()
    assert failed.status == BroadcastStatus.FAILED


def test_a_student_with_messages_still_cannot_be_deleted(client, staff, failed):
    """The rows' PROTECT still guards the record, whoever may no longer delete a row."""
    staff("superuser")
    student = failed.student

    page = client.post(f"{STUDENTS}{student.pk}/delete/", {"post": "yes"})

    assert page.status_code == 200  # Django's "cannot delete" page, not a redirect
    assert MonthlyReportBroadcast.objects.filter(student=student).exists()


@pytest.mark.parametrize("role", ["admin", "guru"])
def test_the_attempts_are_numbered_1_2_3_in_the_order_they_were_made(client, staff, failed, role):
    staff(role, classroom=failed.monthly_report.classroom)

    page = client.get(f"{BROADCASTS}{failed.pk}/change/").content.decode()

    assert attempt_numbers(page) == ["1", "2", "3"]
    assert f"#{failed.pk}." not in page


def test_receipts_are_said_terkirim_diterima_dibaca(client, staff, report, make_student):
    staff("admin")
    rows = {
        state: guardian_row(
            monthly_report=report,
            student=make_student(),
            phone_number=PHONE,
            message="m",
            status=BroadcastStatus.SENT,
            sent_at=timezone.now(),
            delivery_state=state,
        )
        for state in ("sent", "delivered", "read")
    }

    listed = text_of(client.get(BROADCASTS).content.decode())
    pages = {
        state: text_of(client.get(f"{BROADCASTS}{row.pk}/change/").content.decode())
        for state, row in rows.items()
    }

    assert "diterima" in pages["delivered"] and "dibaca" in pages["read"]
    assert "terkirim" in pages["sent"]
    assert "· diterima" in listed and "· dibaca" in listed
    # The filter names the states the same way.
    for word in ("terkirim", "diterima", "dibaca"):
        assert re.search(rf"\b{word}\b", listed), word
    for text in (listed, *pages.values()):
        assert not re.search(r"\b(delivered|read)\b", text)


@pytest.mark.parametrize(("role", "shown"), [("admin", PHONE), ("guru", MASKED)])
def test_a_failed_rows_status_and_reason_are_in_its_row(client, staff, failed, role, shown):
    staff(role, classroom=failed.monthly_report.classroom)
    reason = REASON.replace(PHONE, shown)

    page = client.get(BROADCASTS).content.decode()

    row = re.search(r"<tr>.*?</tr>", page.split("<tbody>", 1)[1], flags=re.DOTALL).group(0)
    assert '<strong class="wa-status wa-status-failed">Gagal</strong>' in row
    # Shortened on screen by list.css, whole in its title and in the text.
    assert f'<span class="wa-clip wa-reason" title="{reason}">{reason}</span>' in row
    assert shown in row and "Aisyah Putri" in row
    if shown == MASKED:
        assert PHONE not in page


@pytest.mark.parametrize(("role", "shown"), [("admin", PHONE), ("guru", MASKED)])
def test_the_broadcast_list_and_row_page_name_the_guardian_and_relation(
    client, staff, report, make_student, make_guardian, role, shown
):
    """Who each message is for: the child, then the guardian and relation, then the number
    (masked for a teacher); a guardian removed since leaves the number only."""
    staff(role, classroom=report.classroom)
    child = make_student(PHONE, name="Aisyah Putri", parent_name="Siti")
    ayah = make_guardian(child, "ayah", "0813-1111-2222", name="Budi")
    rows = [
        guardian_row(monthly_report=report, student=child, guardian=g, phone_number=p, message="m")
        for g, p in ((child.guardians.get(relation="ibu"), PHONE), (ayah, "6281311112222"))
    ]
    gone = make_student("0814-5555-6666", name="Bima Saputra")
    guardian_row(monthly_report=report, student=gone, phone_number="6281455556666", message="m")
    gone.guardians.all().delete()

    page = client.get(BROADCASTS, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    row_page = client.get(f"{BROADCASTS}{rows[0].pk}/change/", HTTP_ACCEPT_LANGUAGE="en")

    # Under the child, the guardian's name (shortened if long) and the relation, in full in
    # the title; then the number.
    siti = (
        '<span class="wa-guardian" title="Siti (mother)">'
        '<span class="wa-guardian-name">Siti</span>'
        '<span class="wa-relation"> (mother)</span></span>'
    )
    assert f'{siti}<span class="wa-quiet">{shown}</span>' in page
    assert (
        '<span class="wa-guardian" title="Budi (father)">'
        '<span class="wa-guardian-name">Budi</span>'
        '<span class="wa-relation"> (father)</span></span>'
    ) in page
    assert '<span class="wa-guardian" title=""></span>' in page  # Bima's, removed
    assert "Siti (mother)" in text_of(row_page.content.decode())
    if shown == MASKED:
        assert PHONE not in page and "6281311112222" not in page
        assert PHONE not in row_page.content.decode()


@pytest.mark.parametrize("role", ["superuser", "admin", "guru"])
def test_no_developer_word_on_the_pages_staff_read(client, staff, failed, report, role):
    staff(role, classroom=report.classroom)
    urls = [
        BROADCASTS,
        f"{BROADCASTS}{failed.pk}/change/",
        f"{BROADCASTS}?status__exact=failed",
        STUDENTS,
        f"{STUDENTS}{failed.student.pk}/change/",
        "/admin/reports/monthlyreport/",
        f"/admin/reports/monthlyreport/{report.pk}/change/",
    ]
    if role != "guru":
        urls += [
            f"/admin/broadcasts/messagetemplate/{MessageTemplate.SCHOOL_PK}/change/",
            "/admin/broadcasts/fonntedevice/",
        ]

    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        text = text_of(response.content.decode())
        assert DEVELOPER_WORDS.findall(text) == [], url


def test_the_message_page_names_the_school_and_its_automatic_fields(client, staff, settings):
    settings.SCHOOL_WEBSITE = "https://tkassalam.sch.id"
    staff("admin")

    text = text_of(
        client.get(
            f"/admin/broadcasts/messagetemplate/{MessageTemplate.SCHOOL_PK}/change/"
        ).content.decode()
    )

    assert "Isian otomatis" in text
    assert f"nama sekolah: {settings.SCHOOL_NAME}" in text
    assert "situs sekolah: https://tkassalam.sch.id" in text
    assert not DEVELOPER_WORDS.findall(text)
