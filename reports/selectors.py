"""Reading monthly reports' content for the pages and the sending: which children have a file."""

from .models import ReportFile


def students_with_file(*, monthly_report) -> set[int]:
    """The ids of the students of ``monthly_report`` who have a report file: one query."""
    return set(
        ReportFile.objects.filter(monthly_report=monthly_report).values_list(
            "student_id", flat=True
        )
    )


def report_file_for(*, monthly_report_id, student_id) -> ReportFile | None:
    """A child's file for one report, or None: one query."""
    return ReportFile.objects.filter(
        monthly_report_id=monthly_report_id, student_id=student_id
    ).first()
