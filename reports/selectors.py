"""Reading monthly reports' content for the pages and the sending: which children have a file."""

from dataclasses import dataclass

from django.db.models import Q

from students.models import Student

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


@dataclass(frozen=True)
class StudentFile:
    """One line of a report's files: a child, their file or None, and whether they are in
    the report's class now (a child moved to another class keeps the file shown here)."""

    student: Student
    file: ReportFile | None
    in_class: bool


def report_files_by_student(*, monthly_report) -> list[StudentFile]:
    """Every student of the report's class, and any other child with a file in it, with
    their file: two queries whatever the size of the class."""
    files = {
        report_file.student_id: report_file
        for report_file in ReportFile.objects.filter(monthly_report=monthly_report)
        .select_related("uploaded_by")
        .order_by()
    }
    students = Student.objects.filter(
        Q(classroom_id=monthly_report.classroom_id) | Q(pk__in=list(files))
    ).order_by("full_name", "nis")
    return [
        StudentFile(
            student=student,
            file=files.get(student.pk),
            in_class=student.classroom_id == monthly_report.classroom_id,
        )
        for student in students
    ]
