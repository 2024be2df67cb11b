"""The admin's click: rows created once, in bulk, handed to workers only after commit."""

from unittest import mock

from django.db import connection
from django.test.utils import CaptureQueriesContext

from broadcasts.models import BroadcastStatus, MonthlyReportBroadcast
from broadcasts.selectors import broadcast_plan
from broadcasts.services import broadcast_create_for_report


def test_one_pending_row_per_student_with_a_number(report, make_student, admins):
    with_phone = [make_student("0812-3456-7890"), make_student("+62 813 1111 2222")]
    make_student("")  # no number: skipped, no row

    outcome = broadcast_create_for_report(monthly_report=report, requested_by=admins[0])

    rows = MonthlyReportBroadcast.objects.order_by("student_id")
    assert [row.student for row in rows] == with_phone
    assert [row.phone_number for row in rows] == ["6281234567890", "6281311112222"]
    assert {row.status for row in rows} == {BroadcastStatus.PENDING}
    assert all("Laporan bulan *November 2026*" in row.message for row in rows)
    assert {row.requested_by for row in rows} == {admins[0]}
    assert (outcome.created, outcome.skipped_no_phone) == (2, 1)


def test_a_stored_invalid_number_still_gets_a_row_kept_as_entered(report, make_student):
    make_student("0812")
    broadcast_create_for_report(monthly_report=report)
    row = MonthlyReportBroadcast.objects.get()
    assert (row.phone_number, row.status) == ("0812", BroadcastStatus.PENDING)


def test_running_it_again_creates_nothing_and_reports_what_exists(report, make_student):
    make_student()
    make_student("0813-1111-2222")
    broadcast_create_for_report(monthly_report=report)
    MonthlyReportBroadcast.objects.filter(pk=MonthlyReportBroadcast.objects.first().pk).update(
        status=BroadcastStatus.SENT
    )

    again = broadcast_create_for_report(monthly_report=report)

    assert MonthlyReportBroadcast.objects.count() == 2
    # The manager's shortcuts, as an operator types them in `manage.py shell`.
    assert MonthlyReportBroadcast.objects.pending().count() == 1
    assert MonthlyReportBroadcast.objects.sent().count() == 1
    assert MonthlyReportBroadcast.objects.failed().count() == 0
    assert (again.created, again.already_sent, again.under_way) == (0, 1, 1)


def test_a_student_added_later_gets_a_row_on_the_next_run(report, make_student):
    make_student()
    broadcast_create_for_report(monthly_report=report)
    newcomer = make_student("0813-1111-2222")
    again = broadcast_create_for_report(monthly_report=report)
    assert again.created == 1
    assert MonthlyReportBroadcast.objects.filter(student=newcomer).count() == 1


def test_workers_are_told_only_after_commit_with_one_broker_message(
    report, make_student, django_capture_on_commit_callbacks
):
    for _ in range(5):
        make_student()
    with (
        mock.patch("broadcasts.tasks.dispatch_pending_broadcasts.delay") as dispatch,
        django_capture_on_commit_callbacks() as callbacks,
    ):
        broadcast_create_for_report(monthly_report=report)
        assert dispatch.call_count == 0  # nothing published inside the transaction
    assert len(callbacks) == 1
    callbacks[0]()
    dispatch.assert_called_once_with()


def test_query_count_does_not_grow_with_the_class(report, make_student, classroom):
    """Reads are a fixed few; inserts go in batches (SQLite caps a batch at 999 parameters)."""

    def queries_for_a_class_of(n):
        MonthlyReportBroadcast.objects.all().delete()
        classroom.students.all().delete()
        for _ in range(n):
            make_student()
        with CaptureQueriesContext(connection) as ctx:
            broadcast_create_for_report(monthly_report=report)
        assert MonthlyReportBroadcast.objects.count() == n
        sql = [q["sql"] for q in ctx.captured_queries]
        inserts = [q for q in sql if q.startswith("INSERT")]
        return len(sql) - len(inserts), len(inserts)

    small_reads, small_inserts = queries_for_a_class_of(5)
    large_reads, large_inserts = queries_for_a_class_of(300)
    assert small_reads == large_reads
    assert small_inserts == 1
    assert large_inserts <= 300 // 10  # batches, never a statement per row


def test_the_plan_counts_recipients_lists_skipped_students_and_previews_a_real_message(
    report, make_student
):
    first = make_student(name="Aisyah Putri")
    make_student(name="Bima", phone="")
    invalid = make_student(name="Citra", phone="0812")
    plan = broadcast_plan(monthly_report=report)
    assert plan.new_recipients == 2
    assert [s.full_name for s in plan.no_phone] == ["Bima"]
    assert plan.invalid_phone == [invalid]
    assert plan.preview_student == first
    assert "*Aisyah Putri*" in plan.preview


def test_an_invalid_number_whose_row_another_click_made_first_is_not_counted(report, make_student):
    """Two admins confirm at once: the other click inserted one invalid student's row first."""
    from broadcasts.selectors import students_without_broadcast

    taken, fresh = make_student("0812", name="Eko"), make_student("12345", name="Fitri")
    valid = [make_student(name="Gita"), make_student(name="Hana")]
    read_before_the_other_click = list(students_without_broadcast(monthly_report=report))
    MonthlyReportBroadcast.objects.create(
        monthly_report=report, student=taken, phone_number="0812", message="x"
    )

    with mock.patch(
        "broadcasts.services.creation.students_without_broadcast",
        return_value=read_before_the_other_click,
    ):
        outcome = broadcast_create_for_report(monthly_report=report)

    # Ours: Fitri (invalid) and the two valid ones. Eko's row is the other click's.
    assert MonthlyReportBroadcast.objects.filter(student__in=[fresh, *valid]).count() == 3
    assert (outcome.created, outcome.invalid_phone, outcome.queued) == (3, 1, 2)
