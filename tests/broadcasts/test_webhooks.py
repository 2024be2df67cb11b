"""Fonnte's webhooks: delivery receipts on rows, the device's connection, and the secret URL."""

import json
import logging
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from broadcasts import webhooks
from broadcasts.checks import check_webhook_secret
from broadcasts.models import BroadcastStatus, FonnteDevice, MonthlyReportBroadcast
from broadcasts.services import fonnte_device_connected
from broadcasts.services.receipts import CONNECT_KEY, DISCONNECT_KEY
from notifications.models import Notification

SECRET = "k9V2-rT7xQ4mZ8pL1wN6yB3cF5hJ0dS2aE7uI9oPqXw"
STATUS_URL = f"/webhooks/fonnte/{SECRET}/status/"
CONNECT_URL = f"/webhooks/fonnte/{SECRET}/connect/"
DEVICE = "6281299990000"


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.FONNTE_WEBHOOK_SECRET = SECRET


@pytest.fixture
def make_row(report, make_student):
    def make(message_id="80367170", **fields):
        student = make_student()
        return MonthlyReportBroadcast.objects.create(
            monthly_report=report,
            student=student,
            phone_number="6281234567890",
            message="Laporan bulanan sudah tersedia.",
            status=BroadcastStatus.SENT,
            sent_at=timezone.now(),
            fonnte_message_id=message_id,
            **fields,
        )

    return make


@pytest.fixture
def row(make_row):
    return make_row()


@pytest.fixture
def post(client):
    """POST Fonnte's JSON to a webhook; returns the response."""

    def send(payload, url=STATUS_URL, **kwargs):
        return client.post(url, data=json.dumps(payload), content_type="application/json", **kwargs)

    return send


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="broadcasts")
    caplog.set_level(logging.DEBUG, logger="django.request")
    return caplog


def snapshot(row):
    return MonthlyReportBroadcast.objects.values().get(pk=row.pk)


def status_event(state="delivered", *, id="80367170", stateid="3EB0C4D8A1", status="sent"):
    event = {"device": DEVICE, "id": id, "stateid": stateid, "status": status, "state": state}
    return {key: value for key, value in event.items() if value is not None}


# --- The three shapes ---------------------------------------------------------------------


def test_id_and_stateid_move_the_row_and_keep_the_stateid(row, post):
    response = post(status_event("delivered"))

    assert response.status_code == 200
    row.refresh_from_db()
    assert row.delivery_state == "delivered"
    assert row.fonnte_state_id == "3EB0C4D8A1"
    assert row.delivered_at is not None
    assert row.read_at is None
    assert row.status == BroadcastStatus.SENT  # the sending status is not a receipt's business


def test_id_only_takes_the_status_when_there_is_no_state(row, post):
    assert post(status_event(None, stateid=None, status="Sent")).status_code == 200

    row.refresh_from_db()
    assert row.delivery_state == "sent"  # lower-cased
    assert row.fonnte_state_id == ""
    assert row.delivered_at is None


def test_id_only_with_a_state(row, post):
    post(status_event("DELIVERED", stateid=None))

    row.refresh_from_db()
    assert row.delivery_state == "delivered"
    assert row.delivered_at is not None


def test_stateid_only_finds_the_row_through_the_stored_stateid(make_row, post):
    row, other = make_row("111"), make_row("222")
    post(status_event("delivered", id="111", stateid="STATE-111"))
    post(status_event("delivered", id="222", stateid="STATE-222"))

    assert post(status_event("read", id=None, stateid="STATE-111", status=None)).status_code == 200

    row.refresh_from_db()
    other.refresh_from_db()
    assert (row.delivery_state, other.delivery_state) == ("read", "delivered")
    assert row.read_at is not None
    assert other.read_at is None


def test_stateid_only_for_an_unknown_stateid_changes_nothing(row, post):
    before = snapshot(row)

    assert post(status_event("read", id=None, stateid="NOT-STORED", status=None)).status_code == 200

    assert snapshot(row) == before


def test_an_existing_stateid_is_not_replaced(row, post):
    post(status_event("delivered", stateid="FIRST"))
    post(status_event("read", stateid="SECOND"))

    row.refresh_from_db()
    assert row.fonnte_state_id == "FIRST"
    assert row.delivery_state == "read"


def test_a_form_encoded_event_is_accepted(row, client):
    response = client.post(STATUS_URL, data=status_event("read"))

    assert response.status_code == 200
    row.refresh_from_db()
    assert row.delivery_state == "read"


def test_no_csrf_token_is_needed(row):
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        STATUS_URL, data=json.dumps(status_event("read")), content_type="application/json"
    )

    assert response.status_code == 200
    row.refresh_from_db()
    assert row.delivery_state == "read"


def test_a_numeric_id_matches_the_stored_text(row, post):
    post(status_event("delivered", id=80367170))

    row.refresh_from_db()
    assert row.delivery_state == "delivered"


def test_the_trailing_slash_is_optional(row, post):
    assert post(status_event("delivered"), url=STATUS_URL.rstrip("/")).status_code == 200

    row.refresh_from_db()
    assert row.delivery_state == "delivered"


# --- Refused: nothing changes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong secret", 404),
        ("secret one character short", 404),
        ("no secret configured", 404),
        ("GET", 405),
        ("not JSON", 400),
        ("a JSON list", 400),
    ],
)
def test_refused_requests_change_nothing(case, expected, row, client, settings):
    before = snapshot(row)
    body, content_type, url = json.dumps(status_event("read")), "application/json", STATUS_URL
    if case == "wrong secret":
        url = STATUS_URL.replace(SECRET, "x" * len(SECRET))
    elif case == "secret one character short":
        url = STATUS_URL.replace(SECRET, SECRET[:-1])
    elif case == "no secret configured":
        settings.FONNTE_WEBHOOK_SECRET = ""
    elif case == "not JSON":
        body, content_type = "id=80367170&state=read", "text/plain"
    elif case == "a JSON list":
        body = json.dumps([status_event("read")])

    if case == "GET":
        response = client.get(url, status_event("read"))
    else:
        response = client.post(url, data=body, content_type=content_type)

    assert response.status_code == expected
    assert snapshot(row) == before


def test_an_empty_secret_never_matches_an_empty_setting(rf, settings, row):
    # The URL pattern cannot produce an empty secret; the view fails closed regardless.
    settings.FONNTE_WEBHOOK_SECRET = ""
    before = snapshot(row)
    request = rf.post("/", data=json.dumps(status_event("read")), content_type="application/json")

    assert webhooks.fonnte_status(request, secret="").status_code == 404
    assert snapshot(row) == before


def test_a_refused_connect_event_records_nothing(client, settings, admins):
    settings.FONNTE_WEBHOOK_SECRET = ""
    event = {"device": DEVICE, "status": "disconnect", "timestamp": 1764300000}

    response = client.post(CONNECT_URL, data=json.dumps(event), content_type="application/json")

    assert response.status_code == 404
    assert not FonnteDevice.objects.exists()
    assert not Notification.objects.exists()


def test_an_unknown_message_id_is_answered_200_and_changes_nothing(row, post, logs):
    before = snapshot(row)

    response = post(status_event("read", id="99999999", stateid="UNKNOWN-STATE"))

    assert response.status_code == 200
    assert snapshot(row) == before
    assert "Fonnte status for no known message" in logs.text


def test_an_event_without_any_id_is_answered_200(row, post):
    before = snapshot(row)

    assert post({"device": DEVICE, "state": "read"}).status_code == 200

    assert snapshot(row) == before


# --- Duplicates and order -----------------------------------------------------------------


def test_the_same_event_three_times_gives_the_same_result(row, post):
    before = snapshot(row)
    post(status_event("delivered"))
    first = snapshot(row)
    # The first one has its effect ...
    assert (before["delivery_state"], before["delivered_at"]) == ("", None)
    assert (first["delivery_state"], first["fonnte_state_id"]) == ("delivered", "3EB0C4D8A1")
    assert first["delivered_at"] is not None

    for _ in range(2):
        assert post(status_event("delivered")).status_code == 200

    assert snapshot(row) == first  # ... the next two none


def test_read_then_a_late_delivered_stays_read(row, post):
    post(status_event("read"))
    after_read = snapshot(row)

    post(status_event("delivered"))

    assert snapshot(row) == after_read
    assert after_read["delivery_state"] == "read"
    # A read message was delivered: delivered_at is filled by the read, and kept.
    assert after_read["delivered_at"] is not None


def test_delivered_at_keeps_the_first_delivery(row, post):
    post(status_event("delivered"))
    delivered_at = snapshot(row)["delivered_at"]
    MonthlyReportBroadcast.objects.filter(pk=row.pk).update(
        delivered_at=delivered_at - timedelta(minutes=5)
    )

    post(status_event("read"))
    post(status_event("delivered"))

    row.refresh_from_db()
    assert row.delivery_state == "read"
    assert row.delivered_at == delivered_at - timedelta(minutes=5)
    assert row.read_at > row.delivered_at


def test_failed_ranks_above_sent_and_below_delivered(make_row, post):
    queued, delivered = make_row("1"), make_row("2")
    post(status_event(None, id="1", stateid=None, status="sent"))
    post(status_event("delivered", id="2"))

    post(status_event("failed", id="1", stateid=None))
    post(status_event("failed", id="2", stateid=None))

    queued.refresh_from_db()
    delivered.refresh_from_db()
    assert queued.delivery_state == "failed"
    assert queued.status == BroadcastStatus.SENT
    assert delivered.delivery_state == "delivered"

    post(status_event("delivered", id="1", stateid=None))
    queued.refresh_from_db()
    assert queued.delivery_state == "delivered"


def test_an_unknown_state_is_stored_on_a_row_without_one(row, post):
    post(status_event("Receive"))

    row.refresh_from_db()
    assert row.delivery_state == "receive"
    assert row.delivered_at is None


def test_an_unknown_state_never_replaces_a_known_or_another_unknown_one(make_row, post):
    known, unknown = make_row("1"), make_row("2")
    post(status_event("delivered", id="1"))
    post(status_event("receive", id="2"))

    post(status_event("played", id="1"))
    post(status_event("played", id="2"))

    known.refresh_from_db()
    unknown.refresh_from_db()
    assert (known.delivery_state, unknown.delivery_state) == ("delivered", "receive")


def test_a_known_state_replaces_an_unknown_one(row, post):
    post(status_event("receive"))
    post(status_event("sent"))

    row.refresh_from_db()
    assert row.delivery_state == "sent"


# --- Device connect / disconnect ----------------------------------------------------------


@pytest.fixture
def device_event(post):
    def send(status, timestamp, reason="", **headers):
        event = {"device": DEVICE, "status": status, "timestamp": timestamp, "reason": reason}
        return post(event, url=CONNECT_URL, **headers)

    return send


def notified(key):
    return list(Notification.objects.filter(key=key).values_list("recipient_id", "level"))


def test_a_disconnect_told_three_times_notifies_each_admin_once(device_event, admins):
    for _ in range(3):
        assert device_event("disconnect", 1764300000, "phone offline").status_code == 200

    assert sorted(notified(DISCONNECT_KEY)) == sorted(
        (admin.pk, Notification.Level.ERROR) for admin in admins
    )
    device = FonnteDevice.objects.get()
    assert (device.device, device.status, device.reason) == (DEVICE, "disconnect", "phone offline")
    assert fonnte_device_connected() is False
    assert fonnte_device_connected(DEVICE) is False


def test_the_admins_are_told_in_the_schools_language_whatever_fonnte_asks_for(device_event, admins):
    device_event("disconnect", 1764300000, "phone offline", HTTP_ACCEPT_LANGUAGE="en")
    device_event("connect", 1764300060, HTTP_ACCEPT_LANGUAGE="en")

    masked = "62812****0000"
    assert set(Notification.objects.values_list("title", flat=True)) == {
        f"Perangkat WhatsApp terputus: {masked}",
        f"Perangkat WhatsApp tersambung kembali: {masked}",
    }


def test_new_disconnects_while_disconnected_notify_nothing_more(device_event, admins):
    device_event("disconnect", 1764300000)
    device_event("disconnect", 1764300060)
    device_event("disconnect", 1764300120)

    assert len(notified(DISCONNECT_KEY)) == len(admins)
    assert FonnteDevice.objects.get().changed_at.timestamp() == 1764300000


def test_a_reconnect_notifies_at_info_and_the_next_disconnect_notifies_again(device_event, admins):
    device_event("disconnect", 1764300000)
    device_event("connect", 1764300060)
    device_event("connect", 1764300060)

    assert sorted(notified(CONNECT_KEY)) == sorted(
        (admin.pk, Notification.Level.INFO) for admin in admins
    )
    assert fonnte_device_connected() is True

    device_event("disconnect", 1764300120)
    assert len(notified(DISCONNECT_KEY)) == 2 * len(admins)


def test_a_late_retry_of_an_old_disconnect_does_not_undo_a_reconnect(device_event, admins):
    device_event("disconnect", 1764300000)
    device_event("connect", 1764300060)

    device_event("disconnect", 1764300000)  # Fonnte retrying the first event

    assert fonnte_device_connected() is True
    assert len(notified(DISCONNECT_KEY)) == len(admins)


def test_a_device_first_seen_connected_is_recorded_silently(device_event, admins):
    device_event("connect", 1764300000)

    assert FonnteDevice.objects.get().status == "connect"
    assert not Notification.objects.exists()


def test_an_unknown_device_status_changes_nothing(device_event, admins):
    device_event("disconnect", 1764300000)

    assert device_event("restarting", 1764300060).status_code == 200

    assert FonnteDevice.objects.get().status == "disconnect"
    assert len(notified(DISCONNECT_KEY)) == len(admins)


def test_fonnte_device_connected_without_news_and_per_device(db):
    assert fonnte_device_connected() is True
    assert fonnte_device_connected(DEVICE) is True

    now = timezone.now()
    FonnteDevice.objects.create(device=DEVICE, status="connect", changed_at=now)
    FonnteDevice.objects.create(device="6281211112222", status="disconnect", changed_at=now)

    assert fonnte_device_connected(DEVICE) is True
    assert fonnte_device_connected("6281211112222") is False
    assert fonnte_device_connected() is False


# --- Logs ---------------------------------------------------------------------------------


def test_neither_the_secret_nor_the_device_number_reaches_the_logs(
    row, client, post, device_event, admins, settings, logs
):
    post(status_event("delivered"))
    client.get(STATUS_URL)
    client.post(STATUS_URL, data="not json", content_type="text/plain")
    client.post(STATUS_URL.replace(SECRET, SECRET[:-1] + "!"), data="{}", content_type="text/plain")
    device_event("disconnect", 1764300000)
    settings.FONNTE_WEBHOOK_SECRET = ""
    client.post(STATUS_URL, data="{}", content_type="application/json")

    text = "\n".join(record.getMessage() for record in logs.records)
    text += "\n".join(str(record.__dict__) for record in logs.records)
    assert "webhook refused: method GET" in text
    assert "webhook refused: the body is neither" in text
    assert "wrong secret in the URL" in text
    assert "FONNTE_WEBHOOK_SECRET is not set" in text
    assert "62812****0000" in text
    assert SECRET not in text
    assert SECRET[:-1] not in text
    assert DEVICE not in text


def test_a_failing_handler_answers_500_without_logging_the_url(post, monkeypatch, logs, db):
    def broken(**kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(webhooks, "broadcast_record_status", broken)

    response = post(status_event("read"))

    assert response.status_code == 500
    assert "Fonnte status webhook failed" in logs.text
    assert SECRET not in logs.text


# --- Admin and deploy check ---------------------------------------------------------------


def test_the_admin_shows_receipts_and_devices(row, post, device_event, client, django_user_model):
    post(status_event("read"))
    device_event("disconnect", 1764300000, "phone offline")
    staff = django_user_model.objects.create_user("tu", password="pw", is_staff=True)
    staff.groups.add(Group.objects.get(name="admin"))
    client.force_login(staff)

    page = client.get(f"/admin/broadcasts/monthlyreportbroadcast/{row.pk}/change/")
    filtered = client.get("/admin/broadcasts/monthlyreportbroadcast/?delivery_state=read")
    devices = client.get("/admin/broadcasts/fonntedevice/")

    assert page.status_code == 200
    assert 'class="readonly">read<' in page.content.decode()
    assert filtered.status_code == 200
    assert filtered.context["cl"].result_count == 1
    assert devices.status_code == 200
    assert "phone offline" in devices.content.decode()
    assert client.get("/admin/broadcasts/fonntedevice/add/").status_code == 403


@pytest.mark.parametrize(
    ("secret", "warns"), [("", True), ("x" * 31, True), ("x" * 32, False), (SECRET, False)]
)
def test_deploy_check_wants_a_long_webhook_secret(secret, warns, settings):
    settings.FONNTE_WEBHOOK_SECRET = secret

    messages = check_webhook_secret()

    assert [m.id for m in messages] == (["broadcasts.W003"] if warns else [])
    if secret:
        assert all(secret not in m.msg + m.hint for m in messages)
