"""Who may do what: admins send and repair, teachers only look, non-staff reach nothing."""

from unittest import mock

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages

from broadcasts.models import BroadcastStatus, MonthlyReportBroadcast


@pytest.fixture
def member(django_user_model, client):
    def login(group, *, is_staff=True):
        user = django_user_model.objects.create_user(group, password="pw", is_staff=is_staff)
        user.groups.add(Group.objects.get(name=group))
        client.force_login(user)
        return user

    return login


def test_admin_groups_can_send_resend_and_edit_the_template(db):
    for name in ("super_admin", "admin"):
        codenames = set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))
        assert {"send_whatsapp_broadcast", "add_messagetemplate", "change_student"} <= codenames
        assert "change_monthlyreportbroadcast" not in codenames  # rows are a record


def test_a_teacher_sees_reports_and_delivery(member, client, report):
    member("guru")
    assert client.get("/admin/reports/monthlyreport/").status_code == 200
    assert client.get("/admin/broadcasts/monthlyreportbroadcast/").status_code == 200
    assert client.get("/admin/students/student/add/").status_code == 403


@pytest.fixture
def delivery(report, make_student):
    """A report with a failed row, an unknown row and a student not messaged yet."""
    rows = [
        MonthlyReportBroadcast.objects.create(
            monthly_report=report,
            student=make_student(),
            phone_number="6281234567890",
            status=status,
        )
        for status in (BroadcastStatus.FAILED, BroadcastStatus.UNKNOWN)
    ]
    make_student()
    return rows


REPORTS = "/admin/reports/monthlyreport/"
BROADCASTS = "/admin/broadcasts/monthlyreportbroadcast/"


@pytest.mark.parametrize(
    ("changelist", "action"),
    [
        (REPORTS, "send_whatsapp_broadcast"),
        (REPORTS, "resend_failed_broadcasts"),
        (BROADCASTS, "retry_failed"),
        (BROADCASTS, "resend_unknown"),
    ],
)
def test_a_teacher_cannot_run_any_action_that_changes_delivery(
    member, client, report, delivery, changelist, action, django_capture_on_commit_callbacks
):
    member("guru")
    selected = [report.pk] if changelist == REPORTS else [row.pk for row in delivery]
    before = list(MonthlyReportBroadcast.objects.order_by("pk").values_list("pk", "status"))

    with (
        mock.patch("broadcasts.tasks.dispatch_pending_broadcasts.delay") as dispatch,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        response = client.post(
            changelist, {"action": action, "_selected_action": selected, "post": "yes"}
        )

    # The action is not offered to a teacher, so Django runs nothing and shows the list
    # again (a teacher has no action at all there): no confirmation, no message.
    assert response.status_code == 200
    assert response.templates[0].name.endswith("/change_list.html")
    assert response.context["action_form"] is None
    assert not list(get_messages(response.wsgi_request))
    assert list(MonthlyReportBroadcast.objects.order_by("pk").values_list("pk", "status")) == (
        before
    )
    assert not LogEntry.objects.exists()
    assert callbacks == []
    dispatch.assert_not_called()


def test_a_teacher_cannot_edit_the_message_template(member, client):
    member("guru")
    assert client.get("/admin/broadcasts/messagetemplate/add/").status_code == 403


def test_without_staff_status_nothing_is_reachable(member, client):
    member("admin", is_staff=False)
    for url in (
        "/admin/",
        "/admin/reports/monthlyreport/",
        "/admin/broadcasts/monthlyreportbroadcast/",
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]
