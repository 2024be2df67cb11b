"""The admin's click, a real Celery worker and Fonnte (faked on 127.0.0.1), end to end.

Each test clicks "send" on a report through the Django admin, lets the worker
(a ``celery -A tkassalam worker`` subprocess, see conftest.py) fan the rows out
and send them, then checks the rows *and* what the fake Fonnte received, per
phone number. Every test uses its own numbers, so a late request of an earlier
test cannot be counted in a later one.
"""

import io
import re
import time
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from broadcasts import tasks
from broadcasts.models import FINAL_STATUSES, BroadcastStatus, MonthlyReportBroadcast
from notifications.models import Notification
from students.phones import normalize_phone
from tests.conftest import confirm_send

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

#: Longest wait for one outcome; a passing test takes a few seconds.
TIMEOUT = 20


def wait_until(predicate, *, timeout=TIMEOUT, what="the condition"):
    """Poll ``predicate()`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(
        "kepala", "kepala@example.com", "pw", is_staff=True
    )


@pytest.fixture
def click_send(client, superuser):
    """Confirm the admin action "send the WhatsApp notification" for a report."""

    def click(report):
        return confirm_send(client, superuser, report)

    return click


def finished_rows(report, count):
    """The report's rows once there are ``count`` and all are final, else None."""
    rows = list(MonthlyReportBroadcast.objects.filter(monthly_report=report).order_by("pk"))
    if len(rows) == count and all(row.status in FINAL_STATUSES for row in rows):
        return rows
    return None


def wait_for_rows(report, count):
    return wait_until(
        lambda: finished_rows(report, count), what=f"{count} final rows of report {report.pk}"
    )


def requests_to(fake, phone):
    """Every request the fake got for ``phone``, accepted or not."""
    return [r for r in fake.received if r.target == phone]


def alert_naming(user, student):
    return Notification.objects.filter(recipient=user, body__contains=student.full_name).first()


def accepted_per_child_and_number(fake, rows):
    """Messages Fonnte accepted per ``(child, number)``, read off its log by the child's name
    in the text (``*Siswa 3*``): twins share a number, never a message."""
    names = {row.student.full_name: row.student_id for row in rows}
    counts = {}
    for request in fake.received:
        if request.accepted:
            (child,) = [pk for name, pk in names.items() if f"*{name}*" in request.message]
            counts[(child, request.target)] = counts.get((child, request.target), 0) + 1
    return counts


def test_every_guardian_with_a_number_gets_one_message(
    fake, click_send, report, make_student, make_guardian
):
    # Mother and father at their own numbers; both at one number; twins whose mother has
    # one number; a child without a number.
    both = make_student("0812-1000-0001")
    father = make_guardian(both, "ayah", "0813-1000-0001")
    sharing = make_student("0812-1000-0002")
    make_guardian(sharing, "ayah", "0812 1000 0002")
    twins = [make_student("0812-1000-0003"), make_student("0812-1000-0003")]
    no_phone = make_student("")
    expected = {
        (both.pk, "6281210000001"),
        (both.pk, "6281310000001"),
        (sharing.pk, "6281210000002"),
        (twins[0].pk, "6281210000003"),
        (twins[1].pk, "6281210000003"),
    }

    click_send(report)

    rows = wait_for_rows(report, count=len(expected))
    assert {(row.student_id, row.phone_number) for row in rows} == expected
    assert no_phone.pk not in {row.student_id for row in rows}
    assert {row.guardian_id for row in rows if row.phone_number == "6281310000001"} == {father.pk}
    # Never twice per (report, child, number), and each of them got theirs: Fonnte's log.
    assert accepted_per_child_and_number(fake, rows) == dict.fromkeys(expected, 1)
    for row in rows:
        (request,) = [r for r in fake.sent_to(row.phone_number) if r.message == row.message]
        assert f"*{row.student.full_name}*" in request.message
        assert row.status == BroadcastStatus.SENT
        assert row.retry_count == 1
        assert row.fonnte_message_id == request.message_id
        assert row.sent_at is not None
        assert request.authorization == fake.token
        assert request.fields.get("countryCode") == "0"
    assert len(fake.received) == len(expected)
    assert fake.duplicates() == {"6281210000003": 2}  # the twins' mother: one per child


#: A log line's leading time, Celery's ("[2026-12-07 09:30:01 +0700: INFO/…") or the
#: project's ("2026-12-07 09:30:01 +0700 INFO broadcasts…"); group 3 is its UTC offset.
LOG_TIME = re.compile(r"^\[?(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(,\d+)?( [+-]\d{4})?")


def test_every_worker_log_line_carries_its_utc_offset(
    worker, fake, click_send, report, make_student
):
    make_student("0812-1000-0091")
    click_send(report)
    wait_for_rows(report, count=1)

    lines = [line for line in worker.log().splitlines() if LOG_TIME.match(line)]
    assert any("Task broadcasts.tasks.send_monthly_report_whatsapp" in line for line in lines)
    assert any("WhatsApp sent [broadcast=" in line for line in lines)  # the project's logger
    for line in lines:
        assert LOG_TIME.match(line).group(3), line


def test_passing_failure_is_retried_then_sent(fake, click_send, report, make_student):
    make_student("0812-2000-0001")
    phone = normalize_phone("0812-2000-0001")
    fake.script(phone, "http_500")

    click_send(report)

    (row,) = wait_for_rows(report, count=1)
    assert row.status == BroadcastStatus.SENT
    assert row.retry_count == 2
    assert row.error_message == ""
    requests = requests_to(fake, phone)
    assert [r.outcome for r in requests] == ["http_500", "ok"]
    assert fake.accepted_count_by_target() == {phone: 1}
    assert row.fonnte_message_id == requests[-1].message_id


def test_final_failure_fails_the_row_and_alerts_the_admins(
    fake, click_send, report, make_student, superuser
):
    student = make_student("0812-3000-0001")
    phone = normalize_phone("0812-3000-0001")
    fake.script(phone, "http_500", "http_500", "http_500")

    click_send(report)

    (row,) = wait_for_rows(report, count=1)
    assert row.status == BroadcastStatus.FAILED
    assert row.retry_count == 3
    assert "500" in row.error_message
    assert [r.outcome for r in requests_to(fake, phone)] == ["http_500"] * 3
    assert fake.sent_to(phone) == []
    alert = wait_until(lambda: alert_naming(superuser, student), what="the admin alert")
    assert alert.level == Notification.Level.ERROR
    row.refresh_from_db()
    assert row.failure_alerted_at is not None


def test_invalid_number_fails_without_calling_fonnte(
    fake, click_send, report, make_student, superuser
):
    invalid = make_student("0812")
    valid = make_student("0812-4000-0001")

    click_send(report)

    rows = wait_for_rows(report, count=2)
    by_student = {row.student_id: row for row in rows}
    bad, good = by_student[invalid.pk], by_student[valid.pk]
    assert bad.status == BroadcastStatus.FAILED
    assert bad.phone_number == "0812"
    assert bad.retry_count == 1
    message = bad.error_message.lower()
    assert "phone" in message or "telepon" in message, bad.error_message
    assert good.status == BroadcastStatus.SENT
    # Only the valid number reached Fonnte, once.
    assert [r.target for r in fake.received] == [normalize_phone("0812-4000-0001")]
    assert wait_until(lambda: alert_naming(superuser, invalid), what="the admin alert")
    assert alert_naming(superuser, valid) is None


def test_a_task_delivered_more_than_once_sends_once(fake, worker, click_send, report, make_student):
    make_student("0812-5000-0001")
    phone = normalize_phone("0812-5000-0001")
    # Fonnte answers slowly: the first send is still in flight when the copies arrive.
    fake.latency = 0.5
    mark = worker.log_mark()

    click_send(report)

    row = wait_until(
        lambda: MonthlyReportBroadcast.objects.filter(
            monthly_report=report, enqueued_at__isnull=False
        ).first(),
        what="the dispatcher to publish the send task",
    )

    def publish_copy():
        tasks.send_monthly_report_whatsapp.apply_async(
            kwargs={"monthly_report_id": report.pk, "broadcast_id": row.pk}
        )

    # Two copies race the dispatcher's task on the worker's two processes...
    publish_copy()
    publish_copy()
    (row,) = wait_for_rows(report, count=1)
    assert row.status == BroadcastStatus.SENT
    # ... and two more arrive once it was sent (a redelivery after a lost ack).
    publish_copy()
    publish_copy()

    # The dispatcher's task and four copies ran: one sent, four found nothing to do.
    skipped = rf"WhatsApp skipped, row not claimable \[broadcast={row.pk}\]"
    wait_until(
        lambda: worker.count(skipped, since=mark) >= 4,
        what="the worker to run the four copies",
    )
    assert worker.count(skipped, since=mark) == 4
    assert fake.accepted_count_by_target() == {phone: 1}
    assert len(requests_to(fake, phone)) == 1
    row.refresh_from_db()
    assert row.status == BroadcastStatus.SENT
    assert row.retry_count == 1
    assert row.fonnte_message_id == fake.sent_to(phone)[0].message_id


def test_read_timeout_leaves_the_row_unknown_and_never_resends(
    fake, click_send, report, make_student, superuser
):
    student = make_student("0812-6000-0001")
    phone = normalize_phone("0812-6000-0001")
    # Fonnte queues the message but answers after 3 s; the worker gives up after 1 s.
    fake.hang_seconds = 3.0
    fake.script(phone, "hang")

    click_send(report)

    (row,) = wait_for_rows(report, count=1)
    assert row.status == BroadcastStatus.UNKNOWN
    assert row.retry_count == 1
    assert row.fonnte_message_id == ""
    assert row.error_message
    assert fake.accepted_count_by_target() == {phone: 1}
    # A resend would come WHATSAPP_RETRY_DELAY (1 s) later: give it three times that.
    assert not fake.wait_for(lambda: len(requests_to(fake, phone)) > 1, timeout=3)
    assert fake.accepted_count_by_target() == {phone: 1}
    assert wait_until(lambda: alert_naming(superuser, student), what="the admin alert")
    row.refresh_from_db()
    assert row.status == BroadcastStatus.UNKNOWN


def test_each_message_carries_a_link_that_opens_that_childs_file(
    fake, client, report, make_student, make_guardian, superuser
):
    """A ZIP uploaded for a class, sent through the workers, each link followed as a parent.

    The first child's father and mother each get a link of their own, to the same file.
    """
    students = [make_student(f"0812-1300-000{n}") for n in (1, 2, 3)]
    make_guardian(students[0], "ayah", "0813-1300-0001")
    files = {
        student.pk: b"%PDF-1.4\n% report of " + student.nis.encode() + b"\n%%EOF\n"
        for student in students[:2]
    }
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        for student in students[:2]:
            # Named as schools name them: the NIS first, then anything.
            archive.writestr(f"{student.nis.lower()} - {student.full_name}.PDF", files[student.pk])
    client.force_login(superuser)
    upload_url = f"/admin/reports/monthlyreport/{report.pk}/upload-zip/"
    preview = client.post(
        upload_url, {"zip_file": SimpleUploadedFile("kelas.zip", packed.getvalue())}
    ).content.decode()
    kept = re.search(r'name="upload" value="([^"]+)"', preview).group(1)
    assert client.post(upload_url, {"upload": kept}).status_code == 302

    # The admin chooses to message the child without a file now, without a link.
    response = client.post(
        "/admin/reports/monthlyreport/",
        {
            "action": "send_whatsapp_broadcast",
            "_selected_action": [report.pk],
            "index": 0,
            "post": "yes",
            "without_file": "send",
        },
    )
    assert response.status_code == 302

    rows = wait_for_rows(report, count=4)
    parent = Client(HTTP_USER_AGENT="Mozilla/5.0 (Linux; Android 13) Mobile Safari/537.36")
    paths = set()
    for row in rows:
        student = next(s for s in students if s.pk == row.student_id)
        (request,) = [r for r in requests_to(fake, row.phone_number) if r.message == row.message]
        links = re.findall(r"https?://\S+?(/laporan/[A-Za-z0-9_-]{43}/)", request.message)
        if student.pk not in files:
            assert links == []  # no file: the old message, no link
            continue
        (path,) = links
        paths.add(path)
        page = parent.get(path)
        assert page.status_code == 200 and student.full_name in page.content.decode()
        row.refresh_from_db()
        assert row.opened_at is None  # the page alone is not an opening
        answer = parent.get(path + "berkas/")
        served = b"".join(answer.streaming_content)
        assert served == files[student.pk]
        assert all(served != data for pk, data in files.items() if pk != student.pk)
        row.refresh_from_db()
        assert row.opened_at is not None and row.open_count == 1
    assert len(paths) == 3  # the father's link is not the mother's
    # The admin's broadcast list: "opened" for exactly the three messages whose file was fetched.
    listed = client.get("/admin/broadcasts/monthlyreportbroadcast/?file_opened=opened")
    text = listed.content.decode()
    assert listed.status_code == 200 and text.count('class="wa-opened-at"') == 3
    assert all(s.full_name in text for s in students[:2]) and students[2].full_name not in text
