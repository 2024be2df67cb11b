"""The broadcast list's "resend the selected failed messages": a confirmation page first."""

import re
from unittest import mock

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages

from broadcasts.models import BroadcastStatus, MonthlyReportBroadcast

CHANGELIST = "/admin/broadcasts/monthlyreportbroadcast/"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def dispatch():
    with mock.patch("broadcasts.tasks.dispatch_pending_broadcasts.delay") as delay:
        yield delay


@pytest.fixture
def rows(report, make_student):
    def make(status, name, error=""):
        return MonthlyReportBroadcast.objects.create(
            monthly_report=report,
            student=make_student(name=name),
            phone_number="6281234567890",
            status=status,
            error_message=error,
        )

    return {
        "failed": make("failed", "Aisyah Putri", "Nomor tidak terdaftar di WhatsApp"),
        "sent": make("sent", "Bima Saputra"),
        "unknown": make("unknown", "Citra Lestari"),
        "pending": make("pending", "Dewi Anggraini"),
    }


def post_action(client, selected, path=CHANGELIST, **extra):
    data = {
        "action": "retry_failed",
        "_selected_action": [row.pk for row in selected],
        **extra,
    }
    return client.post(path, data, **EN)


def status_of(row):
    return MonthlyReportBroadcast.objects.get(pk=row.pk).status


def test_the_action_shows_a_confirmation_first(admin_client, rows, dispatch):
    response = post_action(admin_client, rows.values(), index="0")

    assert response.status_code == 200
    assert response.templates[0].name.endswith("retry_failed_confirmation.html")
    page = response.content.decode()
    assert "1 failed message will be sent again" in page
    assert "Aisyah Putri" in page and "Nomor tidak terdaftar di WhatsApp" in page
    assert "1 message already sent: never sent twice." in page
    assert "1 message with an unknown outcome" in page
    assert "Resend the selected unknown messages" in page
    assert "1 message still waiting or being sent." in page
    for row in rows.values():
        assert f'name="_selected_action" value="{row.pk}"' in page
    assert 'name="post" value="yes"' in page
    assert status_of(rows["failed"]) == BroadcastStatus.FAILED
    dispatch.assert_not_called()


def test_confirming_resends_the_failed_rows_only(
    admin_client, rows, dispatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(admin_client, rows.values(), post="yes")

    assert response.status_code == 302
    assert {name: status_of(row) for name, row in rows.items()} == {
        "failed": "pending",
        "sent": "sent",
        "unknown": "unknown",
        "pending": "pending",
    }
    dispatch.assert_called_once_with()
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert "1 failed message will be sent again." in message


def test_nothing_to_resend_offers_no_confirm_button(admin_client, rows, dispatch):
    page = post_action(admin_client, [rows["sent"], rows["unknown"]]).content.decode()

    assert "0 failed messages will be sent again" in page
    assert 'value="Yes, resend"' not in page


def test_select_all_across_pages_is_carried_to_the_confirmation(
    admin_client, rows, make_student, dispatch, django_capture_on_commit_callbacks
):
    # "Select all N" on a filtered list: only the rows on the page come as checkboxes.
    other_failed = MonthlyReportBroadcast.objects.create(
        monthly_report=rows["sent"].monthly_report,
        student=make_student(name="Eko Prasetyo"),
        phone_number="6281234567890",
        status="failed",
    )
    filtered = f"{CHANGELIST}?status__exact=failed"

    page = post_action(admin_client, [rows["failed"]], filtered, select_across="1")
    confirm = {
        name: value
        for name, value in re.findall(
            r'<input type="hidden" name="(\w+)" value="([^"]*)">', page.content.decode()
        )
    }
    with django_capture_on_commit_callbacks(execute=True):
        post_action(admin_client, [rows["failed"]], filtered, **confirm)

    assert "2 failed messages will be sent again" in page.content.decode()
    assert confirm["select_across"] == "1"
    assert status_of(rows["failed"]) == "pending"
    assert status_of(other_failed) == "pending"
    assert status_of(rows["sent"]) == "sent"


def test_a_teacher_cannot_resend(client, django_user_model, rows, dispatch):
    teacher = django_user_model.objects.create_user("guru", password="pw", is_staff=True)
    teacher.groups.add(Group.objects.get(name="guru"))
    client.force_login(teacher)

    response = post_action(client, rows.values())
    post_action(client, rows.values(), post="yes")

    assert not [t for t in response.templates if t.name.endswith("retry_failed_confirmation.html")]
    assert status_of(rows["failed"]) == "failed"
    dispatch.assert_not_called()


def test_resending_rows_records_who_did_it_on_each_row(
    admin_client, admin_user, report, make_student
):
    from unittest import mock

    from django.contrib.admin.models import LogEntry

    from broadcasts.models import MonthlyReportBroadcast

    failed = MonthlyReportBroadcast.objects.create(
        monthly_report=report,
        student=make_student(),
        phone_number="6281234567890",
        status="failed",
    )
    sent = MonthlyReportBroadcast.objects.create(
        monthly_report=report,
        student=make_student(),
        phone_number="6281234567891",
        status="sent",
    )
    with mock.patch("broadcasts.tasks.dispatch_pending_broadcasts.delay"):
        admin_client.post(
            "/admin/broadcasts/monthlyreportbroadcast/",
            {"action": "retry_failed", "_selected_action": [failed.pk, sent.pk], "post": "yes"},
        )
    assert list(LogEntry.objects.values_list("object_id", "user")) == [
        (str(failed.pk), admin_user.pk)
    ]
