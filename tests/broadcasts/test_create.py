"""The admin's click: rows created once, in bulk, handed to workers only after commit."""

from unittest import mock

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from broadcasts.models import BroadcastStatus, MonthlyReportBroadcast
from broadcasts.selectors import MessageCounts, broadcast_plan, report_recipients
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


def test_query_count_does_not_grow_with_the_class(report, make_student, make_guardian, classroom):
    """Reads are a fixed few; inserts go in batches (SQLite caps a batch at 999 parameters).

    With two guardians per child (two numbers, two rows each) as with one.
    """

    def queries_for_a_class_of(n, guardians):
        MonthlyReportBroadcast.objects.all().delete()
        classroom.students.all().delete()
        for i in range(n):
            student = make_student(f"0812-0000-{i:04d}")
            if guardians == 2:
                make_guardian(student, "ayah", f"0813-0000-{i:04d}")
        with CaptureQueriesContext(connection) as ctx:
            broadcast_create_for_report(monthly_report=report)
        assert MonthlyReportBroadcast.objects.count() == n * guardians
        sql = [q["sql"] for q in ctx.captured_queries]
        inserts = [q for q in sql if q.startswith("INSERT")]
        return len(sql) - len(inserts), len(inserts)

    small_reads, small_inserts = queries_for_a_class_of(5, guardians=1)
    large_reads, large_inserts = queries_for_a_class_of(300, guardians=1)
    two_reads, two_inserts = queries_for_a_class_of(300, guardians=2)
    assert small_reads == large_reads == two_reads
    assert small_inserts == 1
    assert large_inserts <= 300 // 10  # batches, never a statement per row
    assert two_inserts <= 600 // 10


def test_the_plan_counts_recipients_lists_skipped_guardians_and_previews_a_real_message(
    report, make_student, make_guardian
):
    first = make_student(name="Aisyah Putri", parent_name="Ibu Rahma")
    make_guardian(first, "ayah", "0813-5555-6666", name="Pak Yusuf")
    bima = make_student(name="Bima", phone="")
    invalid = make_student(name="Citra", phone="0812")
    dewi = make_student(name="Dewi", whatsapp_registered=False)
    opted = make_guardian(dewi, "ayah", "0813-7777-8888", receives_messages=False)

    plan = broadcast_plan(monthly_report=report)

    assert (plan.new_recipients, plan.children) == (3, 2)
    assert [(s.student, s.guardian) for s in plan.no_phone] == [(bima, bima.guardians.get())]
    assert [(s.student, s.guardian) for s in plan.opted_out] == [(dewi, opted)]
    assert [s.student for s in plan.not_on_whatsapp] == [dewi]
    assert plan.no_guardian == [bima, dewi]
    assert [(r.student, r.phone, r.valid) for r in plan.invalid_phone] == [(invalid, "0812", False)]
    assert plan.counts == MessageCounts(total=3, invalid=1, children=2)
    assert plan.preview_student == first
    assert plan.preview_guardian == first.guardians.get(relation="ibu")
    assert "*Aisyah Putri*" in plan.preview


def test_an_invalid_number_whose_row_another_click_made_first_is_not_counted(report, make_student):
    """Two admins confirm at once: the other click inserted one invalid child's row first."""
    taken, fresh = make_student("0812", name="Eko"), make_student("12345", name="Fitri")
    valid = [make_student(name="Gita"), make_student(name="Hana")]
    read_before_the_other_click = report_recipients(monthly_report=report)
    MonthlyReportBroadcast.objects.create(
        monthly_report=report,
        student=taken,
        guardian=taken.guardians.get(),
        phone_number="0812",
        message="x",
    )

    with mock.patch(
        "broadcasts.services.creation.report_recipients",
        return_value=read_before_the_other_click,
    ):
        outcome = broadcast_create_for_report(monthly_report=report)

    # Ours: Fitri (invalid) and the two valid ones. Eko's row is the other click's.
    assert MonthlyReportBroadcast.objects.filter(student__in=[fresh, *valid]).count() == 3
    assert (outcome.created, outcome.invalid_phone, outcome.queued) == (3, 1, 2)
    assert outcome.children == 3  # Eko is the other click's child


def test_two_confirms_at_once_make_each_message_once_and_the_second_counts_nothing(
    report, make_student, make_guardian
):
    """Both clicks read the class before either inserts: the second makes and counts nothing."""
    child = make_student(name="Ani")
    make_guardian(child, "ayah", "0813-1111-2222")
    make_guardian(child, "wali", "0813-1111-2222")  # the father's number: one message
    make_student("0812", name="Budi")  # invalid: a row that fails
    both_read = report_recipients(monthly_report=report)

    first = broadcast_create_for_report(monthly_report=report)
    with mock.patch("broadcasts.services.creation.report_recipients", return_value=both_read):
        second = broadcast_create_for_report(monthly_report=report)

    pairs = list(MonthlyReportBroadcast.objects.values_list("student__full_name", "phone_number"))
    assert sorted(pairs) == [("Ani", "6281234567890"), ("Ani", "6281311112222"), ("Budi", "0812")]
    assert (first.created, first.children, first.invalid_phone) == (3, 2, 1)
    assert (second.created, second.children, second.invalid_phone) == (0, 0, 0)
    assert second.under_way == 3


def test_two_guardians_sharing_a_number_get_one_message(report, make_student, make_guardian):
    child = make_student("0812-3456-7890", name="Ani", parent_name="Ibu Siti")
    make_guardian(child, "ayah", "+62 812 3456 7890", name="Pak Budi")  # the same number

    plan = broadcast_plan(monthly_report=report)
    outcome = broadcast_create_for_report(monthly_report=report)

    row = MonthlyReportBroadcast.objects.get()
    assert (row.student, row.phone_number) == (child, "6281234567890")
    assert row.guardian.name == "Ibu Siti" and "Ani" in row.message
    assert (plan.new_recipients, plan.children, plan.shared_number) == (1, 1, 1)
    assert (outcome.created, outcome.children) == (1, 1)
    # Sending again: the father is not messaged at the number the mother was.
    assert broadcast_create_for_report(monthly_report=report).created == 0


def test_twins_whose_guardian_has_one_number_get_one_message_each_naming_its_child(
    report, make_student, make_guardian
):
    """One number, guardian of two children of the report: one message per child."""
    ani = make_student("0812-3456-7890", name="Ani Kembar", parent_name="Ibu Siti")
    ana = make_student("0812-3456-7890", name="Ana Kembar", parent_name="Ibu Siti")

    plan = broadcast_plan(monthly_report=report)
    outcome = broadcast_create_for_report(monthly_report=report)

    rows = {row.student: row for row in MonthlyReportBroadcast.objects.all()}
    assert set(rows) == {ani, ana}
    assert {row.phone_number for row in rows.values()} == {"6281234567890"}
    assert "*Ani Kembar*" in rows[ani].message and "Ana Kembar" not in rows[ani].message
    assert "*Ana Kembar*" in rows[ana].message and "Ani Kembar" not in rows[ana].message
    assert (plan.new_recipients, plan.children, plan.shared_number) == (2, 2, 0)
    assert (outcome.created, outcome.children) == (2, 2)


def test_the_outcome_counts_guardians_left_out_and_children_nobody_is_told_about(
    report, make_student, make_guardian
):
    told = make_student(name="Ani")
    make_guardian(told, "ayah", "", name="Pak Tanpa Nomor")  # left out, the child still told
    nobody = make_student(name="Budi", whatsapp_registered=False)
    make_guardian(nobody, "ayah", "0813-9999-0000", receives_messages=False)

    outcome = broadcast_create_for_report(monthly_report=report)

    assert (outcome.created, outcome.children, outcome.no_guardian) == (1, 1, 1)
    assert (
        outcome.skipped_no_phone,
        outcome.skipped_not_on_whatsapp,
        outcome.skipped_opted_out,
    ) == (1, 1, 1)
    # Budi stays one nobody can tell until a guardian is fixed; then he gets his message.
    assert broadcast_create_for_report(monthly_report=report).no_guardian == 1
    nobody.guardians.filter(relation="ayah").update(receives_messages=True)
    again = broadcast_create_for_report(monthly_report=report)
    assert (again.created, again.children, again.no_guardian) == (1, 1, 0)


def test_the_database_refuses_a_second_row_for_one_child_and_number(
    report, make_student, make_guardian
):
    """The (report, child, number) constraint itself, as bulk_create without ignore_conflicts
    meets it: on SQLite, PostgreSQL and MariaDB alike."""
    child = make_student("0812-3456-7890")
    father = make_guardian(child, "ayah", "0812-3456-7890")
    broadcast_create_for_report(monthly_report=report)
    assert MonthlyReportBroadcast.objects.count() == 1

    second = MonthlyReportBroadcast(
        monthly_report=report,
        student=child,
        guardian=father,  # another guardian: only the number makes it a duplicate
        phone_number="6281234567890",
        message="x",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        MonthlyReportBroadcast.objects.bulk_create([second])
    assert MonthlyReportBroadcast.objects.count() == 1


def test_the_database_refuses_a_second_row_for_one_guardian(report, make_student):
    child = make_student("0812-3456-7890")
    broadcast_create_for_report(monthly_report=report)

    again = MonthlyReportBroadcast(
        monthly_report=report,
        student=child,
        guardian=child.guardians.get(),
        phone_number="6281399998888",  # the guardian's number changed since
        message="x",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        MonthlyReportBroadcast.objects.bulk_create([again])
    assert MonthlyReportBroadcast.objects.count() == 1


def test_the_same_number_for_another_report_or_child_is_allowed(report, make_student, classroom):
    """The constraint is per (report, child, number): twins and other months are not refused."""
    from reports.models import MonthlyReport

    ani, ana = make_student(name="Ani"), make_student(name="Ana")
    other_month = MonthlyReport.objects.create(classroom=classroom, month=10, year=2026)

    broadcast_create_for_report(monthly_report=report)
    broadcast_create_for_report(monthly_report=other_month)

    assert MonthlyReportBroadcast.objects.filter(phone_number="6281234567890").count() == 4
    assert {row.student for row in MonthlyReportBroadcast.objects.all()} == {ani, ana}


def test_a_shared_number_is_said_only_beside_a_message_this_send_makes(
    report, make_student, make_guardian
):
    child = make_student("0812-3456-7890", name="Ani")
    broadcast_create_for_report(monthly_report=report)  # the mother was told
    make_guardian(child, "ayah", "0812-3456-7890")  # the father, added since, shares it

    plan = broadcast_plan(monthly_report=report)
    outcome = broadcast_create_for_report(monthly_report=report)

    assert (plan.new_recipients, plan.shared_number) == (0, 0)
    assert (outcome.created, outcome.shared_number) == (0, 0)
    assert MonthlyReportBroadcast.objects.count() == 1


def test_invalid_numbers_differing_only_in_case_or_accents_are_counted_as_the_database_does(
    report, make_student, make_guardian
):
    """MariaDB compares text case- and accent-blind: the plan and the rows must agree there."""
    child = make_student("0812-abc", name="Ani")
    make_guardian(child, "ayah", "0812-ABC")
    make_guardian(child, "wali", "0812-àbc")

    plan = broadcast_plan(monthly_report=report)
    outcome = broadcast_create_for_report(monthly_report=report)

    rows = MonthlyReportBroadcast.objects.count()
    assert (outcome.created, outcome.invalid_phone, outcome.children) == (
        plan.counts.total,
        plan.counts.invalid,
        plan.counts.children,
    )
    assert rows == outcome.created == 1
    assert outcome.queued == 0
    assert (plan.shared_number, outcome.shared_number) == (2, 2)
