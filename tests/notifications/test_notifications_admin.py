import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications.models import Notification

CHANGELIST = "/admin/notifications/notification/"
HEADER_LINK = re.compile(r'<a id="notifications-link"[^>]*>([^<]*)</a>')


def header_link(response):
    """The text of the header's notifications link, or None when it is not shown."""
    match = HEADER_LINK.search(response.content.decode())
    return match.group(1) if match else None


def notify(user, title="Pesan gagal", *, read=False, **fields):
    return Notification.objects.create(
        recipient=user,
        title=title,
        read_at=timezone.now() if read else None,
        **fields,
    )


@pytest.fixture
def admin_user(admins):
    return admins[0]


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def two_unread_one_read(admin_user):
    return [
        notify(admin_user, "Satu"),
        notify(admin_user, "Dua"),
        notify(admin_user, "Tiga", read=True),
    ]


def notification_queries(queries):
    return [q["sql"] for q in queries if "notifications_notification" in q["sql"]]


@pytest.mark.parametrize("page", ["/admin/", "/admin/students/student/"])
def test_the_header_shows_the_unread_count_on_every_admin_page(
    admin_client, two_unread_one_read, page
):
    response = admin_client.get(page, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert header_link(response) == "Notifications (2)"
    assert f'href="{CHANGELIST}?read=no"' in response.content.decode()


def test_no_count_when_every_notification_is_read(admin_client, admin_user):
    notify(admin_user, read=True)

    response = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en")

    assert header_link(response) == "Notifications"


def test_other_admins_notifications_are_never_counted(admin_client, admins):
    notify(admins[0])
    notify(admins[1])
    notify(admins[1])
    notify(admins[2])

    response = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en")

    assert header_link(response) == "Notifications (1)"


def test_the_count_costs_one_query_whatever_the_number_of_notifications(admin_client, admin_user):
    with CaptureQueriesContext(connection) as without:
        admin_client.get("/admin/")
    for i in range(5):
        notify(admin_user, f"Pesan {i}")
    with CaptureQueriesContext(connection) as with_five:
        response = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en")

    assert header_link(response) == "Notifications (5)"
    assert len(with_five) == len(without)
    counted = notification_queries(with_five.captured_queries)
    assert len(counted) == 1
    assert "COUNT(" in counted[0].upper()


def test_the_count_needs_no_permission_query_for_a_group_admin(client, admins):
    # Not a superuser: the header's permission check reuses the permissions the
    # admin already loaded for its sidebar.
    group_admin = admins[1]
    notify(group_admin)
    client.force_login(group_admin)
    client.get("/admin/")  # warm up: sessions, content types

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en")

    assert header_link(response) == "Notifications (1)"
    permission_queries = [q for q in queries.captured_queries if "auth_permission" in q["sql"]]
    assert len(permission_queries) == 2  # the user's own and their groups', once each


def test_the_login_page_shows_no_count_and_queries_no_notification(client, admin_user):
    notify(admin_user)

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert header_link(response) is None
    assert notification_queries(queries.captured_queries) == []


def test_staff_without_access_to_notifications_see_no_link(client, django_user_model):
    teacher = django_user_model.objects.create_user("guru", "guru@example.com", "pw", is_staff=True)
    notify(teacher)
    client.force_login(teacher)

    response = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert header_link(response) is None


def test_the_list_is_newest_first_with_unread_in_bold_level_and_link(admin_client, admin_user):
    old = notify(admin_user, "Lama", read=True, level=Notification.Level.WARNING)
    Notification.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timezone.timedelta(days=2)
    )
    notify(admin_user, "Baru", level=Notification.Level.ERROR, link="/admin/broadcasts/x/")

    response = admin_client.get(CHANGELIST, HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()

    assert response.status_code == 200
    assert [n.title for n in response.context["cl"].result_list] == ["Baru", "Lama"]
    assert "<strong>Baru</strong>" in html
    assert "<strong>Lama</strong>" not in html
    assert "Error" in html
    assert "Warning" in html
    assert 'href="/admin/broadcasts/x/"' in html


def test_the_header_link_lists_only_the_unread(admin_client, two_unread_one_read):
    response = admin_client.get(f"{CHANGELIST}?read=no")

    titles = {n.title for n in response.context["cl"].result_list}
    assert titles == {"Satu", "Dua"}


def test_the_list_shows_only_my_notifications(admin_client, admins):
    notify(admins[0], "Punyaku")
    notify(admins[1], "Punya orang lain")

    response = admin_client.get(CHANGELIST)

    assert [n.title for n in response.context["cl"].result_list] == ["Punyaku"]


def test_opening_a_notification_marks_it_read_and_the_count_drops(
    admin_client, two_unread_one_read
):
    first = two_unread_one_read[0]

    response = admin_client.get(f"{CHANGELIST}{first.pk}/change/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    first.refresh_from_db()
    assert first.read_at is not None
    assert header_link(response) == "Notifications (1)"


def test_mark_as_read_action(admin_client, admins, two_unread_one_read):
    satu, dua, tiga = two_unread_one_read
    already_read_at = tiga.read_at
    theirs = notify(admins[1])

    response = admin_client.post(
        CHANGELIST,
        {
            "action": "mark_read",
            "_selected_action": [satu.pk, tiga.pk, theirs.pk],
        },
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )

    for notification in (satu, dua, tiga, theirs):
        notification.refresh_from_db()
    assert satu.read_at is not None
    assert dua.read_at is None
    assert tiga.read_at == already_read_at  # the first reading is kept
    assert theirs.read_at is None  # another admin's: not in this admin's list
    assert "Notifications marked as read: 1." in response.content.decode()
    assert header_link(response) == "Notifications (1)"


def test_a_non_staff_user_is_sent_to_the_login_page(client, django_user_model):
    parent = django_user_model.objects.create_user("ortu", "ortu@example.com", "pw")
    notify(parent)
    client.force_login(parent)

    response = client.get(CHANGELIST)

    assert response.status_code == 302
    assert response["Location"].startswith(f"/admin/login/?next={CHANGELIST}")


def test_an_anonymous_user_is_sent_to_the_login_page(client):
    response = client.get(CHANGELIST)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_site_header_is_the_school_name(admin_client):
    response = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.context["site_header"] == "TK ABA Assalam Admin"
    assert "<title>Site administration | TK ABA Assalam Admin</title>" in (
        response.content.decode()
    )
