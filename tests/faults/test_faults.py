"""Faults in the middle of a broadcast, against real worker processes and the fake Fonnte.

The issue: "A worker killed mid-send (kill -9), Redis restarted mid-broadcast, PostgreSQL
briefly unreachable, Fonnte down for ten minutes: after recovery every row ends sent,
failed or visibly unknown, no parent receives a message twice, and no row stays in
flight forever."

Each test sends one report to a class whose guardians make ``support.N`` messages (a
father and a mother at two numbers, or at one; twins whose mother has one number:
``support.class_guardians``), injects one fault while the broadcast is under way, lets
the workers (``celery -A tkassalam worker -B``, recovery sweep every second, see
``support.FAULT_SETTINGS``) recover, and then checks, from the
rows *and* from what the fake Fonnte accepted per (child, number), the child read off the
message's text (``support.verify``):

- no row lost, none left pending/sending/retrying, and it stays so (no later sends);
- every guardian who should get the message has a row; no (child, number) accepted
  twice; a ``sent`` row was accepted exactly once, with its id;
  a ``failed`` row was never accepted; an ``unknown`` row was tried at most once
  (accepted or not: the documented policy, an admin decides; never resent blindly);
- every failed or unknown row was reported to every admin in a grouped alert.

Figures of each test are printed at the end of the run ("fault tests: figures").
"""

import io
import json
import re
import time
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command

from broadcasts.selectors import report_recipients
from students.phones import normalize_phone
from tests.fake_fonnte import TARGET_INVALID
from tests.faults.support import (
    ADMINS,
    FAILED,
    FAULT_SETTINGS,
    HTTP_500,
    PENDING,
    REFUSED,
    RETRYING,
    SENDING,
    SENT,
    UNKNOWN,
    FonnteDown,
    N,
    OrmProbe,
    SqlProbe,
    broker_label,
    class_guardians,
    handed_out,
    log_count,
    log_total,
    make_class,
    manage,
    publishing_to,
    redis_broker,
    republished,
    requests_for,
    settle,
    stays_quiet,
    verify,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.django_db(transaction=True)]

#: Longest wait for the moment to inject a fault.
FAULT_MOMENT_TIMEOUT = 20


def settled_by_sweep(workers) -> int:
    """Rows the recovery sweep found stuck in ``sending`` and made ``unknown``."""
    return log_total(workers, r"(\d+) broadcasts were stuck in sending")


def skipped(workers, pk) -> int:
    """Deliveries of row ``pk``'s task that the claim refused (a copy, a redelivery)."""
    return log_count(workers, rf"WhatsApp skipped, row not claimable \[broadcast={pk}\]")


# --- 1. A worker killed mid-send ---------------------------------------------------------


@pytest.mark.parametrize("victim", ["worker", "pool-process"])
def test_worker_killed_mid_send(
    victim,
    fault_broker,
    fault_workers,
    fake,
    school_admins,
    report,
    make_student,
    click_send,
    figures,
):
    """``kill -9`` while messages are in flight: those end unknown, never resent; the rest sent.

    ``worker``: the whole worker (main process, pool processes, embedded beat) is killed
    and a fresh one started; what the dead one held is lost (filesystem broker) or stays
    unacknowledged for the visibility timeout (Redis): the sweep republishes the rows
    still pending and gives up on the rows left ``sending``.

    ``pool-process``: only the pool processes that are talking to Fonnte die (the OOM
    killer's way); the main process hands their tasks back to the broker
    (``task_reject_on_worker_lost``), the redelivered task finds its row ``sending`` and
    sends nothing: the claim is what keeps that parent from a second message. (Celery
    notices the loss only after ``worker_lost_wait``, 10 s: this variant is the slowest.)
    """
    if victim == "pool-process" and not Path("/proc/net/tcp").exists():
        pytest.skip("finds the pool processes talking to Fonnte through /proc (Linux only)")
    recipients = make_class(make_student, code=11 if victim == "worker" else 12)
    probe = OrmProbe(report.pk)
    fake.latency = 1.0  # every send is in flight for a second
    first = fault_workers.start("first", fault_broker)
    with publishing_to(fault_broker):
        click_send(report)

    def in_flight():
        """Once every row was handed out: rows whose request Fonnte has, answer pending."""
        if not handed_out(probe.progress()):
            return None
        arrived = {r.target for r in fake.received}
        return [pk for pk, phone in probe.rows(SENDING) if phone in arrived]

    wait_until(in_flight, timeout=FAULT_MOMENT_TIMEOUT, what="a message in flight")
    if victim == "worker":
        fault_workers.kill(first)
        # Nobody else writes these rows now: exactly the sends the worker died in.
        killed = {pk for pk, _ in probe.rows(SENDING)}
        fault_workers.start("second", fault_broker)
    else:
        victims = fault_workers.kill_pool_processes(first, talking_to=fake.port)
        assert victims, "no pool process was talking to Fonnte"
        # A superset: sends of surviving processes are among them, and will finish.
        killed = {pk for pk, _ in probe.rows(SENDING)}
    assert killed

    snap = stays_quiet(probe, fake, settle(probe))
    verify(
        snap,
        fake,
        report_id=report.pk,
        allowed=(SENT, UNKNOWN),
        figures=figures,
        recipients=recipients,
    )
    unknown = {r.pk for r in snap.with_status(UNKNOWN)}
    if victim == "worker":
        assert unknown == killed
    else:
        assert unknown, "a pool process died mid-send, yet no row is unknown"
        assert unknown <= killed
        assert len(unknown) <= len(victims)
        for pk in unknown:
            # The killed task came back (reject_on_worker_lost) and the claim refused it.
            assert skipped(fault_workers, pk) >= 1, f"row #{pk}'s task was not redelivered"
    for row in snap.with_status(UNKNOWN):
        assert row.attempts == 1
    # The stuck rows were found by the periodic sweep (not by a task: theirs died).
    assert settled_by_sweep(fault_workers) == len(unknown)

    figures.update(
        broker=broker_label(fault_broker),
        kills=fault_workers.kills,
        workers_started=len(fault_workers.started),
        in_flight_at_kill=len(killed),
        settled_by_sweep=settled_by_sweep(fault_workers),
        republished=republished(fault_workers),
        redeliveries_refused=sum(skipped(fault_workers, pk) for pk in killed),
    )


#: The pace of the kill test with the pace on: one message every 0.4 s, none in between.
PACED = {"WHATSAPP_MESSAGES_PER_MINUTE": "150", "WHATSAPP_PACE_JITTER": "0"}
#: Fonnte answers each send after this long: the previous message is still in flight at
#: the kill, the next one's turn is 0.4 s away.
PACED_LATENCY = 0.5


def test_worker_killed_with_the_pace_on(
    fault_broker, fault_workers, fake, school_admins, report, make_student, click_send, figures
):
    """``kill -9`` while pool processes wait for their pacing turn and requests are in flight.

    "Unknown" means Fonnte may have the message: every ``unknown`` row's request reached
    the fake Fonnte (its request log, not our rows). The rows the dead worker was waiting
    to send never reached Fonnte; they stay waiting, their lost tasks are republished, and
    each is sent exactly once, at its turn, by the new worker.
    """
    recipients = make_class(make_student, code=13)
    probe = OrmProbe(report.pk)
    fake.latency = PACED_LATENCY
    first = fault_workers.start("first", fault_broker, **PACED)
    with publishing_to(fault_broker):
        click_send(report)

    # Kill right after a request arrives: the next turn is 0.4 s away, so no other request
    # is between its claim and Fonnte, while other pool processes wait for their turns.
    assert fake.wait_for(lambda: fake.received_count() >= 6, timeout=FAULT_MOMENT_TIMEOUT)
    arrived = fake.received_count() + 1
    assert fake.wait_for(lambda: fake.received_count() >= arrived, timeout=5, interval=0.002)
    fault_workers.kill(first)
    # (number, text): the text names the child, twins share a number.
    reached_at_kill = {(r.target, r.message) for r in fake.received}
    in_flight = {pk for pk, _ in probe.rows(SENDING)}
    fault_workers.start("second", fault_broker, **PACED)

    snap = stays_quiet(probe, fake, settle(probe))
    verify(
        snap,
        fake,
        report_id=report.pk,
        allowed=(SENT, UNKNOWN),
        figures=figures,
        recipients=recipients,
    )
    unknown = snap.with_status(UNKNOWN)
    never_reached = [r.pk for r in unknown if not requests_for(fake, r)]
    assert not never_reached, f"unknown rows whose request never reached Fonnte: {never_reached}"
    assert {r.pk for r in unknown} == in_flight
    not_requested = [r for r in snap.rows if (r.phone, r.message) not in reached_at_kill]
    assert not_requested, "every message had reached Fonnte before the kill"
    for row in not_requested:
        assert row.status == SENT, f"row #{row.pk}, never requested before the kill: {row.status}"
        assert len(requests_for(fake, row, accepted=True)) == 1

    figures.update(
        broker=broker_label(fault_broker),
        requested_at_kill=len(reached_at_kill),
        sending_at_kill=len(in_flight),
        unknown_reached_fonnte=len(unknown) - len(never_reached),
        sent_after_the_kill=len(not_requested),
        settled_by_sweep=settled_by_sweep(fault_workers),
        republished=republished(fault_workers),
    )


# --- 2. Redis restarted mid-broadcast -----------------------------------------------------


#: Parents whose number Fonnte refuses in the Redis test.
INVALID_AT_RESTART = 4
#: How a report's alert task looks in a Redis message (its name in the headers).
ALERT_TASK = b"broadcasts.tasks.alert_broadcast_failures"


def test_redis_restarted_mid_broadcast(
    private_redis,
    tmp_path,
    fault_workers,
    fake,
    school_admins,
    report,
    make_student,
    click_send,
    figures,
):
    """A Redis without persistence killed and restarted: its messages are gone.

    The rows are not: the sweep republishes the tasks of rows still pending once the
    queue is empty, and every parent gets exactly one message. The first parents' numbers
    are refused (``target invalid``): their rows failed before the restart, and the
    report's alert task, delayed (WHATSAPP_ALERT_DELAY), was lost with Redis; the sweep
    sends that alert instead, one per admin, listing them all.
    """
    broker = redis_broker(private_redis.url, f"faults-{uuid.uuid4().hex}", cwd=tmp_path)
    recipients = make_class(make_student, code=21)
    # The first rows created, so the first handed out: they fail within the first second.
    # Not the twins' number: its two rows would both fail.
    numbers = [
        r.phone for child in report_recipients(monthly_report=report) for r in child.recipients
    ]
    first = [phone for phone in numbers if numbers.count(phone) == 1][:INVALID_AT_RESTART]
    invalid = sorted(first)
    for phone in invalid:
        fake.script(phone, TARGET_INVALID)
    probe = OrmProbe(report.pk)
    fake.latency = 0.7  # 30 messages take ~5 s on 4 processes: the queue is not drained
    # The alert waits 10 s after the first failure, long enough for the restart to come
    # first; no second alert within 10 minutes.
    fault_workers.start("only", broker, WHATSAPP_ALERT_DELAY="10", WHATSAPP_ALERT_INTERVAL="600")
    with publishing_to(broker):
        click_send(report)

    def mid_broadcast():
        progress = probe.progress()
        return (
            handed_out(progress)
            and progress[SENT] >= 3
            and progress[PENDING] >= 10
            and progress[FAILED] == len(invalid)
        )

    wait_until(
        mid_broadcast,
        timeout=FAULT_MOMENT_TIMEOUT,
        what=f"the broadcast under way, {len(invalid)} rows failed",
        describe=lambda: dict(probe.progress()),
    )
    redis = private_redis.client()
    queued, unacked = redis.llen(broker.queue), redis.hlen("unacked")
    waiting_alerts = sum(
        ALERT_TASK in message
        for message in [*redis.lrange(broker.queue, 0, -1), *redis.hvals("unacked")]
    )
    pending_at_restart = probe.progress()[PENDING]
    if any(row.alerted for row in probe.snapshot().rows):
        pytest.fail("the alert went out before the restart: the machine is too slow for it")
    private_redis.restart(down_for=1.0)

    snap = stays_quiet(probe, fake, settle(probe))
    verify(
        snap,
        fake,
        report_id=report.pk,
        allowed=(SENT, FAILED),
        figures=figures,
        recipients=recipients,
    )
    assert queued + unacked > 0, "nothing was in Redis when it restarted: no fault injected"
    assert waiting_alerts, "no alert task waited in Redis when it restarted: no alert lost"
    assert sorted(row.phone for row in snap.with_status(FAILED)) == invalid
    for admin in ADMINS:  # one alert each (verify: it names every failed row)
        assert sum(a.recipient == admin for a in snap.report_alerts(report.pk)) == 1, admin
    swept = log_count(fault_workers, r"The sweep sent 1 report failure alerts")
    assert swept == 1, "the alert did not come from the recovery sweep"
    figures.update(
        broker="private-redis",
        redis_restarts=private_redis.restarts,
        messages_lost=queued + unacked,
        alert_tasks_lost=waiting_alerts,
        alerts_sent_by_sweep=swept,
        pending_at_restart=pending_at_restart,
        republished=republished(fault_workers),
    )


# --- 3. PostgreSQL briefly unreachable ------------------------------------------------

#: Run in ``manage.py shell`` against the private PostgreSQL: the school, its admins, and
#: the click (the service the admin action calls), which publishes the dispatch task.
CREATE_BROADCAST = """
import json
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from broadcasts.services import broadcast_create_for_report
from reports.models import MonthlyReport
from students.models import Classroom, Guardian, Student

User = get_user_model()
boss = User.objects.create_superuser("kepala", "kepala@example.com", "pw")
for name, group in (("tatausaha", "admin"), ("yayasan", "super_admin")):
    user = User.objects.create_user(name, f"{name}@example.com", "pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
User.objects.create_user("guru", "guru@example.com", "pw", is_staff=True)
User.objects.create_superuser("lama", "lama@example.com", "pw", is_active=False)
room = Classroom.objects.create(name="TK B Mawar")
for i, guardians in enumerate(json.loads(%(guardians)r), 1):
    student = Student.objects.create(nis=f"P{i:05d}", full_name=f"Siswa {i}", classroom=room)
    for relation, phone in guardians:
        Guardian.objects.create(student=student, name="Ibu Siti", relation=relation, phone=phone)
report = MonthlyReport.objects.create(classroom=room, month=11, year=2026)
outcome = broadcast_create_for_report(monthly_report=report, requested_by=boss)
print("RESULT " + json.dumps({"report": report.pk, "created": outcome.created}))
"""


def test_postgres_unreachable_mid_broadcast(
    private_postgres, fault_broker, fault_workers, fake, figures
):
    """A PostgreSQL of the test's own stopped (``-m immediate``) for 4 s mid-broadcast.

    Every row ends sent or unknown, never failed. A row caught mid-send (claimed, its
    "mark sent" or the claim's answer lost in the outage) ends ``unknown``, by the
    on-failure handler if the database is back by then, else by the sweep; it was tried
    once and is never resent. A task that could not claim its row retries (autoretry on
    OperationalError, WHATSAPP_MAX_ATTEMPTS - 1 times, 1 s apart here); if every retry
    met the outage, the on-failure handler leaves the row waiting (nothing was sent:
    services.broadcast_handle_task_failure) and the sweep hands it out again: it ends
    sent. Runs whatever DATABASE_URL says: it never uses the test database.
    """
    pg = private_postgres
    manage(fault_workers.env(fault_broker, database=pg.url), "migrate", "--noinput")
    fake.latency = 0.8
    fault_workers.start("only", fault_broker, database=pg.url)
    output = manage(
        fault_workers.env(fault_broker, database=pg.url),
        "shell",
        "-c",
        CREATE_BROADCAST % {"guardians": json.dumps(class_guardians(31))},
    )
    (line,) = [line for line in output.splitlines() if line.startswith("RESULT ")]
    created = json.loads(line.removeprefix("RESULT "))
    assert created["created"] == N
    probe = SqlProbe(pg, created["report"])

    def mid_broadcast():
        progress = probe.progress()
        if not handed_out(progress) or progress[SENT] < 4 or progress[PENDING] < 6:
            return None
        arrived = {r.target for r in fake.received}
        return [pk for pk, phone in probe.rows(SENDING) or () if phone in arrived]

    wait_until(mid_broadcast, timeout=FAULT_MOMENT_TIMEOUT, what="messages in flight")
    pg.restart(down_for=4.0)

    snap = stays_quiet(probe, fake, settle(probe))
    recipients = {
        (f"P{i:05d}", normalize_phone(phone))
        for i, guardians in enumerate(class_guardians(31), 1)
        for _, phone in guardians
    }
    verify(
        snap,
        fake,
        report_id=created["report"],
        allowed=(SENT, UNKNOWN),
        figures=figures,
        recipients=recipients,
    )
    for row in snap.with_status(UNKNOWN):
        assert row.attempts == 1, row  # claimed once, caught mid-send (see the docstring)
    # The outage was met: sends failed on it (rows were waiting, a send was in flight).
    sends_met_outage = log_count(
        fault_workers,
        r"send_monthly_report_whatsapp\[[^\]]+\] (?:retry: Retry in \S+|raised unexpected): "
        r"(?:OperationalError|InterfaceError)",
    )
    assert sends_met_outage, "no send met the database outage"
    figures.update(
        broker=broker_label(fault_broker),
        postgres_restarts=pg.restarts,
        postgres_down_seconds=4.0,
        sends_met_outage=sends_met_outage,
        settled_by_sweep=settled_by_sweep(fault_workers),
        republished=republished(fault_workers),
    )


# --- 4. Fonnte down ---------------------------------------------------------------------
#
# Down in two ways (support.FonnteDown): it answers every send with HTTP 500, or nothing
# listens on its port (connection refused) until it listens there again. Both are "try
# again later": WHATSAPP_MAX_ATTEMPTS tries in all, WHATSAPP_RETRY_DELAY apart, then failed.
#
# With the defaults (3 attempts, 60 s apart) a message is retried for about two minutes
# (longer only while it waits for its turn in the pace), so a ten-minute outage fails
# every row of the report; none is sent twice, none is left waiting. The admins get the
# report's grouped alert WHATSAPP_ALERT_DELAY (30 s) after its first failure, listing
# every row failed by then (rows that fail later come in the next one, at most every
# WHATSAPP_ALERT_INTERVAL, 10 minutes), and one "many messages failed" alert once
# WHATSAPP_FAILURE_ALERT_THRESHOLD (10) have failed. Once Fonnte is back, one click
# (*Kirim ulang yang gagal*) or ``broadcast_retry --report N`` resends them, once each.
#
# The tests compress that time: attempts 1 or 2 s apart (a retry window of 2 or 4 s
# instead of 2 minutes), no pace, an outage of 2.5 s (inside the window) or one that
# lasts until every row has failed (past it), and a first alert 12 s after the first
# failure, when all 30 rows have failed: one alert per admin lists them all.


def retries_logged(workers, pk: int, reason: str) -> int:
    """Attempts of row ``pk`` that a worker logged as "will retry" because of ``reason``."""
    pattern = rf"WhatsApp will retry \[broadcast={pk} [^\]]*\]: [^\n]*{re.escape(reason)}"
    return log_count(workers, pattern)


@pytest.mark.parametrize("kind", [HTTP_500, REFUSED])
def test_fonnte_down_shorter_than_the_retry_window(
    kind,
    fault_broker,
    fault_workers,
    fake,
    school_admins,
    report,
    make_student,
    click_send,
    figures,
):
    """Fonnte down for 2.5 s after the first failed attempt; 3 attempts 2 s apart outlast it.

    Every row ends sent, once; the rows that met the outage were retried (see above).
    """
    recipients = make_class(make_student, code=41)
    probe = OrmProbe(report.pk)
    retry_delay, outage = 2, 2.5
    with FonnteDown(fake, kind) as down:
        fault_workers.start("only", fault_broker, WHATSAPP_RETRY_DELAY=str(retry_delay))
        with publishing_to(fault_broker):
            click_send(report)
        # Seen in the rows: a refused attempt never reaches the fake.
        wait_until(
            lambda: probe.progress()[RETRYING],
            timeout=FAULT_MOMENT_TIMEOUT,
            what="a first failed attempt",
        )
        time.sleep(outage)
        down.end()

    snap = stays_quiet(probe, fake, settle(probe))
    verify(snap, fake, report_id=report.pk, allowed=(SENT,), figures=figures, recipients=recipients)
    hit = 0
    for row in snap.rows:
        outcomes = [r.outcome for r in requests_for(fake, row)]
        reached_fonnte = row.attempts - 1 if kind == HTTP_500 else 0
        assert outcomes == [HTTP_500] * reached_fonnte + ["ok"], (row, outcomes)
        assert retries_logged(fault_workers, row.pk, down.reason) == row.attempts - 1, row
        hit += row.attempts > 1
    assert hit, "no row met the outage"
    assert snap.alerts == [], "nothing failed, yet the admins were alerted"
    attempts = int(FAULT_SETTINGS["WHATSAPP_MAX_ATTEMPTS"])
    figures.update(
        broker=broker_label(fault_broker),
        outage=kind,
        outage_seconds=outage,
        retry_window_seconds=(attempts - 1) * retry_delay,
        rows_retried=hit,
        most_attempts=max(r.attempts for r in snap.rows),
    )


@pytest.mark.parametrize("kind", [HTTP_500, REFUSED])
def test_fonnte_down_longer_than_the_retry_window(
    kind,
    fault_broker,
    fault_workers,
    fake,
    school_admins,
    report,
    make_student,
    click_send,
    figures,
):
    """Fonnte down past every attempt: all rows fail, each admin gets ONE alert listing them.

    And one "many messages failed" alert (30 failures, threshold 10). Once Fonnte is
    back, ``broadcast_retry --report`` sends them all, once each (see above for what a
    real ten-minute outage does with the default settings).
    """
    recipients = make_class(make_student, code=42)
    probe = OrmProbe(report.pk)
    attempts = int(FAULT_SETTINGS["WHATSAPP_MAX_ATTEMPTS"])
    with FonnteDown(fake, kind) as down:
        started = time.monotonic()
        fault_workers.start(
            "only",
            fault_broker,
            WHATSAPP_RETRY_DELAY="1",
            # Every row has failed by then (their last attempts come within seconds of
            # each other, more on a busy CI machine); a second alert could come only
            # after 10 minutes: one alert, grouped.
            WHATSAPP_ALERT_DELAY="12",
            WHATSAPP_ALERT_INTERVAL="600",
        )
        with publishing_to(fault_broker):
            click_send(report)

        failed = stays_quiet(probe, fake, settle(probe))
        outage = time.monotonic() - started
        verify(failed, fake, report_id=report.pk, allowed=(FAILED,), recipients=recipients)
        for row in failed.rows:
            outcomes = [r.outcome for r in requests_for(fake, row)]
            assert outcomes == ([HTTP_500] * attempts if kind == HTTP_500 else []), row
            assert row.attempts == attempts
            assert down.reason in row.reason, row
            assert retries_logged(fault_workers, row.pk, down.reason) == attempts - 1, row
        report_alerts = failed.report_alerts(report.pk)
        for admin in ADMINS:
            (alert,) = [a for a in report_alerts if a.recipient == admin]
            assert all(f"{row.name} ({row.nis})" in alert.body for row in failed.rows)
        spike_alerts = [a for a in failed.alerts if a.key == "failure-spike"]
        assert sorted(a.recipient for a in spike_alerts) == sorted(ADMINS), spike_alerts
        requests_while_down = len(fake.received)

    # Fonnte is back; an operator resends the report's failed messages.
    out = io.StringIO()
    with publishing_to(fault_broker):
        call_command("broadcast_retry", "--report", str(report.pk), stdout=out)
    assert f"Put back {N} message(s)" in out.getvalue(), out.getvalue()

    snap = stays_quiet(probe, fake, settle(probe))
    verify(snap, fake, report_id=report.pk, allowed=(SENT,), figures=figures, recipients=recipients)
    for row in snap.rows:
        assert row.attempts == 1
        outcomes = [r.outcome for r in requests_for(fake, row)]
        assert outcomes == ([HTTP_500] * attempts if kind == HTTP_500 else []) + ["ok"]
    figures.update(
        broker=broker_label(fault_broker),
        outage=kind,
        outage_seconds=round(outage, 1),
        retry_window_seconds=(attempts - 1) * 1,
        failed_before_resend=len(failed.with_status(FAILED)),
        requests_while_down=requests_while_down,
        report_alerts_per_admin=len(report_alerts) // len(ADMINS),
        spike_alerts_per_admin=len(spike_alerts) // len(ADMINS),
    )
