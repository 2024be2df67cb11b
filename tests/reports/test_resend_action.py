"""Repair in one click: resend a report's failed messages, after a confirmation page."""

import re
from unittest import mock

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.utils import timezone

from broadcasts.models import BroadcastArchive, BroadcastStatus, MonthlyReportBroadcast
from broadcasts.services import broadcast_resend
from reports.models import MonthlyReport
from students.models import Guardian
from tests.broadcast_rows import guardian_row

CHANGELIST = "/admin/reports/monthlyreport/"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def post_action(client, *reports, **extra):
    data = {
        "action": "resend_failed_broadcasts",
        "_selected_action": [report.pk for report in reports],
        **extra,
    }
    return client.post(CHANGELIST, data, **EN)


@pytest.fixture
def dispatch():
    with mock.patch("broadcasts.tasks.dispatch_pending_broadcasts.delay") as delay:
        yield delay


@pytest.fixture
def make_row(make_student):
    def make(report, status, *, name=None, error=""):
        return guardian_row(
            monthly_report=report,
            student=make_student(name=name),
            phone_number="6281234567890",
            message="Laporan bulan ini telah tersedia.",
            status=status,
            error_message=error,
            retry_count=3 if status == BroadcastStatus.FAILED else 1,
            sent_at=timezone.now() if status == BroadcastStatus.SENT else None,
            fonnte_message_id="80367170" if status == BroadcastStatus.SENT else "",
        )

    return make


@pytest.fixture
def mixed(report, make_row):
    """A report with two failed rows, one sent, one unknown and one still waiting."""
    return {
        "failed": [
            make_row(report, "failed", name="Aisyah Putri", error="Nomor tidak terdaftar"),
            make_row(report, "failed", name="Bima Saputra", error="Token Fonnte tidak valid"),
        ],
        "sent": make_row(report, "sent", name="Citra Lestari"),
        "unknown": make_row(report, "unknown", name="Dewi Anggraini"),
        "pending": make_row(report, "pending", name="Eko Prasetyo"),
    }


def text_of(html):
    """``html`` without its tags: a child's name may be a link."""
    return re.sub(r"<[^>]+>", "", html)


def statuses(rows):
    return [MonthlyReportBroadcast.objects.get(pk=row.pk).status for row in rows]


def test_the_confirmation_page_lists_failed_rows_and_unknown_ones_apart(
    admin_client, report, mixed, dispatch
):
    response = post_action(admin_client, report)

    assert response.status_code == 200
    assert response.templates[0].name.endswith("resend_failed_confirmation.html")
    page = response.content.decode()
    assert "2 failed messages will be sent again" in page
    assert "Aisyah Putri" in page and "Nomor tidak terdaftar" in page
    assert "Bima Saputra" in page and "Token Fonnte tidak valid" in page
    unknown = page[page.index("unknown outcome") :]
    assert "1 message has an unknown outcome and is NOT resent by this action" in page
    assert "Dewi Anggraini" in unknown and "Aisyah Putri" not in unknown
    assert "Citra Lestari" not in page  # sent: not listed, never resent
    assert (
        "/admin/broadcasts/monthlyreportbroadcast/"
        f"?monthly_report__id__exact={report.pk}&amp;status__exact=unknown"
    ) in page
    assert 'name="post" value="yes"' in page
    assert statuses(mixed["failed"]) == ["failed", "failed"]
    dispatch.assert_not_called()


def test_the_confirmation_page_counts_per_report(admin_client, classroom, report, make_row):
    other = MonthlyReport.objects.create(classroom=classroom, month=12, year=2026)
    make_row(report, "failed")
    for _ in range(3):
        make_row(other, "failed")

    page = post_action(admin_client, report, other).content.decode()

    counts = re.findall(r"(\d+) failed messages? will be sent again", page)
    assert sorted(map(int, counts)) == [1, 3]


def test_the_confirmation_page_shortens_long_lists(admin_client, report, make_row):
    for _ in range(25):
        make_row(report, "failed", error="Gagal mengirim")

    page = post_action(admin_client, report).content.decode()

    assert "25 failed messages will be sent again" in page
    assert page.count("Gagal mengirim") == 20
    assert "and 5 more" in page


def test_confirming_resends_only_the_failed_rows_after_commit(
    admin_client, report, mixed, dispatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post_action(admin_client, report, post="yes")

    assert response.status_code == 302
    dispatch.assert_not_called()  # nothing is published before the rows are committed
    for callback in callbacks:
        callback()
    dispatch.assert_called_once_with()

    failed = MonthlyReportBroadcast.objects.filter(pk__in=[r.pk for r in mixed["failed"]])
    assert {(r.status, r.retry_count, r.error_message) for r in failed} == {("pending", 0, "")}
    sent = MonthlyReportBroadcast.objects.get(pk=mixed["sent"].pk)
    assert (sent.status, sent.fonnte_message_id) == ("sent", "80367170")
    assert sent.sent_at == mixed["sent"].sent_at
    assert statuses([mixed["unknown"], mixed["pending"]]) == ["unknown", "pending"]

    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert f"{report}: 2 failed messages will be sent again." in message
    assert "1 message with an unknown outcome was not resent" in message


def test_a_report_without_failures_resends_nothing(
    admin_client, report, make_row, dispatch, django_capture_on_commit_callbacks
):
    sent = make_row(report, "sent")

    page = post_action(admin_client, report).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(admin_client, report, post="yes")

    assert "There is no failed message to resend." in page
    assert "will be sent again" not in page
    assert 'value="Yes, resend"' not in page  # nothing to confirm
    assert statuses([sent]) == ["sent"]
    dispatch.assert_not_called()
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert "no failed messages to resend" in message


def test_the_service_never_resends_a_sent_row_even_when_asked_to(report, make_row, dispatch):
    sent = make_row(report, "sent")
    unknown = make_row(report, "unknown")
    failed = make_row(report, "failed")

    outcome = broadcast_resend(broadcast_ids=[sent.pk, unknown.pk, failed.pk])

    assert outcome.resent == (failed.pk,)
    assert statuses([sent, unknown, failed]) == ["sent", "unknown", "pending"]


def test_an_archived_report_has_nothing_to_resend(admin_client, report, dispatch):
    BroadcastArchive.objects.create(monthly_report=report, sent=3, failed=1)

    page = post_action(admin_client, report).content.decode()

    assert "archived: there is nothing to resend" in page
    assert 'value="Yes, resend"' not in page


def test_staff_without_the_send_permission_cannot_resend(
    client, django_user_model, report, mixed, dispatch, django_capture_on_commit_callbacks
):
    clerk = django_user_model.objects.create_user("staf", password="pw", is_staff=True)
    clerk.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_monthlyreport", "change_monthlyreport"])
    )
    client.force_login(clerk)

    listing = client.get(CHANGELIST).content.decode()
    change_page = client.get(f"{CHANGELIST}{report.pk}/change/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        post_action(client, report)
        post_action(client, report, post="yes")

    assert "resend_failed_broadcasts" not in listing
    assert "resend_failed_broadcasts" not in change_page
    assert statuses(mixed["failed"]) == ["failed", "failed"]
    dispatch.assert_not_called()


def test_the_admin_group_may_resend(client, django_user_model, report, mixed, dispatch):
    user = django_user_model.objects.create_user("tu", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="admin"))
    client.force_login(user)

    post_action(client, report, post="yes")

    assert statuses(mixed["failed"]) == ["pending", "pending"]


def test_the_change_page_has_a_resend_button_that_opens_the_confirmation(
    admin_client, report, mixed, dispatch
):
    page = admin_client.get(f"{CHANGELIST}{report.pk}/change/", **EN).content.decode()
    form = re.search(
        r'<form method="post" action="([^"]+)" class="wa-resend-form">(.*?)</form>', page, re.S
    )

    assert form, "no resend button on the change page"
    assert form.group(1) == CHANGELIST
    assert 'name="action" value="resend_failed_broadcasts"' in form.group(2)
    assert f'name="_selected_action" value="{report.pk}"' in form.group(2)
    assert 'value="Resend failed messages"' in form.group(2)
    assert "status__exact=unknown" in page  # the unknown rows: a link to check them

    # What the button posts: the confirmation page, nothing changed yet.
    confirmation = post_action(admin_client, report)
    assert "2 failed messages will be sent again" in confirmation.content.decode()
    assert statuses(mixed["failed"]) == ["failed", "failed"]


def test_no_resend_button_without_failed_rows(admin_client, report, make_row):
    make_row(report, "sent")

    page = admin_client.get(f"{CHANGELIST}{report.pk}/change/").content.decode()

    assert "wa-resend-form" not in page


def test_the_unknown_link_opens_the_filtered_broadcast_list(admin_client, report, mixed):
    response = admin_client.get(
        "/admin/broadcasts/monthlyreportbroadcast/",
        {"monthly_report__id__exact": report.pk, "status__exact": "unknown"},
    )

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [mixed["unknown"]]


def test_a_failed_row_whose_student_has_no_number_now_is_kept_and_named(
    admin_client, report, mixed, dispatch, django_capture_on_commit_callbacks
):

    lost, corrected = mixed["failed"]
    Guardian.objects.filter(student_id=lost.student_id).update(phone="")
    Guardian.objects.filter(student_id=corrected.student_id).update(phone="0813-1111-2222")

    page = post_action(admin_client, report).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(admin_client, report, post="yes")

    assert "1 failed message will be sent again" in page
    assert "Not resent, the guardian has no phone number: 1." in page
    lost.refresh_from_db()
    corrected.refresh_from_db()
    assert (lost.status, lost.phone_number) == ("failed", "6281234567890")
    assert (corrected.status, corrected.phone_number) == ("pending", "6281311112222")
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert f"{report}: 1 failed message will be sent again." in message
    assert "Not resent, the guardian has no phone number: 1." in message


def test_a_number_still_invalid_is_counted_apart_and_named_to_fix_first(
    admin_client, report, mixed, dispatch, django_capture_on_commit_callbacks
):

    invalid = mixed["failed"][0]
    Guardian.objects.filter(student_id=invalid.student_id).update(phone="0812")

    page = post_action(admin_client, report).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(admin_client, report, post="yes")

    assert "1 failed message will be sent again" in page
    resent_list = page.split('class="wa-failed"')[1].split("</ul>")[0]
    assert "Bima Saputra" in resent_list and "Aisyah Putri" not in resent_list
    assert "Will fail again, the number is not a valid Indonesian mobile number: 1." in page
    invalid_list = text_of(page.split('class="wa-invalid"')[1].split("</ul>")[0])
    assert (
        f"Aisyah Putri ({invalid.student.nis}), Ibu Siti (mother): fix the number first"
        in invalid_list
    )
    # Confirming puts it back like the others (it fails at once, the admins are told); the
    # message counts only the one that goes to Fonnte.
    assert statuses(mixed["failed"]) == ["pending", "pending"]
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert f"{report}: 1 failed message will be sent again." in message
    assert "Will fail again, the number is not a valid Indonesian mobile number: 1." in message


def test_a_report_with_only_invalid_numbers_says_none_will_be_sent(
    admin_client, classroom, report, make_row, dispatch, django_capture_on_commit_callbacks
):

    other = MonthlyReport.objects.create(classroom=classroom, month=12, year=2026)
    invalid = make_row(report, "failed", name="Aisyah Putri")
    Guardian.objects.filter(student_id=invalid.student_id).update(phone="12345")
    make_row(other, "failed", name="Bima Saputra")

    page = post_action(admin_client, report, other).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(admin_client, report, other, post="yes")

    assert re.findall(r"(\d+) failed messages? will be sent again", page) == ["1"]
    assert "No failed message of this report can be resent now." in page
    messages = {str(m).split(":")[0]: str(m) for m in get_messages(response.wsgi_request)}
    assert messages[str(report)] == (
        f"{report}: no message will be sent again. Will fail again, the number is not a "
        "valid Indonesian mobile number: 1. Fix the guardian's number in the student data "
        "first, then resend."
    )
    assert messages[str(other)] == f"{other}: 1 failed message will be sent again."


def test_only_those_who_may_resend_see_the_unknown_link(client, admins, report, mixed):
    from django.contrib.auth import get_user_model

    teacher = get_user_model().objects.get(username="guru")
    teacher.groups.add(Group.objects.get(name="guru"))
    report.classroom.teachers.add(teacher)  # else the page is "not found" for them
    pages = {}
    for user in (teacher, admins[1]):
        client.force_login(user)
        pages[user.username] = client.get(f"{CHANGELIST}{report.pk}/change/").content.decode()

    # The counts link to the list for anyone who may view it; "check, then resend" does not.
    assert "wa-unknown-link" not in pages["guru"]
    assert "wa-unknown-link" in pages["tatausaha"]


def test_a_number_not_on_whatsapp_is_not_resent_and_named(
    admin_client, report, mixed, dispatch, django_capture_on_commit_callbacks
):

    flagged, other = mixed["failed"]
    Guardian.objects.filter(student_id=flagged.student_id).update(whatsapp_registered=False)

    page = post_action(admin_client, report).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(admin_client, report, post="yes")

    assert "1 failed message will be sent again" in page
    resent_list = page.split('class="wa-failed"')[1].split("</ul>")[0]
    assert "Bima Saputra" in resent_list and "Aisyah Putri" not in resent_list
    assert "Not resent, the number is not on WhatsApp: 1." in page
    flagged_list = text_of(page.split('class="wa-not-on-whatsapp"')[1].split("</ul>")[0])
    assert (
        f"Aisyah Putri ({flagged.student.nis}), Ibu Siti (mother): correct the number first"
        in flagged_list
    )
    assert statuses([flagged, other]) == ["failed", "pending"]
    flagged.refresh_from_db()
    assert (flagged.error_message, flagged.retry_count) == ("Nomor tidak terdaftar", 3)
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert message.startswith(f"{report}: 1 failed message will be sent again. Not resent, ")
    assert "Not resent, the number is not on WhatsApp: 1." in message


def test_a_report_whose_failed_rows_cannot_be_resent_says_none_will_be_sent(
    admin_client, report, make_row, dispatch, django_capture_on_commit_callbacks
):

    flagged = make_row(report, "failed", name="Aisyah Putri")
    Guardian.objects.filter(student_id=flagged.student_id).update(whatsapp_registered=False)

    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(admin_client, report, post="yes")

    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert message == (
        f"{report}: no message will be sent again. Not resent, the number is not on "
        "WhatsApp: 1. Correct the guardian's number in the student data, then resend."
    )
    dispatch.assert_not_called()
