import smtplib
from unittest import mock

from django.core import mail

from notifications.models import Notification
from notifications.services import admin_recipients, notification_send_to_admins


def test_alerts_go_to_superusers_and_the_admin_groups_only(admins):
    assert list(admin_recipients()) == admins


def test_each_admin_gets_a_notification_and_one_email_goes_to_all(
    admins, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        notification_send_to_admins(title="Judul", body="Isi", link="/admin/x/")
    assert Notification.objects.count() == 3
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "[TK ABA Assalam] Judul"
    assert "http://127.0.0.1:8000/admin/x/" in mail.outbox[0].body
    assert "kepala.sekolah@example.com" in mail.outbox[0].to


def test_a_mail_server_outage_keeps_the_in_app_notifications(
    admins, django_capture_on_commit_callbacks, caplog
):
    with (
        mock.patch(
            "notifications.services.send_mail", side_effect=smtplib.SMTPConnectError(421, "down")
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        notification_send_to_admins(title="Judul", body="Isi")
    assert Notification.objects.count() == 3
    assert "Could not email the admin alert" in caplog.text


def test_opening_a_notification_marks_it_read_and_others_cannot_see_it(admins, client):
    notification_send_to_admins(title="Judul", body="Isi", link="/admin/broadcasts/")
    mine = Notification.objects.get(recipient=admins[0])
    theirs = Notification.objects.get(recipient=admins[1])
    client.force_login(admins[0])

    page = client.get(f"/admin/notifications/notification/{mine.pk}/change/")
    other = client.get(f"/admin/notifications/notification/{theirs.pk}/change/")

    assert page.status_code == 200
    assert 'href="/admin/broadcasts/"' in page.content.decode()
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.read_at is not None
    assert theirs.read_at is None
    assert other.status_code == 302  # "does not exist" for this admin


def test_a_title_with_line_breaks_and_control_characters_gives_a_clean_email_subject(
    admins, django_capture_on_commit_callbacks
):
    title = "Pesan tidak terkirim: TK B\r\nBcc: x@evil.test\x07\x1b\t· November " + "panjang " * 15

    with django_capture_on_commit_callbacks(execute=True):
        notification_send_to_admins(title=title, body="Isi")

    assert Notification.objects.filter(title=title).count() == 3  # the in-app title as it was
    (email,) = mail.outbox
    assert email.subject.startswith("[TK ABA Assalam] Pesan tidak terkirim: TK B Bcc: x@evil.test")
    assert not any(ord(character) < 32 for character in email.subject)
    assert 140 < len(email.subject) <= 150
    assert email.subject.endswith("panjang…")


def test_any_failure_of_the_email_backend_keeps_the_in_app_notifications(
    admins, django_capture_on_commit_callbacks, caplog
):
    with (
        mock.patch("notifications.services.send_mail", side_effect=RuntimeError("backend bug")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        notification_send_to_admins(title="Judul", body="Isi")

    assert Notification.objects.count() == 3
    (record,) = [r for r in caplog.records if "Could not email the admin alert" in r.getMessage()]
    assert record.exc_info[0] is RuntimeError
