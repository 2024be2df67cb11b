"""The fake Fonnte server answers like the real API documents (see fonnte-api.md)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.fake_fonnte import (
    DETAIL_ERROR,
    DEVICE_DISCONNECTED,
    DEVICE_NOT_IN_ACCOUNT,
    DROP,
    HANG,
    HTML_502,
    HTTP_429,
    HTTP_500,
    INPUT_INVALID,
    INSUFFICIENT_QUOTA,
    NON_JSON,
    OK,
    TARGET_INVALID,
    TOKEN_INVALID,
    UNKNOWN_REASON,
    FakeFonnte,
    Received,
)

TOKEN = "test-token"
PHONE = "6281234567890"
OTHER = "6289876543210"


@pytest.fixture
def fake():
    with FakeFonnte(token=TOKEN) as server:
        yield server


def send(fake, target=PHONE, message="Halo", token=TOKEN, timeout=5.0, session=None, **extra):
    """POST form-encoded to /send like the real client does."""
    poster = session or requests
    headers = {} if token is None else {"Authorization": token}
    data = {"target": target, "message": message, "countryCode": "0", **extra}
    return poster.post(fake.send_url, data=data, headers=headers, timeout=timeout)


# -- basics -----------------------------------------------------------------


def test_urls_and_lifecycle():
    server = FakeFonnte()
    with pytest.raises(RuntimeError):
        _ = server.base_url
    server.start()
    try:
        assert server.base_url == f"http://127.0.0.1:{server.port}"
        assert server.send_url == server.base_url + "/send"
        assert server.port > 0
        send_url = server.send_url
    finally:
        server.stop()
    server.stop()  # idempotent
    with pytest.raises(requests.ConnectionError):
        requests.post(send_url, timeout=2)


def test_success_answer_and_record(fake):
    before_mono, before_wall = time.monotonic(), time.time()
    resp = send(fake, message="Laporan *Budi*", typing="false")
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"detail", "id", "process", "requestid", "status", "target"}
    assert body["status"] is True
    assert body["detail"] == "success! message in queue"
    assert body["process"] == "pending"
    assert body["target"] == [PHONE]
    assert isinstance(body["requestid"], int)
    [message_id] = body["id"]
    assert isinstance(message_id, str) and message_id.isdigit()

    [rec] = fake.received
    assert isinstance(rec, Received)
    assert rec.target == PHONE
    assert rec.message == "Laporan *Budi*"
    assert rec.fields == {
        "target": PHONE,
        "message": "Laporan *Budi*",
        "countryCode": "0",
        "typing": "false",
    }
    assert rec.authorization == TOKEN
    assert rec.outcome == OK
    assert rec.message_id == message_id
    assert before_mono <= rec.at <= time.monotonic()
    assert before_wall - 1 <= rec.wall <= time.time() + 1
    assert fake.sent_to(PHONE) == [rec]


def test_message_ids_are_unique(fake):
    ids = [send(fake, target=f"62811{i:08d}").json()["id"][0] for i in range(5)]
    assert len(set(ids)) == 5


def test_multipart_and_json_bodies_are_parsed(fake):
    headers = {"Authorization": TOKEN}
    multipart = {"target": (None, PHONE), "message": (None, "Multi\nbaris"), "delay": (None, "2")}
    assert requests.post(fake.send_url, files=multipart, headers=headers, timeout=5).json()[
        "status"
    ]
    as_json = {"target": OTHER, "message": "Hai", "countryCode": 0}
    assert requests.post(fake.send_url, json=as_json, headers=headers, timeout=5).json()["status"]

    first, second = fake.received
    assert first.fields == {"target": PHONE, "message": "Multi\nbaris", "delay": "2"}
    assert second.fields == {"target": OTHER, "message": "Hai", "countryCode": "0"}


# -- outcomes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        (TARGET_INVALID, "target invalid"),
        (INPUT_INVALID, "input invalid"),
        (DEVICE_NOT_IN_ACCOUNT, "devices must belong to an account"),
        (INSUFFICIENT_QUOTA, "insufficient quota"),
        (DEVICE_DISCONNECTED, "device disconnected"),
        (UNKNOWN_REASON, "something new"),
    ],
)
def test_status_false_outcomes(fake, outcome, reason):
    fake.script(PHONE, outcome)
    resp = send(fake)
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] is False
    assert body["reason"] == reason
    assert isinstance(body["requestid"], int)
    assert "id" not in body
    [rec] = fake.received
    assert rec.outcome == outcome
    assert rec.message_id is None
    assert fake.sent_to(PHONE) == []


def test_token_invalid_outcome_uses_capital_status(fake):
    fake.script(PHONE, TOKEN_INVALID)
    body = send(fake).json()
    assert body == {"Status": False, "reason": "token invalid", "requestid": body["requestid"]}


def test_detail_error_puts_text_in_detail(fake):
    fake.script(PHONE, DETAIL_ERROR)
    body = send(fake).json()
    assert body["status"] is False
    assert "reason" not in body
    assert body["detail"] == "target invalid"


def test_http_error_outcomes(fake):
    fake.script(PHONE, HTTP_500, HTML_502, HTTP_429, NON_JSON)

    r500 = send(fake)
    assert r500.status_code == 500
    assert r500.headers["Content-Type"] == "application/json"
    assert r500.json()["status"] is False

    r502 = send(fake)
    assert r502.status_code == 502
    assert r502.headers["Content-Type"].startswith("text/html")
    assert "502 Bad Gateway" in r502.text and "nginx" in r502.text

    r429 = send(fake)
    assert r429.status_code == 429
    assert r429.json()["status"] is False

    plain = send(fake)
    assert plain.status_code == 200
    assert plain.headers["Content-Type"].startswith("text/plain")
    assert plain.text == "OK"
    with pytest.raises(ValueError):
        plain.json()

    assert [r.outcome for r in fake.received] == [HTTP_500, HTML_502, HTTP_429, NON_JSON]
    assert fake.accepted_count_by_target() == {}


@pytest.mark.parametrize("token", [None, "", "wrong", f"Bearer {TOKEN}", TOKEN.upper()])
def test_wrong_or_missing_token(fake, token):
    fake.script(PHONE, OK)
    body = send(fake, token=token).json()
    assert body["Status"] is False
    assert "status" not in body
    assert body["reason"] == "token invalid"
    [rec] = fake.received
    assert rec.outcome == TOKEN_INVALID
    assert rec.authorization == (token or "")
    # the scripted outcome was not consumed by the rejected request
    assert send(fake).json()["status"] is True


def test_missing_target_is_input_invalid(fake):
    body = send(fake, target="").json()
    assert body == {"reason": "input invalid", "status": False, "requestid": body["requestid"]}


# -- scripting, counts ------------------------------------------------------


def test_script_order_then_default(fake):
    fake.script(PHONE, TARGET_INVALID, HTTP_500)
    fake.script(PHONE, OK)  # appends
    fake.script(OTHER, INSUFFICIENT_QUOTA)

    assert send(fake).json()["reason"] == "target invalid"
    assert send(fake, target=OTHER).json()["reason"] == "insufficient quota"
    assert send(fake).status_code == 500
    assert send(fake).json()["status"] is True
    assert send(fake).json()["status"] is True  # queue empty: default "ok"

    fake.default = HTTP_429
    assert send(fake).status_code == 429
    assert send(fake, target=OTHER).status_code == 429
    fake.script(OTHER, OK)
    assert send(fake, target=OTHER).json()["status"] is True
    assert send(fake, target=OTHER).status_code == 429


def test_unknown_outcome_is_rejected(fake):
    with pytest.raises(ValueError):
        fake.script(PHONE, "nope")
    with pytest.raises(ValueError):
        fake.default = "nope"
    assert fake.default == OK


def test_accepted_counts_and_duplicates(fake):
    fake.script(OTHER, TARGET_INVALID, TARGET_INVALID)
    for _ in range(3):
        send(fake)
    send(fake, target=OTHER)
    send(fake, target=OTHER)
    send(fake, target="6281111111111")

    assert fake.accepted_count_by_target() == {PHONE: 3, "6281111111111": 1}
    assert fake.duplicates() == {PHONE: 3}
    assert len(fake.received) == 6
    assert len(fake.sent_to(PHONE)) == 3
    assert fake.sent_to(OTHER) == []

    fake.reset()
    assert fake.received == []
    assert fake.duplicates() == {}


def test_reset_clears_scripts_but_keeps_configuration(fake):
    fake.script(PHONE, HTTP_500)
    fake.default = HTTP_429
    fake.latency = 0.01
    fake.reset()
    assert fake.default == HTTP_429
    assert fake.latency == 0.01
    fake.default = OK
    assert send(fake).json()["status"] is True


def test_wait_for(fake):
    threading.Timer(0.2, send, args=(fake,)).start()
    assert fake.wait_for(lambda: fake.sent_to(PHONE), timeout=5)
    started = time.monotonic()
    assert fake.wait_for(lambda: fake.sent_to(OTHER), timeout=0.2) is False
    assert time.monotonic() - started >= 0.2


# -- hang, drop, latency, concurrency, keep-alive -----------------------------


def test_hang_is_accepted_but_client_times_out(fake):
    fake.hang_seconds = 1.5
    fake.script(PHONE, HANG)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        send(fake, timeout=(2.0, 0.5))
    assert time.monotonic() - started < 1.4
    [rec] = fake.sent_to(PHONE)
    assert rec.outcome == OK
    assert rec.message_id and rec.message_id.isdigit()
    assert fake.accepted_count_by_target() == {PHONE: 1}


def test_hang_answers_success_after_hang_seconds(fake):
    fake.hang_seconds = 0.3
    fake.script(PHONE, HANG)
    started = time.monotonic()
    body = send(fake).json()
    assert time.monotonic() - started >= 0.3
    assert body["status"] is True
    assert body["id"] == [fake.sent_to(PHONE)[0].message_id]


def test_drop_closes_without_response(fake):
    fake.script(PHONE, DROP)
    with pytest.raises(requests.ConnectionError):
        send(fake)
    [rec] = fake.received
    assert rec.outcome == DROP
    assert fake.sent_to(PHONE) == []
    assert send(fake).json()["status"] is True  # server still fine afterwards


def test_server_is_quiet(fake, capfd):
    fake.hang_seconds = 0.2
    fake.script(PHONE, HANG, DROP, HTTP_500)
    with pytest.raises(requests.exceptions.ReadTimeout):
        send(fake, timeout=(2.0, 0.05))
    with pytest.raises(requests.ConnectionError):
        send(fake)
    send(fake)
    requests.get(fake.base_url + "/nope", timeout=5)
    time.sleep(0.4)  # let the hung handler write into the closed socket
    captured = capfd.readouterr()
    assert captured.err == ""
    assert captured.out == ""


def test_latency_is_applied_and_settable(fake):
    fake.latency = 0.25
    started = time.monotonic()
    assert send(fake).json()["status"] is True
    assert time.monotonic() - started >= 0.25

    fake.latency = 0.0
    started = time.monotonic()
    send(fake)
    assert time.monotonic() - started < 0.2


def test_constructor_latency():
    with FakeFonnte(latency=0.15) as server:
        started = time.monotonic()
        send(server)
        assert time.monotonic() - started >= 0.15


def test_twenty_concurrent_clients_are_all_recorded(fake):
    fake.latency = 0.2
    targets = [f"62812{i:08d}" for i in range(20)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        bodies = list(pool.map(lambda t: send(fake, target=t).json(), targets))
    elapsed = time.monotonic() - started
    assert all(b["status"] is True for b in bodies)
    assert elapsed < 2.0  # served in parallel, not 20 x 0.2 s in a row
    assert sorted(r.target for r in fake.received) == sorted(targets)
    assert len({r.message_id for r in fake.received}) == 20
    assert fake.accepted_count_by_target() == dict.fromkeys(targets, 1)


def test_keep_alive_reuses_one_connection(fake):
    with requests.Session() as session:
        for _ in range(3):
            resp = send(fake, session=session)
            assert resp.json()["status"] is True
            assert resp.headers["Content-Length"] == str(len(resp.content))
        fake.script(PHONE, NON_JSON, HTML_502)
        assert send(fake, session=session).text == "OK"
        assert send(fake, session=session).status_code == 502
    assert fake.connection_count == 1

    fake.reset()
    send(fake)
    send(fake)
    assert fake.connection_count == 2  # without a session: one connection each


def test_stop_closes_idle_keep_alive_connections():
    server = FakeFonnte().start()
    request = f"GET /_fake/stats HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
        sock.sendall(request)
        response = b""
        while not response.endswith(b"}"):  # whole JSON answer; the connection stays open
            response += sock.recv(65536)
        assert response.startswith(b"HTTP/1.1 200")
        server.stop()
        assert sock.recv(65536) == b""  # closed by stop(), not left to a 60 s idle timeout


# -- /device, /validate, other paths -----------------------------------------


def device(fake, token=TOKEN):
    return requests.post(fake.base_url + "/device", headers={"Authorization": token}, timeout=5)


def test_device_reports_status_and_quota(fake):
    body = device(fake).json()
    assert body["status"] is True
    assert body["device"].startswith("628")
    assert body["device_status"] == "connect"
    assert body["quota"] == "unlimited"
    assert body["package"] == "Reguler"
    assert body["expired"]

    fake.device_status = "disconnect"
    fake.quota = 2
    body = device(fake).json()
    assert body["device_status"] == "disconnect"
    assert body["quota"] == "2"

    body = device(fake, token="wrong").json()
    assert body == {"Status": False, "reason": "token invalid", "requestid": body["requestid"]}


def test_quota_decrements_and_runs_out(fake):
    fake.quota = 2
    fake.script(OTHER, TARGET_INVALID)
    assert send(fake).json()["status"] is True
    assert send(fake, target=OTHER).json()["reason"] == "target invalid"  # not counted
    assert device(fake).json()["quota"] == "1"
    assert send(fake).json()["status"] is True
    assert device(fake).json()["quota"] == "0"

    body = send(fake).json()
    assert body["status"] is False
    assert body["reason"] == "insufficient quota"
    assert fake.received[-1].outcome == INSUFFICIENT_QUOTA
    assert fake.accepted_count_by_target() == {PHONE: 2}
    assert fake.quota == 0


def validate(fake, targets, **extra):
    data = {"target": ",".join(targets), **extra}
    headers = {"Authorization": TOKEN}
    return requests.post(fake.base_url + "/validate", data=data, headers=headers, timeout=5)


def test_validate_splits_registered(fake):
    fake.not_registered = {"6289999999999"}
    body = validate(fake, [PHONE, "6289999999999", "081122223333"]).json()
    assert body == {
        "registered": [PHONE, "6281122223333"],
        "not_registered": ["6289999999999"],
        "status": True,
    }
    body = validate(fake, ["081122223333"], countryCode="0").json()
    assert body["registered"] == ["081122223333"]
    assert fake.validate_max_targets == 3
    assert fake.validate_calls == 2
    assert fake.validate_max_concurrency == 1


def test_validate_records_concurrency(fake):
    fake.latency = 0.3
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda t: validate(fake, [t]), [PHONE, OTHER]))
    assert fake.validate_max_concurrency == 2


def test_validate_checks_token(fake):
    resp = requests.post(fake.base_url + "/validate", data={"target": PHONE}, timeout=5)
    assert resp.json()["Status"] is False
    assert fake.validate_calls == 0


def test_unknown_path_is_404_json(fake):
    resp = requests.post(fake.base_url + "/nope", headers={"Authorization": TOKEN}, timeout=5)
    assert resp.status_code == 404
    assert resp.json()["status"] is False
    assert requests.get(fake.send_url, timeout=5).status_code == 404


# -- control endpoints and CLI ------------------------------------------------


def test_fake_stats_reset_and_config(fake):
    send(fake)
    send(fake)
    fake.script(OTHER, HTTP_500)
    send(fake, target=OTHER)

    stats = requests.get(fake.base_url + "/_fake/stats", timeout=5).json()
    assert stats["accepted_by_target"] == {PHONE: 2}
    assert stats["received"] == 3
    assert stats["duplicates"] == {PHONE: 2}

    assert requests.post(fake.base_url + "/_fake/reset", timeout=5).json()["status"] is True
    assert fake.received == []
    stats = requests.get(fake.base_url + "/_fake/stats", timeout=5).json()
    assert stats["accepted_by_target"] == {}
    assert stats["received"] == 0

    config = {"latency": 0.05, "default": HTTP_500, "quota": 7, "device_status": "disconnect"}
    resp = requests.post(fake.base_url + "/_fake/config", json=config, timeout=5)
    assert resp.json()["status"] is True
    assert (fake.latency, fake.default, fake.quota) == (0.05, HTTP_500, 7)
    assert fake.device_status == "disconnect"
    bad = requests.post(fake.base_url + "/_fake/config", json={"default": "nope"}, timeout=5)
    assert bad.status_code == 400


def test_cli_runs_in_another_process():
    script = Path(__file__).with_name("fake_fonnte.py")
    cmd = [sys.executable, str(script), "--port", "0", "--token", "T", "--latency", "0.01"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line
        base_url = line.split()[3]
        resp = requests.post(
            base_url + "/send",
            data={"target": PHONE, "message": "x"},
            headers={"Authorization": "T"},
            timeout=5,
        )
        assert resp.json()["status"] is True
        stats = requests.get(base_url + "/_fake/stats", timeout=5).json()
        assert stats["accepted_by_target"] == {PHONE: 1}
        assert stats["received"] == 1
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    assert proc.stderr.read() == ""
