"""Pacing (broadcasts.services.pacing): slots, quiet hours, the daily cap, pause and resume.

Time is controlled: ``now`` is passed in, and the send path's ``sleep`` is recorded
instead of slept. The pace across real worker processes is tested in
tests/faults/test_pacing_workers.py.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from broadcasts import queue
from broadcasts.exceptions import BroadcastFailed
from broadcasts.models import BroadcastStatus, FonnteDevice, MonthlyReportBroadcast
from broadcasts.services import (
    broadcast_create_for_report,
    broadcast_dispatch_pending,
    broadcast_process_due,
    broadcast_send,
    fonnte_device_record,
    pacing,
    sending,
)
from broadcasts.services.pacing import Waiting, pacing_reserve_turn, pacing_state
from tests.conftest import quiet_hours_around_now

JAKARTA = ZoneInfo("Asia/Jakarta")


def jakarta(day, hour, minute=0, second=0.0):
    whole = int(second)
    micro = round((second - whole) * 1_000_000)
    return datetime(2026, 11, day, hour, minute, whole, micro, tzinfo=JAKARTA)


@pytest.fixture
def pace(settings):
    """30 messages a minute (2 s apart), no jitter, no cap, no quiet hours; tests change it."""
    settings.WHATSAPP_MESSAGES_PER_MINUTE = 30
    settings.WHATSAPP_PACE_JITTER = 0
    settings.WHATSAPP_DAILY_LIMIT = 0
    settings.WHATSAPP_QUIET_HOURS = ""
    return settings


@pytest.fixture
def slept(monkeypatch):
    waits = []
    monkeypatch.setattr(sending, "sleep", waits.append)
    return waits


@pytest.fixture
def published(monkeypatch):
    rows = []
    monkeypatch.setattr(queue, "publish_sends", lambda chunk: rows.extend(chunk))
    return rows


@pytest.fixture
def rows(report, make_student, django_capture_on_commit_callbacks, published):
    for i in range(3):
        make_student(f"0812-3456-78{i:02d}")
    with django_capture_on_commit_callbacks(execute=False):
        broadcast_create_for_report(monthly_report=report)
    return list(MonthlyReportBroadcast.objects.order_by("pk"))


def send(row):
    broadcast_send(broadcast_id=row.pk, monthly_report_id=row.monthly_report_id)


# --- Slots -------------------------------------------------------------------------------


def test_slots_are_the_interval_apart_and_a_far_one_is_not_reserved(pace, db):
    now = jakarta(2, 10)
    turns = [pacing_reserve_turn(now=now) for _ in range(9)]
    assert [t.reserved for t in turns] == [True] * 8 + [False]
    assert [t.at - now for t in turns[:8]] == [timedelta(seconds=2 * i) for i in range(8)]
    # The 9th would be 16 s away: more than a task waits (15 s). Nothing was taken for it.
    assert (turns[8].at - now, turns[8].waiting) == (timedelta(seconds=16), Waiting.PACE)
    assert pacing_reserve_turn(now=now).at == turns[8].at


def test_a_pace_left_idle_starts_again_at_now(pace, db):
    pacing_reserve_turn(now=jakarta(2, 10))
    later = jakarta(2, 11)
    assert pacing_reserve_turn(now=later).at == later


def test_jitter_adds_up_to_its_seconds_never_less_than_the_interval(pace, db):
    pace.WHATSAPP_PACE_JITTER = 1.0
    gaps = []
    for i in range(30):
        start = jakarta(2, 10) + timedelta(minutes=i)  # an idle pace starts at ``start``
        first, second = (pacing_reserve_turn(now=start).at for _ in range(2))
        gaps.append((second - first).total_seconds())
    assert all(2.0 <= gap <= 3.0 for gap in gaps), gaps
    assert len({round(gap, 3) for gap in gaps}) > 5  # random, not a fixed extra


def test_no_pace_reserves_at_once_without_touching_the_database(
    pace, db, django_assert_num_queries
):
    pace.WHATSAPP_MESSAGES_PER_MINUTE = 0
    now = timezone.now()
    with django_assert_num_queries(1):  # only: is the device connected?
        assert pacing_reserve_turn(now=now).at == now


# --- Quiet hours ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "opens"),
    [
        (jakarta(2, 21), jakarta(3, 6)),  # evening: tomorrow morning
        (jakarta(3, 2, 30), jakarta(3, 6)),  # after midnight: this morning
        (jakarta(3, 5, 59, 59.5), jakarta(3, 6)),  # half a second before: waits, sends
    ],
)
def test_a_message_due_in_quiet_hours_waits_for_them_to_end(pace, db, now, opens):
    pace.WHATSAPP_QUIET_HOURS = "20:00-06:00"
    turn = pacing_reserve_turn(now=now)
    assert turn.at == opens
    assert turn.reserved == (opens - now <= timedelta(seconds=15))
    if not turn.reserved:
        assert turn.waiting == Waiting.QUIET_HOURS


@pytest.mark.parametrize("hour", [6, 12, 19])
def test_outside_quiet_hours_messages_go_at_once(pace, db, hour):
    pace.WHATSAPP_QUIET_HOURS = "20:00-06:00"
    now = jakarta(2, hour)
    assert pacing_reserve_turn(now=now) == pacing.Turn(reserved=True, at=now)


def test_quiet_hours_within_one_day(pace, db):
    pace.WHATSAPP_QUIET_HOURS = "12:00-13:30"
    assert pacing_reserve_turn(now=jakarta(2, 12, 45)).at == jakarta(2, 13, 30)
    assert pacing_reserve_turn(now=jakarta(2, 13, 30)).reserved


@pytest.mark.parametrize("bad", ["20-06", "25:00-06:00", "20:00-20:00", "malam"])
def test_malformed_quiet_hours_are_a_configuration_error(pace, db, bad):
    pace.WHATSAPP_QUIET_HOURS = bad
    with pytest.raises(ImproperlyConfigured, match="WHATSAPP_QUIET_HOURS"):
        pacing.current_pace()


# --- Daily cap -----------------------------------------------------------------------------


def test_the_daily_cap_holds_the_rest_until_the_next_day(pace, db):
    pace.WHATSAPP_DAILY_LIMIT = 3
    now = jakarta(2, 10)
    turns = [pacing_reserve_turn(now=now + timedelta(minutes=i)) for i in range(4)]
    assert [t.reserved for t in turns] == [True, True, True, False]
    assert (turns[3].at, turns[3].waiting) == (jakarta(3, 0), Waiting.DAILY_LIMIT)
    state = pacing_state(now=now + timedelta(minutes=5))
    assert (state.open_now, state.waiting, state.sent_today) == (False, Waiting.DAILY_LIMIT, 3)
    assert pacing_reserve_turn(now=jakarta(3, 0)).reserved  # a new day, a new count


def test_the_daily_cap_and_quiet_hours_together_open_at_the_morning(pace, db):
    pace.WHATSAPP_DAILY_LIMIT = 1
    pace.WHATSAPP_QUIET_HOURS = "20:00-06:00"
    assert pacing_reserve_turn(now=jakarta(2, 15)).reserved
    turn = pacing_reserve_turn(now=jakarta(2, 15, 1))
    assert (turn.at, turn.waiting) == (jakarta(3, 6), Waiting.DAILY_LIMIT)


# --- The send path: waiting, parking, no attempt used --------------------------------------


def test_a_near_turn_is_waited_for_then_sent(pace, rows, outbox, slept):
    now = timezone.now()
    pacing_reserve_turn(now=now)  # someone else just sent: the next slot is 2 s away
    send(rows[0])
    assert len(slept) == 1 and 1.0 < slept[0] <= 2.0
    rows[0].refresh_from_db()
    assert (rows[0].status, rows[0].retry_count) == (BroadcastStatus.SENT, 1)


def test_a_far_turn_parks_the_row_waiting_without_using_an_attempt(
    pace, rows, outbox, slept, published
):
    pace.WHATSAPP_QUIET_HOURS = quiet_hours_around_now()
    MonthlyReportBroadcast.objects.update(enqueued_at=timezone.now())
    send(rows[0])
    assert outbox == [] and slept == []
    rows[0].refresh_from_db()
    assert rows[0].status == BroadcastStatus.PENDING
    assert rows[0].retry_count == 0
    assert rows[0].enqueued_at is None  # the dispatcher hands it out again ...
    assert rows[0].next_attempt_at > timezone.now()  # ... when its time comes


def test_a_parked_retry_keeps_its_attempts(pace, rows, outbox, slept):
    pace.WHATSAPP_QUIET_HOURS = quiet_hours_around_now()
    MonthlyReportBroadcast.objects.filter(pk=rows[0].pk).update(
        status=BroadcastStatus.RETRYING, retry_count=1, next_attempt_at=timezone.now()
    )
    send(rows[0])
    rows[0].refresh_from_db()
    assert (rows[0].status, rows[0].retry_count) == (BroadcastStatus.RETRYING, 1)
    assert outbox == []


def test_a_row_already_sent_takes_no_slot(pace, rows, outbox, slept):
    MonthlyReportBroadcast.objects.filter(pk=rows[0].pk).update(status=BroadcastStatus.SENT)
    send(rows[0])
    assert outbox == [] and slept == []
    assert pacing_reserve_turn().at <= timezone.now()  # the next turn is still now


def test_the_dispatcher_holds_back_in_quiet_hours_and_hands_out_due_parked_rows(
    pace, rows, published
):
    pace.WHATSAPP_QUIET_HOURS = quiet_hours_around_now()
    assert broadcast_dispatch_pending() == 0
    assert published == []
    pace.WHATSAPP_QUIET_HOURS = ""
    later = timezone.now() + timedelta(hours=1)
    MonthlyReportBroadcast.objects.filter(pk=rows[0].pk).update(next_attempt_at=later)
    assert broadcast_dispatch_pending() == 2  # the row parked until later waits
    assert [pk for pk, _ in published] == [rows[1].pk, rows[2].pk]
    MonthlyReportBroadcast.objects.filter(pk=rows[0].pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    assert broadcast_dispatch_pending() == 1
    assert published[-1][0] == rows[0].pk


def test_the_cron_runner_sends_nothing_in_quiet_hours(pace, rows, outbox, settings):
    settings.WHATSAPP_RUNNER = "cron"
    pace.WHATSAPP_QUIET_HOURS = quiet_hours_around_now()
    assert broadcast_process_due(max_jobs=5).processed == 0
    assert outbox == []


# --- Pause on disconnect, resume on connect ------------------------------------------------


def test_a_disconnect_pauses_and_a_connect_resumes(
    pace, rows, outbox, slept, published, admins, django_capture_on_commit_callbacks
):
    pace.WHATSAPP_MESSAGES_PER_MINUTE = 0  # pausing needs no pace
    fonnte_device_record(device="6281200000000", status="disconnect", reason="", timestamp=1)
    send(rows[0])
    rows[0].refresh_from_db()
    assert (rows[0].status, rows[0].retry_count) == (BroadcastStatus.PENDING, 0)
    assert (rows[0].enqueued_at, rows[0].next_attempt_at) == (None, None)
    assert broadcast_dispatch_pending() == 0
    assert outbox == [] and published == []
    assert pacing_state().waiting == Waiting.DISCONNECTED

    with django_capture_on_commit_callbacks(execute=True):
        fonnte_device_record(device="6281200000000", status="connect", reason="", timestamp=2)
    assert FonnteDevice.objects.get().status == FonnteDevice.Status.CONNECTED
    # The dispatch task ran on commit (eagerly here): every waiting row is handed out.
    assert sorted(pk for pk, _ in published) == [row.pk for row in rows]
    send(rows[0])
    rows[0].refresh_from_db()
    assert rows[0].status == BroadcastStatus.SENT
    assert len(outbox) == 1


@pytest.fixture(autouse=True)
def _eager_dispatch(celery_eager):
    """The connect webhook's dispatch task runs in-process."""


# --- What the admins see ------------------------------------------------------------------


REPORT_PAGES = ("/admin/reports/monthlyreport/", "/admin/reports/monthlyreport/{pk}/change/")


def held_notice(client, report, text):
    return [text in client.get(url.format(pk=report.pk)).content.decode() for url in REPORT_PAGES]


def test_the_report_pages_say_quiet_hours_hold_messages(pace, admin_client, report):
    text = "Jam tenang: pesan yang menunggu akan dikirim mulai"
    assert held_notice(admin_client, report, text) == [False, False]
    pace.WHATSAPP_QUIET_HOURS = quiet_hours_around_now()
    assert held_notice(admin_client, report, text) == [True, True]


def test_the_report_pages_say_the_daily_limit_holds_messages(pace, admin_client, report):
    pace.WHATSAPP_DAILY_LIMIT = 1
    pacing_reserve_turn()  # today's one message
    assert held_notice(admin_client, report, "Batas hari ini, 1 pesan WhatsApp") == [True, True]


def test_the_report_pages_say_sending_is_paused_while_the_device_is_away(
    pace, admin_client, report
):
    url = "/admin/reports/monthlyreport/"
    assert "Pengiriman dijeda" not in admin_client.get(url).content.decode()
    fonnte_device_record(device="6281200000000", status="disconnect", reason="", timestamp=1)
    assert "Pengiriman dijeda" in admin_client.get(url).content.decode()


def test_manage_py_check_names_malformed_pace_settings(pace):
    from django.core.checks import run_checks

    pace.WHATSAPP_QUIET_HOURS = "malam"
    (error,) = [e for e in run_checks() if e.id == "broadcasts.E004"]
    assert "20:00-06:00" in error.msg


def test_the_cron_runner_counts_a_row_whose_turn_is_far_as_waiting(pace, rows, outbox, slept):
    pace.WHATSAPP_RUNNER = "cron"
    now = timezone.now()
    for _ in range(8):  # other senders took the next 16 seconds
        pacing_reserve_turn(now=now)
    result = broadcast_process_due(max_jobs=5)
    assert (result.processed, result.sent, result.waiting) == (3, 0, 3)
    assert outbox == []
    assert MonthlyReportBroadcast.objects.filter(next_attempt_at__isnull=False).count() == 3


def test_the_confirmation_page_says_how_long_the_pace_takes(
    pace, admin_client, report, make_student
):
    for i in range(45):
        make_student(f"0812-3456-{i:04d}")
    page = admin_client.post(
        "/admin/reports/monthlyreport/",
        {"action": "send_whatsapp_broadcast", "_selected_action": [report.pk], "index": 0},
    ).content.decode()
    # 45 messages at 30 a minute: about 2 minutes.
    assert "paling banyak 30 per menit" in page
    assert "sekitar 2 menit" in page


def test_a_number_that_fails_without_a_call_takes_no_slot(pace, rows, outbox, slept):
    MonthlyReportBroadcast.objects.filter(pk=rows[0].pk).update(phone_number="0812")
    with pytest.raises(BroadcastFailed):
        send(rows[0])
    assert outbox == [] and slept == []
    assert pacing_reserve_turn().at <= timezone.now()  # the next turn is still now
