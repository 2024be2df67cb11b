"""MonthlyReportBroadcast.objects.update_returning: an update that reads the rows it changed."""

import pytest
from django.db import connection
from django.db.models import F, OuterRef, Subquery

from broadcasts.models import BroadcastStatus, MonthlyReportBroadcast
from broadcasts.services import broadcast_create_for_report
from students.models import Student

needs_returning = pytest.mark.skipif(
    connection.vendor == "mysql", reason="MySQL/MariaDB have no UPDATE … RETURNING"
)


@pytest.fixture
def rows(report, make_student):
    make_student("0812-3456-7890", name="Aisyah Putri")
    make_student("0813-1111-2222", name="Budi Santoso")
    broadcast_create_for_report(monthly_report=report)
    return list(MonthlyReportBroadcast.objects.order_by("pk"))


@needs_returning
def test_returns_the_values_as_updated_with_a_related_column(rows):
    first = rows[0]
    nis = Subquery(Student.objects.filter(pk=OuterRef("student_id")).values("nis"))

    result = MonthlyReportBroadcast.objects.filter(pk=first.pk).update_returning(
        {"attempts": "retry_count", "status": "status", "nis": nis},
        status=BroadcastStatus.SENDING,
        retry_count=F("retry_count") + 1,
    )

    assert result == [{"attempts": 1, "status": "sending", "nis": first.student.nis}]
    first.refresh_from_db()
    assert (first.status, first.retry_count) == (BroadcastStatus.SENDING, 1)
    rows[1].refresh_from_db()
    assert (rows[1].status, rows[1].retry_count) == (BroadcastStatus.PENDING, 0)


@needs_returning
def test_a_guard_that_matches_nothing_updates_and_returns_nothing(rows):
    result = MonthlyReportBroadcast.objects.filter(
        pk=rows[0].pk, status=BroadcastStatus.SENT
    ).update_returning({"pk": "pk"}, status=BroadcastStatus.FAILED)

    assert result == []
    rows[0].refresh_from_db()
    assert rows[0].status == BroadcastStatus.PENDING


@needs_returning
def test_a_filter_no_row_can_match_runs_nothing(rows, django_assert_num_queries):
    with django_assert_num_queries(0):
        result = MonthlyReportBroadcast.objects.filter(pk__in=[]).update_returning(
            {"pk": "pk"}, status=BroadcastStatus.FAILED
        )

    assert result == []


@needs_returning
def test_every_updated_row_is_returned(rows):
    result = MonthlyReportBroadcast.objects.all().update_returning(
        {"pk": "pk"}, status=BroadcastStatus.SENDING
    )

    assert sorted(r["pk"] for r in result) == [row.pk for row in rows]
    assert MonthlyReportBroadcast.objects.sending().count() == 2


def test_without_update_returning_it_updates_nothing_and_says_so(rows, monkeypatch):
    if connection.vendor != "mysql":
        monkeypatch.setattr("broadcasts.models._can_return_from_update", lambda connection: False)

    result = MonthlyReportBroadcast.objects.all().update_returning(
        {"pk": "pk"}, status=BroadcastStatus.SENDING
    )

    assert result is None
    assert MonthlyReportBroadcast.objects.sending().count() == 0
