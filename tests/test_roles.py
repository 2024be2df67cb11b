"""Who may do what: admins send and repair, teachers only look, non-staff reach nothing."""

import pytest
from django.contrib.auth.models import Group

from broadcasts.models import MonthlyReportBroadcast


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


def test_a_teacher_sees_reports_and_delivery_but_cannot_send(member, client, report, make_student):
    member("guru")
    make_student()
    assert client.get("/admin/reports/monthlyreport/").status_code == 200
    assert client.get("/admin/broadcasts/monthlyreportbroadcast/").status_code == 200
    assert client.get("/admin/students/student/add/").status_code == 403

    response = client.post(
        "/admin/reports/monthlyreport/",
        {"action": "send_whatsapp_broadcast", "_selected_action": [report.pk], "post": "yes"},
    )

    assert not MonthlyReportBroadcast.objects.exists()
    assert response.status_code in (200, 302)
    assert (
        "send_whatsapp_broadcast"
        not in client.get("/admin/reports/monthlyreport/").content.decode()
    )


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
