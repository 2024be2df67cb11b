"""Deploying a new version mid-broadcast: the old worker stops warm, the new one carries on.

The issue: "deploy a new version without losing in-flight messages". The README
("Start, stop, deploy a new version") promises that a worker sent SIGTERM to its main
process only (supervisor without stopasgroup, systemd ``KillMode=mixed``) finishes the
messages it is sending, hands back the tasks it had not started, and exits; the rows left
waiting are sent by the next worker.

One real worker (prefork, embedded beat, ``support.FAULT_SETTINGS``) sends a class of
``support.N`` parents through a fake Fonnte that answers each send after :data:`LATENCY`
seconds. While messages are in flight it gets SIGTERM; once it has exited, a replacement
(the "new version") is started. Checked from the rows, the workers' logs, the broker's
queue and what Fonnte accepted per phone number: the old worker exited by itself, every
message it had in flight was finished by it (``sent``, never ``unknown``), every row it
left waiting had its task back in the queue, and in the end every parent got exactly one
message. Twice: with fresh rows left waiting, and at the end of a broadcast while the old
worker holds retries that are due later (unacknowledged, in its memory).
"""

import base64
import json
import re
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.fake_fonnte import HTTP_500
from tests.faults.support import (
    PENDING,
    RETRYING,
    SENDING,
    SENT,
    UNKNOWN,
    N,
    OrmProbe,
    broker_label,
    group_left,
    handed_out,
    make_class,
    publishing_to,
    republished,
    settle,
    stays_quiet,
    verify,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.django_db(transaction=True)]

#: Seconds Fonnte takes to answer each send: the SIGTERM always finds sends under way.
#: Under FAULT_SETTINGS' read timeout (5 s), so a send that is let finish ends sent.
LATENCY = 2.0
#: Longest a warm shutdown may take here: the sends in flight (at most connect + read
#: timeout, 6 s) and Celery's own shutdown, with room for a busy machine. deploy/ waits
#: 120 s before it sends SIGKILL.
STOP_TIMEOUT = 45
#: The task whose messages the queue check reads.
SEND_TASK = "broadcasts.tasks.send_monthly_report_whatsapp"
#: What the old worker leaves waiting. ``fresh``: rows never tried, their tasks still in
#: the queue or prefetched. ``retry``: the first :data:`RETRIED` parents' first attempt
#: gets HTTP 500; the SIGTERM comes at the end of the broadcast, when the old worker holds
#: their retries (countdown :data:`RETRY_DELAY`), unacknowledged, as it does in production
#: for WHATSAPP_RETRY_DELAY (60 s).
WAITING = ("fresh", "retry")
RETRIED = 4
RETRY_DELAY = 40
#: Longest wait for the moment of the SIGTERM (``retry``: the end of the broadcast, ~16 s).
MOMENT_TIMEOUT = 45


def queued_sends(broker) -> list[int]:
    """Broadcast ids of the send tasks waiting in this test's queue (taken by no worker).

    Read straight from the broker: the files of the embedded broker's folder, or the
    queue's list on Redis (Celery's message: base64 body ``[args, kwargs, embed]``).
    """
    if broker.is_redis:
        import redis

        raw_messages = redis.Redis.from_url(broker.url).lrange(broker.queue, 0, -1)
    else:
        folder = Path(broker.transport_options["data_folder_in"])
        raw_messages = [path.read_bytes() for path in folder.glob(f"*.{broker.queue}.msg")]
    ids = []
    for raw in raw_messages:
        message = json.loads(raw)
        if message["headers"].get("task") != SEND_TASK:
            continue
        _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        ids.append(kwargs["broadcast_id"])
    return ids


def unacked_sends(broker) -> int:
    """Redis only: messages of this queue still held unacknowledged (restored after an hour)."""
    if not broker.is_redis:
        return 0
    import redis

    client = redis.Redis.from_url(broker.url)
    held = 0
    for raw in client.hvals("unacked"):
        _message, exchange, routing_key = json.loads(raw)
        held += broker.queue in (exchange, routing_key)
    return held


def taken_after_sigterm(worker) -> int:
    """Send tasks the worker received after it logged its warm shutdown.

    Celery's blocking loop (``synloop``, used with the embedded broker) still drains the
    connection once after the signal (``maybe_shutdown()`` in a ``try`` whose ``finally``
    waits up to 2 s for a message): a process that finished its send meanwhile gets one
    more message, and the worker sends it before it exits. Redis's event loop takes none.
    """
    _before, found, after = worker.log().partition("Warm shutdown (MainProcess)")
    return len(re.findall(rf"{re.escape(SEND_TASK)}\[[^\]]+\] received", after)) if found else 0


def sent_by(worker, pk: int) -> bool:
    return bool(re.search(rf"WhatsApp sent \[broadcast={pk} ", worker.log()))


def retries_held(worker) -> int:
    """Retries the worker took from the queue (a task id received twice) and has not run yet."""
    received = Counter(re.findall(rf"{re.escape(SEND_TASK)}\[([^\]]+)\] received", worker.log()))
    ran = Counter(
        re.findall(rf"{re.escape(SEND_TASK)}\[([^\]]+)\] (?:succeeded|retry)", worker.log())
    )
    return sum(1 for task_id, n in received.items() if n >= 2 and ran[task_id] < n)


def retry_logged(worker, pk: int) -> bool:
    return bool(re.search(rf"WhatsApp will retry \[broadcast={pk} ", worker.log()))


def fonnte_number(code: int, i: int) -> str:
    """The number Fonnte sees for student ``i`` of ``make_class(..., code)``."""
    return f"62812{code:02d}{i:06d}"


@pytest.mark.parametrize("waiting", WAITING)
def test_deploy_mid_broadcast_loses_and_repeats_nothing(
    waiting,
    fault_broker,
    fault_workers,
    fake,
    school_admins,
    report,
    make_student,
    click_send,
    figures,
):
    """SIGTERM to the old worker while it sends; the new one sends the rest; each parent once."""
    code = 51 if waiting == "fresh" else 52
    recipients = make_class(make_student, code=code)
    retried = (
        {fonnte_number(code, i) for i in range(1, RETRIED + 1)} if waiting == "retry" else set()
    )
    for target in retried:
        fake.script(target, HTTP_500)
    probe = OrmProbe(report.pk)
    fake.latency = LATENCY
    old = fault_workers.start("old", fault_broker, WHATSAPP_RETRY_DELAY=str(RETRY_DELAY))
    with publishing_to(fault_broker):
        click_send(report)

    def mid_send():
        """Every row handed out, sends at Fonnte awaiting their answer, rows waiting."""
        progress = probe.progress()
        if not handed_out(progress):
            return None
        if not retried and progress[PENDING] < 4:
            return None
        if retried and not (progress[RETRYING] and retries_held(old)):
            return None
        arrived = {r.target for r in fake.received if r.target not in retried}
        return [pk for pk, phone in probe.rows(SENDING) if phone in arrived]

    wait_until(mid_send, timeout=MOMENT_TIMEOUT, what="messages in flight, rows waiting")
    in_flight = dict(probe.rows(SENDING))
    held_at_sigterm = retries_held(old)
    signalled_at = time.monotonic()
    stop_seconds = fault_workers.stop(old, timeout=STOP_TIMEOUT)

    # The old worker stopped by itself, in time, and left no process behind.
    assert stop_seconds is not None, f"still running {STOP_TIMEOUT}s after SIGTERM: killed"
    assert old.process.returncode == 0, f"exited with {old.process.returncode}"
    left = group_left(old.process.pid)
    assert not left, f"processes of the worker outlived it: {left}"
    assert in_flight, "no row was being sent at the SIGTERM"
    # At least one answer was still due when the signal came: the worker had to wait for it.
    answered_after = [
        r for r in fake.received if r.target in in_flight.values() and r.at + LATENCY > signalled_at
    ]
    assert answered_after, "every send had been answered before the SIGTERM"

    # It finished what it was sending: the accepted ones are sent, by it.
    after_stop = probe.progress()
    assert after_stop[SENDING] == 0, f"rows left in flight by the old worker: {dict(after_stop)}"
    assert after_stop[UNKNOWN] == 0, dict(after_stop)
    for pk, target in in_flight.items():
        if target in retried:  # its attempt got HTTP 500: the old worker scheduled the retry
            assert retry_logged(old, pk), f"row #{pk}'s failed attempt was not finished by it"
        else:
            assert sent_by(old, pk), f"row #{pk} was being sent at the SIGTERM, not sent by it"
    # Every row it left waiting has its task back in the queue, not lost with the worker
    # (the recovery sweep would republish it later, but only as a repair).
    left_waiting = {pk for pk, _ in probe.rows(PENDING)} | {pk for pk, _ in probe.rows(RETRYING)}
    assert left_waiting, "the old worker sent everything: nothing left for the new one"
    retrying_at_exit = len(probe.rows(RETRYING))
    if retried:
        assert held_at_sigterm, "the old worker held no retry when it was stopped"
        assert retrying_at_exit, "no retry was waiting when the old worker stopped"
    handed_back = queued_sends(fault_broker)
    held_unacked = unacked_sends(fault_broker)
    missing = left_waiting - set(handed_back)
    assert not missing, (
        f"rows waiting without a task in the queue (lost with the old worker): {sorted(missing)};"
        f" {held_unacked} of the queue's messages still unacknowledged"
    )

    # The new version takes over.
    new = fault_workers.start("new", fault_broker, WHATSAPP_RETRY_DELAY=str(RETRY_DELAY))
    snap = stays_quiet(probe, fake, settle(probe))
    verify(snap, fake, report_id=report.pk, allowed=(SENT,), figures=figures, recipients=recipients)
    for row in snap.rows:
        assert row.attempts == (2 if row.phone in retried else 1), row
    for pk in in_flight:
        assert not sent_by(new, pk) or in_flight[pk] in retried, f"row #{pk} sent by the new one"
    sent_old = len(re.findall(r"WhatsApp sent \[", old.log()))
    sent_new = len(re.findall(r"WhatsApp sent \[", new.log()))
    assert sent_old + sent_new == N, (sent_old, sent_new)
    assert sent_new == len(left_waiting), (sent_new, len(left_waiting))
    assert fault_workers.crashes == [], fault_workers.crashes

    figures.update(
        broker=broker_label(fault_broker),
        latency=LATENCY,
        in_flight_at_sigterm=len(in_flight),
        answered_after_sigterm=len(answered_after),
        taken_after_sigterm=taken_after_sigterm(old),
        stop_seconds=round(stop_seconds, 1),
        exit_code=old.process.returncode,
        waiting_at_exit=len(left_waiting),
        retries_held_at_sigterm=held_at_sigterm,
        retrying_at_exit=retrying_at_exit,
        handed_back=len(handed_back),
        sent_by_old=sent_old,
        sent_by_new=sent_new,
        republished=republished(fault_workers),
    )
