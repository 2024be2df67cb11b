"""A fake Fonnte WhatsApp API server on 127.0.0.1, for tests and benchmarks.

Tests must never reach the real ``https://api.fonnte.com``. This module runs a
small HTTP server (stdlib only, no Django) that answers like Fonnte does, as
described in ``/work/shared/fonnte-api.md``: errors come back as HTTP 200 with
``"status": false`` (or a capitalised ``"Status"`` key), the raw token is sent
in the ``Authorization`` header without ``Bearer``, bodies are form-encoded,
multipart or JSON.

In-process use (unit and end-to-end tests)::

    from tests.fake_fonnte import FakeFonnte, TARGET_INVALID, HANG

    with FakeFonnte(token="test-token") as fake:
        settings.FONNTE_SEND_URL = fake.send_url     # point the client here
        fake.script("6281111111111", TARGET_INVALID)  # first request fails
        fake.default = "http_500"                     # ...every other one too
        ...start celery workers that POST to fake.send_url...
        assert fake.wait_for(lambda: fake.sent_to("6281234567890"), timeout=10)
        assert fake.duplicates() == {}

Every request to ``/send`` is recorded as a :class:`Received` (monotonic and
wall-clock receive time, target, message, all fields, the Authorization header,
the outcome and the Fonnte message id when accepted). ``sent_to()``,
``accepted_count_by_target()`` and ``duplicates()`` only count requests that
Fonnte *accepted* (outcome ``"ok"``), which includes ``"hang"`` requests: those
were queued by Fonnte but the answer came too late for the client.

Outcomes (scripted per target with :meth:`FakeFonnte.script`, otherwise
``FakeFonnte.default``; all exported as module constants):

==========================  ===================================================
``ok``                      200, ``status: true``, unique numeric message id
``target_invalid``          200, ``status: false``, reason ``target invalid``
``input_invalid``           200, ``status: false``, reason ``input invalid``
``token_invalid``           200, ``Status: false`` (capital S), ``token invalid``
``device_not_in_account``   200, reason ``devices must belong to an account``
``insufficient_quota``      200, reason ``insufficient quota``
``device_disconnected``     200, reason ``device disconnected`` (text unconfirmed)
``unknown_reason``          200, reason ``something new``
``detail_error``            200, ``status: false``, text in ``detail`` not ``reason``
``http_500``                500 with a JSON body
``html_502``                502 with an nginx-style HTML page
``http_429``                429 with a JSON body
``non_json``                200, ``text/plain`` body ``OK``
``hang``                    accepted and recorded as ``ok`` (gets an id), but the
                            answer comes only after ``hang_seconds`` (default 5)
``drop``                    connection closed without any response
==========================  ===================================================

A wrong or missing token always answers ``token invalid`` (no script consumed);
an accepted send decrements ``quota`` unless it is ``None`` (unlimited) and at 0
sends answer ``insufficient quota``. ``latency`` (seconds, settable any time) is
slept before answering every ``/send``, ``/device`` and ``/validate`` request.

``FakeFonnte(token, latency, port=0)`` binds 127.0.0.1 on a free port unless
``port`` is given, and started again after ``stop()`` on the same port with what
it recorded (a Fonnte that was unreachable and is back). ``connection_count``
counts TCP connections (keep-alive reuse shows as one connection for many
requests). Bodies must carry Content-Length (chunked uploads are not supported).

Other endpoints: ``POST /device`` (``device_status``, ``quota``), ``POST
/validate`` (``target=a,b,c``; numbers in the ``not_registered`` set are
reported as not registered; ``validate_max_concurrency`` and
``validate_max_targets`` record how it was called). Unknown paths answer 404.

Control endpoints, for benchmarks that run the server in another process:

- ``GET /_fake/stats`` -> ``{"accepted_by_target": {...}, "received": N,
  "duplicates": {...}, "connections": N, "validate_max_concurrency": N,
  "validate_max_targets": N}``
- ``POST /_fake/reset`` -> clears recorded requests and scripts (like ``reset()``)
- ``POST /_fake/config`` with a JSON object of any of ``latency``, ``default``,
  ``hang_seconds``, ``quota``, ``device_status`` -> changes those attributes

None of the control endpoints check the token.

Command line (foreground, prints the URL, Ctrl-C to stop)::

    python tests/fake_fonnte.py --port 8765 --token T --latency 0.05
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import socketserver
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "DETAIL_ERROR",
    "DEVICE_DISCONNECTED",
    "DEVICE_NOT_IN_ACCOUNT",
    "DROP",
    "HANG",
    "HTML_502",
    "HTTP_429",
    "HTTP_500",
    "INPUT_INVALID",
    "INSUFFICIENT_QUOTA",
    "NON_JSON",
    "OK",
    "OUTCOMES",
    "TARGET_INVALID",
    "TOKEN_INVALID",
    "UNKNOWN_REASON",
    "FakeFonnte",
    "Received",
]

OK = "ok"
TARGET_INVALID = "target_invalid"
INPUT_INVALID = "input_invalid"
TOKEN_INVALID = "token_invalid"
DEVICE_NOT_IN_ACCOUNT = "device_not_in_account"
INSUFFICIENT_QUOTA = "insufficient_quota"
DEVICE_DISCONNECTED = "device_disconnected"
UNKNOWN_REASON = "unknown_reason"
DETAIL_ERROR = "detail_error"
HTTP_500 = "http_500"
HTML_502 = "html_502"
HTTP_429 = "http_429"
NON_JSON = "non_json"
HANG = "hang"
DROP = "drop"

OUTCOMES = frozenset(
    {
        OK,
        TARGET_INVALID,
        INPUT_INVALID,
        TOKEN_INVALID,
        DEVICE_NOT_IN_ACCOUNT,
        INSUFFICIENT_QUOTA,
        DEVICE_DISCONNECTED,
        UNKNOWN_REASON,
        DETAIL_ERROR,
        HTTP_500,
        HTML_502,
        HTTP_429,
        NON_JSON,
        HANG,
        DROP,
    }
)

# Reasons of the "HTTP 200, status false" outcomes.
REASONS = {
    TARGET_INVALID: "target invalid",
    INPUT_INVALID: "input invalid",
    TOKEN_INVALID: "token invalid",
    DEVICE_NOT_IN_ACCOUNT: "devices must belong to an account",
    INSUFFICIENT_QUOTA: "insufficient quota",
    DEVICE_DISCONNECTED: "device disconnected",
    UNKNOWN_REASON: "something new",
    DETAIL_ERROR: "target invalid",
}

NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)

DEVICE_STATUSES = ("connect", "disconnect")


@dataclass(frozen=True)
class Received:
    """One request to ``/send`` as the fake saw it."""

    at: float  # time.monotonic() when the request body was read
    wall: float  # time.time() at the same moment
    target: str
    message: str
    fields: dict[str, str]
    authorization: str
    outcome: str  # "ok" when accepted (also for "hang"), otherwise the failing outcome
    message_id: str | None  # Fonnte message id when accepted

    @property
    def accepted(self) -> bool:
        """True when Fonnte accepted (queued) the message."""
        return self.outcome == OK


def _parse_body(content_type: str, body: bytes) -> dict[str, str]:
    """Decode a form-encoded, multipart or JSON body into string fields."""
    ctype = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return {}
    if ctype == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        return {
            str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            for k, v in data.items()
        }
    if ctype == "multipart/form-data":
        header = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
        msg = BytesParser(policy=policy.HTTP).parsebytes(header + body)
        fields: dict[str, str] = {}
        if not msg.is_multipart():
            return fields
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not name:
                continue
            payload = part.get_payload(decode=True) or b""
            charset = part.get_content_charset() or "utf-8"
            fields[str(name)] = payload.decode(charset, errors="replace")
        return fields
    text = body.decode("utf-8", errors="replace")
    return dict(parse_qsl(text, keep_blank_values=True))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, fake: FakeFonnte, port: int) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (socket.getfqdn): skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # client went away (read timeout, reset): expected, stay quiet
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeFonnte/1.0"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are closed after this
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms stalls
    server: _Server

    def log_message(self, format, *args) -> None:
        """Stay quiet: no request logging to stderr."""

    def setup(self) -> None:
        super().setup()
        self.server.fake._connection_opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._connection_closed(self.connection)

    def do_GET(self) -> None:
        self.server.fake._dispatch(self, "GET")

    def do_POST(self) -> None:
        self.server.fake._dispatch(self, "POST")

    def do_PUT(self) -> None:
        self.server.fake._dispatch(self, "PUT")

    def do_DELETE(self) -> None:
        self.server.fake._dispatch(self, "DELETE")


class FakeFonnte:
    """A fake Fonnte API on 127.0.0.1 with scriptable outcomes and a request log."""

    def __init__(
        self,
        token: str = "test-token",  # noqa: S107 - fake token for tests
        latency: float = 0.0,
        *,
        port: int = 0,
    ) -> None:
        self.token = token
        self._wanted_port = port  # 0: any free port
        self.latency = float(latency)
        self.hang_seconds = 5.0
        self.device = "6281234567890"
        self.device_status = "connect"
        self.quota: int | None = None
        self.not_registered: set[str] = set()
        self._default = OK
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._open: set[socket.socket] = set()
        self._reset_state()

    # -- lifecycle --------------------------------------------------------

    def start(self) -> FakeFonnte:
        """Bind 127.0.0.1 (a free port, or the one it had before stop()) and serve in a thread."""
        if self._server is not None:
            raise RuntimeError("FakeFonnte is already running")
        self._stopping.clear()
        self._server = _Server(self, self._wanted_port)
        self._wanted_port = self._server.server_port  # a restart comes back on this port
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeFonnte:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection (idempotent)."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wakes sleeping "hang"/latency requests
        server.shutdown()
        server.server_close()
        with self._lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeFonnte:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._server is None:
            raise RuntimeError("FakeFonnte is not running; call start()")
        return self._server.server_port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def send_url(self) -> str:
        """``base_url + "/send"``."""
        return self.base_url + "/send"

    # -- configuration ----------------------------------------------------

    @property
    def default(self) -> str:
        """Outcome used when a target has no scripted outcome left."""
        return self._default

    @default.setter
    def default(self, outcome: str) -> None:
        self._check_outcome(outcome)
        self._default = outcome

    def script(self, target: str, *outcomes: str) -> None:
        """Queue outcomes for ``target``, consumed one per request to it."""
        for outcome in outcomes:
            self._check_outcome(outcome)
        with self._lock:
            self._scripts.setdefault(str(target), deque()).extend(outcomes)

    @staticmethod
    def _check_outcome(outcome: str) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; choose from {sorted(OUTCOMES)}")

    # -- inspection -------------------------------------------------------

    @property
    def received(self) -> list[Received]:
        """Every request to /send so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._received)

    def received_count(self) -> int:
        """How many requests to /send arrived so far (without copying them)."""
        with self._lock:
            return len(self._received)

    def sent_to(self, phone: str) -> list[Received]:
        """Requests to ``phone`` that Fonnte accepted (outcome ok, including hang)."""
        phone = str(phone)
        return [r for r in self.received if r.target == phone and r.accepted]

    def accepted_count_by_target(self) -> dict[str, int]:
        """How many requests were accepted per target."""
        counts: dict[str, int] = {}
        for r in self.received:
            if r.accepted:
                counts[r.target] = counts.get(r.target, 0) + 1
        return counts

    def duplicates(self) -> dict[str, int]:
        """Targets accepted more than once, with their accepted counts."""
        return {t: n for t, n in self.accepted_count_by_target().items() if n > 1}

    @property
    def connection_count(self) -> int:
        """TCP connections accepted since start or the last reset()."""
        with self._lock:
            return self._connections

    @property
    def validate_max_concurrency(self) -> int:
        """Most /validate calls seen in flight at the same time."""
        with self._lock:
            return self._validate_max_concurrency

    @property
    def validate_max_targets(self) -> int:
        """Largest number of targets in one /validate call."""
        with self._lock:
            return self._validate_max_targets

    @property
    def validate_calls(self) -> int:
        """Number of authorised /validate calls."""
        with self._lock:
            return self._validate_calls

    def stats(self) -> dict:
        """The JSON-able summary served at ``GET /_fake/stats``."""
        accepted = self.accepted_count_by_target()
        with self._lock:
            return {
                "accepted_by_target": accepted,
                "received": len(self._received),
                "duplicates": {t: n for t, n in accepted.items() if n > 1},
                "connections": self._connections,
                "validate_max_concurrency": self._validate_max_concurrency,
                "validate_max_targets": self._validate_max_targets,
            }

    def reset(self) -> None:
        """Forget recorded requests, scripts and counters (configuration is kept)."""
        with self._lock:
            self._reset_state()

    def wait_for(
        self, predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.05
    ) -> bool:
        """Poll ``predicate()`` until it is truthy; False if ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)

    def _reset_state(self) -> None:
        self._received: list[Received] = []
        self._scripts: dict[str, deque[str]] = {}
        self._connections = 0
        self._validate_inflight = 0
        self._validate_max_concurrency = 0
        self._validate_max_targets = 0
        self._validate_calls = 0
        self._request_seq = 2937000
        self._message_seq = 80367000

    # -- request handling -------------------------------------------------

    def _connection_opened(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections += 1
            self._open.add(conn)

    def _connection_closed(self, conn: socket.socket) -> None:
        with self._lock:
            self._open.discard(conn)

    def _next_request_id(self) -> int:
        with self._lock:
            self._request_seq += 1
            return self._request_seq

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server stops; True when it stopped meanwhile."""
        if seconds > 0:
            return self._stopping.wait(seconds)
        return self._stopping.is_set()

    def _dispatch(self, h: _Handler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length > 0 else b""
        path = urlsplit(h.path).path.rstrip("/") or "/"
        route = {
            ("POST", "/send"): self._handle_send,
            ("POST", "/device"): self._handle_device,
            ("POST", "/validate"): self._handle_validate,
            ("GET", "/_fake/stats"): self._handle_stats,
            ("POST", "/_fake/reset"): self._handle_reset,
            ("POST", "/_fake/config"): self._handle_config,
        }.get((method, path))
        if route is None:
            self._json(h, 404, {"status": False, "reason": "not found"})
            return
        route(h, body)

    def _fields(self, h: _Handler, body: bytes) -> dict[str, str]:
        return _parse_body(h.headers.get("Content-Type", ""), body)

    def _authorized(self, h: _Handler) -> bool:
        return h.headers.get("Authorization", "") == self.token

    def _token_invalid(self, h: _Handler) -> None:
        reply = {"Status": False, "reason": REASONS[TOKEN_INVALID]}
        self._json(h, 200, {**reply, "requestid": self._next_request_id()})

    def _handle_send(self, h: _Handler, body: bytes) -> None:
        fields = self._fields(h, body)
        target = fields.get("target", "")
        authorization = h.headers.get("Authorization", "")
        at, wall = time.monotonic(), time.time()
        message_id: str | None = None
        with self._lock:
            self._request_seq += 1
            request_id = self._request_seq
            if authorization != self.token:
                outcome = TOKEN_INVALID
            elif not target:
                outcome = INPUT_INVALID
            else:
                queue = self._scripts.get(target)
                outcome = queue.popleft() if queue else self._default
            respond = outcome
            if outcome in (OK, HANG):
                if self.quota is not None and self.quota <= 0:
                    outcome = respond = INSUFFICIENT_QUOTA
                else:
                    if self.quota is not None:
                        self.quota -= 1
                    self._message_seq += 1
                    message_id = str(self._message_seq)
                    outcome = OK  # "hang" was accepted by Fonnte; only the answer is late
            self._received.append(
                Received(
                    at=at,
                    wall=wall,
                    target=target,
                    message=fields.get("message", ""),
                    fields=fields,
                    authorization=authorization,
                    outcome=outcome,
                    message_id=message_id,
                )
            )
        if self._sleep(self.latency):
            h.close_connection = True
            return
        self._answer_send(h, respond, request_id, target, message_id)

    def _answer_send(
        self, h: _Handler, outcome: str, request_id: int, target: str, message_id: str | None
    ) -> None:
        if outcome == HANG:
            if self._sleep(self.hang_seconds):
                h.close_connection = True
                return
            outcome = OK
        if outcome == OK:
            self._json(
                h,
                200,
                {
                    "detail": "success! message in queue",
                    "id": [message_id],
                    "process": "pending",
                    "requestid": request_id,
                    "status": True,
                    "target": [target],
                },
            )
        elif outcome == TOKEN_INVALID:
            reply = {"Status": False, "reason": REASONS[TOKEN_INVALID], "requestid": request_id}
            self._json(h, 200, reply)
        elif outcome == DETAIL_ERROR:
            reply = {"detail": REASONS[DETAIL_ERROR], "status": False, "requestid": request_id}
            self._json(h, 200, reply)
        elif outcome in REASONS:
            reply = {"reason": REASONS[outcome], "status": False, "requestid": request_id}
            self._json(h, 200, reply)
        elif outcome == HTTP_500:
            self._json(h, 500, {"status": False, "reason": "internal server error"})
        elif outcome == HTML_502:
            self._reply(h, 502, NGINX_502.encode(), "text/html")
        elif outcome == HTTP_429:
            self._json(h, 429, {"status": False, "reason": "too many requests"})
        elif outcome == NON_JSON:
            self._reply(h, 200, b"OK", "text/plain; charset=utf-8")
        elif outcome == DROP:
            h.close_connection = True  # no status line, no body: the client sees EOF
        else:  # pragma: no cover - outcomes are validated on input
            raise AssertionError(outcome)

    def _handle_device(self, h: _Handler, body: bytes) -> None:
        if not self._authorized(h):
            self._token_invalid(h)
            return
        if self._sleep(self.latency):
            h.close_connection = True
            return
        quota = self.quota
        self._json(
            h,
            200,
            {
                "device": self.device,
                "device_status": self.device_status,
                "quota": "unlimited" if quota is None else str(quota),
                "package": "Reguler",
                "expired": "31 December 2099",
                "status": True,
            },
        )

    def _handle_validate(self, h: _Handler, body: bytes) -> None:
        if not self._authorized(h):
            self._token_invalid(h)
            return
        fields = self._fields(h, body)
        country = fields.get("countryCode", "62") or "62"
        numbers = [n.strip() for n in fields.get("target", "").split(",") if n.strip()]
        with self._lock:
            self._validate_calls += 1
            self._validate_inflight += 1
            self._validate_max_concurrency = max(
                self._validate_max_concurrency, self._validate_inflight
            )
            self._validate_max_targets = max(self._validate_max_targets, len(numbers))
        try:
            if self._sleep(self.latency):
                h.close_connection = True
                return
        finally:
            with self._lock:
                self._validate_inflight -= 1
        registered: list[str] = []
        not_registered: list[str] = []
        for number in numbers:
            if number.startswith("0") and country != "0":
                number = country + number[1:]
            if number in self.not_registered:
                not_registered.append(number)
            else:
                registered.append(number)
        self._json(
            h, 200, {"registered": registered, "not_registered": not_registered, "status": True}
        )

    def _handle_stats(self, h: _Handler, body: bytes) -> None:
        self._json(h, 200, self.stats())

    def _handle_reset(self, h: _Handler, body: bytes) -> None:
        self.reset()
        self._json(h, 200, {"status": True})

    def _handle_config(self, h: _Handler, body: bytes) -> None:
        try:
            changes = json.loads(body or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object")
            for key, value in changes.items():
                if key in ("latency", "hang_seconds"):
                    setattr(self, key, float(value))
                elif key == "default":
                    self.default = value
                elif key == "quota":
                    self.quota = None if value is None else int(value)
                elif key == "device_status":
                    if value not in DEVICE_STATUSES:
                        raise ValueError(f"device_status must be one of {DEVICE_STATUSES}")
                    self.device_status = value
                else:
                    raise ValueError(f"unknown setting {key!r}")
        except (ValueError, TypeError) as exc:
            self._json(h, 400, {"status": False, "reason": str(exc)})
            return
        self._json(h, 200, {"status": True})

    @staticmethod
    def _json(h: _Handler, status: int, payload: object) -> None:
        FakeFonnte._reply(h, status, json.dumps(payload).encode(), "application/json")

    @staticmethod
    def _reply(h: _Handler, status: int, body: bytes, content_type: str) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)


def main(argv: list[str] | None = None, *, fake_class: type[FakeFonnte] | None = None) -> None:
    """Run a FakeFonnte (or ``fake_class``, a subclass) in the foreground until interrupted."""
    parser = argparse.ArgumentParser(description="Fake Fonnte WhatsApp API for tests")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--token", default="test-token")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--hang-seconds", type=float, default=5.0)
    parser.add_argument("--quota", type=int, default=None, help="default: unlimited")
    parser.add_argument("--default", default=OK, choices=sorted(OUTCOMES))
    args = parser.parse_args(argv)

    fake = (fake_class or FakeFonnte)(token=args.token, latency=args.latency, port=args.port)
    fake.hang_seconds = args.hang_seconds
    fake.quota = args.quota
    fake.default = args.default
    fake.start()
    print(f"FakeFonnte listening on {fake.base_url} (send: {fake.send_url})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
