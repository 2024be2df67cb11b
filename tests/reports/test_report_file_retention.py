"""Retention: the files of reports whose month ended more than REPORT_FILES_KEEP_DAYS ago
are removed (rows and stored files), by the command and by beat; the rest stays."""

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from broadcasts.models import MonthlyReportBroadcast
from reports import tasks
from reports.models import MonthlyReport, ReportFile, report_file_storage
from reports.services.retention import report_files_prune
from tests.conftest import PDF, store_report_file

JAKARTA = ZoneInfo("Asia/Jakarta")
#: 7 December 2026: 365 days back is 7 December 2025, so November 2025 (ended on
#: 1 December 2025) is past the retention and December 2025 (ends 1 January 2026) is not.
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=JAKARTA)


@pytest.fixture
def reports_by_month(classroom, make_student):
    """A report with two files for each of three months around the boundary."""
    students = [make_student(), make_student()]
    made = {}
    for year, month in ((2025, 1), (2025, 11), (2025, 12)):
        report = MonthlyReport.objects.create(classroom=classroom, month=month, year=year)
        for student in students:
            store_report_file(report, student, name="x.pdf")
        made[(year, month)] = report
    return made


def names_of(report) -> list[str]:
    return list(ReportFile.objects.filter(monthly_report=report).values_list("file", flat=True))


def test_prune_removes_the_files_of_months_past_the_retention_and_keeps_the_rest(
    reports_by_month, django_capture_on_commit_callbacks
):
    old = names_of(reports_by_month[(2025, 1)]) + names_of(reports_by_month[(2025, 11)])
    recent = names_of(reports_by_month[(2025, 12)])

    with django_capture_on_commit_callbacks(execute=True):
        result = report_files_prune(now=NOW, keep_days=365)

    assert [item.report for item in result.reports] == [
        reports_by_month[(2025, 1)],
        reports_by_month[(2025, 11)],
    ]
    assert result.files == 4 and result.bytes == 4 * len(PDF)
    storage = report_file_storage()
    assert not any(storage.exists(name) for name in old)
    assert all(storage.exists(name) for name in recent)
    assert set(ReportFile.objects.values_list("file", flat=True)) == set(recent)
    assert MonthlyReport.objects.count() == 3  # the reports themselves stay


def test_prune_again_removes_nothing(reports_by_month, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        report_files_prune(now=NOW, keep_days=365)
        again = report_files_prune(now=NOW, keep_days=365)

    assert again.reports == [] and again.files == 0
    assert ReportFile.objects.count() == 2


def test_a_dry_run_removes_nothing(reports_by_month, django_capture_on_commit_callbacks):
    names = list(ReportFile.objects.values_list("file", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        result = report_files_prune(now=NOW, keep_days=365, dry_run=True)

    assert result.files == 4
    assert ReportFile.objects.count() == 6
    assert all(report_file_storage().exists(name) for name in names)


def test_zero_keeps_every_file(reports_by_month, settings):
    settings.REPORT_FILES_KEEP_DAYS = 0

    result = report_files_prune(now=datetime(2040, 1, 1, tzinfo=JAKARTA))

    assert result.files == 0 and ReportFile.objects.count() == 6


def test_the_retention_comes_from_the_setting(reports_by_month, settings):
    settings.REPORT_FILES_KEEP_DAYS = 30  # 7 November 2026: every month here is older

    assert report_files_prune(now=NOW, dry_run=True).files == 6


def test_a_sent_reports_rows_stay_when_its_files_go(reports_by_month, make_student):
    report = reports_by_month[(2025, 1)]
    student = ReportFile.objects.filter(monthly_report=report).first().student
    row = MonthlyReportBroadcast.objects.create(
        monthly_report=report, student=student, phone_number="6281234567890", message="m"
    )

    report_files_prune(now=NOW, keep_days=365)

    assert MonthlyReportBroadcast.objects.filter(pk=row.pk).exists()
    assert not ReportFile.objects.filter(monthly_report=report).exists()


# --- The command ----------------------------------------------------------------------------


def run(*args) -> str:
    out = io.StringIO()
    call_command("report_files_prune", *args, stdout=out)
    return out.getvalue()


def test_the_command_says_what_it_removed(reports_by_month, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        out = run("--days", "1")

    assert "Removed 2 file(s)" in out and "TK A Melati" in out
    assert "Removed 6 file(s)" in out and "of 3 report(s)" in out
    assert not ReportFile.objects.exists()
    assert "Removed 0 file(s)" in run("--days", "1")  # again: nothing left


def test_the_command_dry_run_lists_and_removes_nothing(reports_by_month):
    out = run("--days", "1", "--dry-run")

    assert "Would remove 2 file(s)" in out and "Nothing removed." in out
    assert ReportFile.objects.count() == 6


def test_the_command_with_retention_off_removes_nothing(reports_by_month, settings):
    settings.REPORT_FILES_KEEP_DAYS = 0

    assert "kept forever" in run()
    assert ReportFile.objects.count() == 6


def test_the_command_refuses_negative_days(db):
    with pytest.raises(CommandError, match="0 or more"):
        run("--days", "-1")


# --- Beat ----------------------------------------------------------------------------------


def test_beat_prunes_daily_with_the_setting(reports_by_month, settings):
    entry = next(
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == tasks.prune_report_files.name
    )
    assert entry["schedule"] <= 86400
    settings.REPORT_FILES_KEEP_DAYS = 1

    assert tasks.prune_report_files() == 6
    assert not ReportFile.objects.exists()
