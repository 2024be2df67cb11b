"""Fonnte's webhooks: delivery receipts on rows, the device's connection, and the secret URL."""

import io
import json
import logging
import re
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from broadcasts import webhooks
from broadcasts.checks import check_webhook_secret
from broadcasts.models import BroadcastStatus, FonnteDevice, MonthlyReportBroadcast
from broadcasts.services import fonnte_device_connected
from broadcasts.services.receipts import CONNECT_KEY, DISCONNECT_KEY
from notifications.models import Notification
from tests.broadcast_rows import guardian_row

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
    assert 'class="readonly">dibaca<' in page.content.decode()
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


# --- Odd bodies: 200 or 400, never 500, and never the secret in a log line ----------------


@pytest.fixture
def log_output():
    """What the real LOGGING handlers write, every logger's (pytest's own handlers aside)."""
    stream = io.StringIO()
    handlers = {
        handler
        for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
        for handler in getattr(logger, "handlers", ())
        if isinstance(handler, logging.StreamHandler)
        and not type(handler).__module__.startswith("_pytest")
    }
    assert handlers, "the LOGGING config gives no handler to capture"
    previous = {handler: handler.setStream(stream) for handler in handlers}
    yield stream
    for handler, old in previous.items():
        handler.setStream(old)


DEEP = b"[" * 100_000
MULTIPART = "multipart/form-data; boundary=XyZ"
FORM = "application/x-www-form-urlencoded"
ODD_BODIES = {
    "empty": ("application/json", b""),
    "binary": ("application/octet-stream", bytes(range(256))),
    "invalid utf-8": ("application/json", b'{"device": "\xff\xfe"}'),
    "nested list": ("application/json", DEEP),
    "nested in a field": ("application/json", b'{"device": ' + DEEP),
    "huge": ("application/json", b'{"device": "' + b"6" * 3_000_000 + b'"}'),
    "a list": ("application/json", b'[{"device": "6281299990000", "status": "disconnect"}]'),
    "a string": ("application/json", b'"disconnect"'),
    "numbers and nulls": (
        "application/json",
        b'{"device": 6281299990000, "status": 1, "timestamp": null, "id": 5, "state": 2.5}',
    ),
    "objects for strings": (
        "application/json",
        b'{"device": {"a": [1]}, "status": ["connect", "x"], "timestamp": {}, "id": [[1]]}',
    ),
    "NUL characters": (
        "application/json",
        b'{"device": "6281299990000\\u0000", "id": "\\u0000", "state": "read\\u0000", '
        b'"status": "disconnect\\u0000", "reason": "\\u0000"}',
    ),
    "timestamps out of range": (
        "application/json",
        b'{"device": "6281299990000", "status": "disconnect", '
        b'"timestamp": "0001-01-01T00:00:00+05:00"}',
    ),
    "a timestamp from before Fonnte": (
        FORM,
        b"device=6281299990000&status=disconnect&timestamp=0999-12-31+23:59:59",
    ),
    "huge number": ("application/json", b'{"timestamp": 1e999999, "id": ' + b"9" * 5000 + b"}"),
    "multipart without boundary": ("multipart/form-data", b"--XyZ\r\n"),
    "broken multipart": (MULTIPART, b'--XyZ\r\nContent-Disposition: form-data; name="a"\r\n'),
    "multipart of garbage": (MULTIPART, b"\xff" * 1000),
    "form": (FORM, b"device=6281299990000&status=disconnect&timestamp=2024-13-45+10:00:00"),
    "form, invalid utf-8": (FORM, b"device=%ff%fe&status=\xff\xfe&id=\x00"),
    "form, not utf-8": (f"{FORM}; charset=latin-1", b"device=62812&status=disconnect"),
    "form, too many fields": (FORM, b"&".join(b"f%d=1" % n for n in range(1500))),
    "text": ("text/plain", b"disconnect"),
    "no content type": ("", b'{"device": "6281299990000"}'),
}


@pytest.mark.parametrize("url", [STATUS_URL, CONNECT_URL], ids=["status", "connect"])
@pytest.mark.parametrize("body", ODD_BODIES.values(), ids=ODD_BODIES.keys())
def test_any_body_is_answered_200_or_400_and_no_log_line_holds_the_secret(
    url, body, row, admins, log_output
):
    content_type, data = body
    client = Client(raise_request_exception=False)

    response = client.generic("POST", url, data, content_type=content_type)

    assert response.status_code in (200, 400)
    text = log_output.getvalue()
    assert "webhook" in text.lower() or response.status_code == 200
    assert SECRET not in text


def test_the_log_filter_masks_the_secret_and_the_token_in_messages_args_and_tracebacks(
    settings, log_output
):
    settings.FONNTE_API_TOKEN = "tok-" + "7" * 20
    logger = logging.getLogger("broadcasts.somewhere")
    try:
        raise ValueError(f"bad {STATUS_URL} with {settings.FONNTE_API_TOKEN}")
    except ValueError:
        logger.exception("Failed for %s", STATUS_URL)
    logging.getLogger("django.request").warning("Not Found: %s", CONNECT_URL)
    logging.getLogger("gunicorn.error").error("Error handling request %s", CONNECT_URL)
    logging.getLogger("django.server").error('"POST %s HTTP/1.1" 500 0', STATUS_URL)

    text = log_output.getvalue()
    assert text.count("/webhooks/fonnte/********/") == 5
    assert "ValueError: bad" in text
    assert SECRET not in text
    assert settings.FONNTE_API_TOKEN not in text


def test_celerys_own_handlers_mask_the_secret_too(settings):
    from tkassalam.celery import _mask_secrets_in_celery_logs

    stream = io.StringIO()
    logger = logging.getLogger("celery.test-worker-root")
    logger.propagate = False
    logger.addHandler(logging.StreamHandler(stream))

    _mask_secrets_in_celery_logs(logger=logger)
    _mask_secrets_in_celery_logs(logger=logger)  # Celery sends it for each logger it sets up
    logger.warning("task saw %s", STATUS_URL)

    assert len(logger.handlers[0].filters) == 1
    assert stream.getvalue() == "task saw /webhooks/fonnte/********/status/\n"


def test_an_unreadable_timestamp_is_the_time_of_arrival(device_event, admins):
    before = timezone.now()

    response = device_event("disconnect", "2024-13-45 10:00:00", "phone offline")

    assert response.status_code == 200
    device = FonnteDevice.objects.get()
    assert device.status == FonnteDevice.Status.DISCONNECTED
    assert before <= device.changed_at <= timezone.now()
    assert len(notified(DISCONNECT_KEY)) == len(admins)


def test_nginx_writes_no_webhook_request_to_its_logs():
    """The webhook path holds the secret: nginx's access and error lines name the request."""
    text = (django_settings.BASE_DIR / "deploy" / "nginx" / "tkassalam.conf").read_text()
    blocks = re.findall(r"location\s+/webhooks/\s*\{([^}]*)\}", text)

    assert blocks
    for block in blocks:
        assert re.search(r"^\s*access_log\s+off;", block, re.M)
        error_logs = re.findall(r"^\s*error_log\s+\S+\s+(\w+);", block, re.M)
        assert error_logs == ["emerg"]


# --- Only the school's own device pauses sending ------------------------------------------

OTHER = "6281211112222"
DEVICES = "/admin/broadcasts/fonntedevice/"
CHECK = "/admin/broadcasts/fonntedevice/check/"
FONNTE_DEVICE_URL = "https://fonnte.test/device"


@pytest.fixture
def device_says(fonnte):
    """Fonnte's /device (mocked) names ``device`` in ``state``."""

    def answer(device, state="connect"):
        body = {"device": device, "device_status": state, "quota": "50", "status": True}
        fonnte.upsert("POST", FONNTE_DEVICE_URL, json=body)

    return answer


@pytest.fixture
def staff(client, django_user_model):
    def login(group):
        user = django_user_model.objects.create_user(group + "-1", password="pw", is_staff=True)
        user.groups.add(Group.objects.get(name=group))
        client.force_login(user)
        return user

    return login


def connect_event(post, device, status, timestamp=1764300000):
    event = {"device": device, "status": status, "timestamp": timestamp, "reason": "offline"}
    return post(event, url=CONNECT_URL)


def test_another_devices_disconnect_changes_nothing_once_the_number_is_pinned(
    post, admins, settings, logs
):
    settings.FONNTE_DEVICE_NUMBER = DEVICE

    assert connect_event(post, "0812-1111-2222", "disconnect").status_code == 200

    assert not FonnteDevice.objects.exists()
    assert fonnte_device_connected() is True
    assert not Notification.objects.exists()
    assert "event for another device ignored: device=62812****2222" in logs.text
    assert OTHER not in logs.text

    connect_event(post, DEVICE, "disconnect")
    assert fonnte_device_connected() is False
    assert len(notified(DISCONNECT_KEY)) == len(admins)


def test_the_schools_number_is_learned_from_fonnte_and_then_only_it_pauses(
    post, admins, device_says, staff, client
):
    # No number known yet: any device's disconnect pauses (the safe side, see receipts).
    connect_event(post, OTHER, "disconnect")
    assert fonnte_device_connected() is False

    staff("admin")
    device_says(DEVICE, "connect")
    client.post(CHECK)

    school = FonnteDevice.objects.get(device=DEVICE)
    assert school.checked_at is not None
    assert FonnteDevice.objects.school_number() == DEVICE
    assert fonnte_device_connected() is True  # the other device holds nothing any more
    connect_event(post, OTHER, "connect", 1764300060)
    connect_event(post, OTHER, "disconnect", 1764300120)
    assert FonnteDevice.objects.get(device=OTHER).changed_at.timestamp() == 1764300000
    assert fonnte_device_connected() is True

    connect_event(post, DEVICE, "disconnect", int(timezone.now().timestamp()) + 1)
    assert fonnte_device_connected() is False


def test_a_row_is_sent_while_only_another_device_is_disconnected(
    report, make_student, outbox, settings
):
    from broadcasts.services import broadcast_send

    settings.FONNTE_DEVICE_NUMBER = DEVICE
    FonnteDevice.objects.create(device=OTHER, status="disconnect", changed_at=timezone.now())
    row = guardian_row(
        monthly_report=report, student=make_student(), phone_number="6281234567890", message="Hi"
    )

    assert broadcast_send(broadcast_id=row.pk, monthly_report_id=report.pk) is True
    assert [message.phone for message in outbox] == ["6281234567890"]


def test_an_admin_sees_the_pause_and_ends_it_only_once_fonnte_says_connected(
    post, admins, device_says, staff, client, django_capture_on_commit_callbacks, monkeypatch
):
    from broadcasts import queue

    dispatched = []
    monkeypatch.setattr(queue, "dispatch_after_commit", lambda: dispatched.append(True))
    connect_event(post, DEVICE, "disconnect")
    user = staff("admin")  # a member of the admin group, not a superuser

    page = client.get(DEVICES).content.decode()
    assert "Pengiriman dijeda: Fonnte melaporkan perangkat WhatsApp 62812****0000 terputus" in page
    assert 'action="/admin/broadcasts/fonntedevice/check/"' in page

    device_says(DEVICE, "disconnect")
    page = client.post(CHECK, follow=True).content.decode()
    assert "terputus: pengiriman tetap dijeda" in page
    assert fonnte_device_connected() is False

    device_says(DEVICE, "connect")
    page = client.post(CHECK, follow=True).content.decode()

    assert "tersambung: pengiriman dilanjutkan" in page
    assert "Pengiriman dijeda" not in page
    assert fonnte_device_connected() is True
    assert dispatched == [True]
    assert len(notified(CONNECT_KEY)) == len(admins) + 1  # the admin who checked too
    device = FonnteDevice.objects.get()
    history = LogEntry.objects.filter(object_id=str(device.pk), user=user).order_by("pk")
    assert [entry.change_message for entry in history] == [
        "Fonnte melaporkan perangkat WhatsApp 62812****0000 terputus: pengiriman tetap dijeda. "
        "Sambungkan ponsel sekolah di dasbor Fonnte (pindai kode QR), lalu periksa lagi.",
        "Fonnte melaporkan perangkat WhatsApp 62812****0000 tersambung: pengiriman dilanjutkan.",
    ]


def test_a_teacher_cannot_end_the_pause(post, admins, device_says, staff, client):
    connect_event(post, DEVICE, "disconnect")
    staff("guru")
    device_says(DEVICE, "connect")

    assert client.post(CHECK).status_code == 403
    assert (
        'action="/admin/broadcasts/fonntedevice/check/"' not in client.get(DEVICES).content.decode()
    )
    assert fonnte_device_connected() is False


def test_a_pinned_number_that_is_not_the_tokens_device_changes_nothing(
    post, admins, device_says, staff, client, settings
):
    settings.FONNTE_DEVICE_NUMBER = DEVICE
    connect_event(post, DEVICE, "disconnect")
    staff("super_admin")
    device_says(OTHER, "connect")

    page = client.post(CHECK, follow=True).content.decode()

    assert "Akun Fonnte ini mengirim dari 62812****2222" in page
    assert fonnte_device_connected() is False
    assert list(FonnteDevice.objects.values_list("device", flat=True)) == [DEVICE]


@pytest.mark.parametrize(
    ("number", "errors"), [("", []), (DEVICE, []), ("62123", ["broadcasts.E005"])]
)
def test_check_refuses_a_pinned_device_number_that_is_not_a_mobile_number(number, errors, settings):
    from broadcasts.checks import check_device_number

    settings.FONNTE_DEVICE_NUMBER = number

    assert [message.id for message in check_device_number()] == errors


def test_the_send_confirmation_learns_the_number_without_ending_a_pause(
    post, admins, report, make_student, device_says, staff, client
):
    make_student()
    connect_event(post, OTHER, "disconnect")
    connect_event(post, DEVICE, "disconnect")
    staff("admin")
    device_says(DEVICE, "connect")

    page = client.post(
        "/admin/reports/monthlyreport/",
        {"action": "send_whatsapp_broadcast", "_selected_action": [report.pk]},
    )

    assert page.status_code == 200
    assert FonnteDevice.objects.school_number() == DEVICE
    assert FonnteDevice.objects.get(device=DEVICE).status == "disconnect"  # only a check resumes
    assert list(FonnteDevice.objects.holding_messages().values_list("device", flat=True)) == [
        DEVICE
    ]
