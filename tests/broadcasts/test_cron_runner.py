"""Shared hosting: process_broadcasts does a worker's job for the due rows, then exits."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from broadcasts.models import BroadcastStatus, MonthlyReportBroadcast
from broadcasts.services import broadcast_create_for_report
from notifications.models import Notification
from tests.conftest import FONNTE_TEST_URL, fonnte_ok


@pytest.fixture
def cron(settings):
    settings.WHATSAPP_RUNNER = "cron"
    settings.WHATSAPP_RETRY_DELAY = 60


def process(max_jobs=5):
    out = io.StringIO()
    call_command("process_broadcasts", max_jobs=max_jobs, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_sends_at_most_max_jobs_per_run_and_never_twice(
    cron, report, make_student, fonnte, django_capture_on_commit_callbacks
):
    for _ in range(7):
        make_student()
    with django_capture_on_commit_callbacks(execute=True):
        broadcast_create_for_report(monthly_report=report)  # publishes nothing in cron mode
    fonnte.post(FONNTE_TEST_URL, json=fonnte_ok())

    assert "Processed 5: 5 sent" in process()
    assert "Processed 2: 2 sent" in process()
    assert "Processed 0" in process()
    assert MonthlyReportBroadcast.objects.sent().count() == 7
    assert len(fonnte.calls) == 7


def test_a_passing_failure_waits_for_its_retry_time(cron, report, make_student, fonnte):
    make_student()
    broadcast_create_for_report(monthly_report=report)
    fonnte.post(FONNTE_TEST_URL, status=500, json={})
    assert "1 to retry" in process()
    assert "Processed 0" in process()  # not due yet

    MonthlyReportBroadcast.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    fonnte.replace("POST", FONNTE_TEST_URL, json=fonnte_ok())
    assert "1 sent" in process()
    row = MonthlyReportBroadcast.objects.get()
    assert (row.status, row.retry_count) == (BroadcastStatus.SENT, 2)


def test_a_final_failure_alerts_the_admins_in_the_same_run(
    cron, report, make_student, fonnte, admins
):
    make_student("0812")
    broadcast_create_for_report(monthly_report=report)
    assert "1 failed or unknown, 0 left waiting; 1 admin alert(s) sent" in process()
    assert Notification.objects.filter(recipient=admins[0]).count() == 1
    assert len(fonnte.calls) == 0


def test_max_jobs_must_be_positive(cron, db):
    with pytest.raises(CommandError, match="--max-jobs"):
        process(max_jobs=0)
