import secrets

from django.conf import settings
from django.core.files.storage import storages
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.dates import MONTHS
from django.utils.translation import gettext_lazy as _

from .filetypes import EXTENSIONS
from .months import month_name


class MonthlyReport(models.Model):
    classroom = models.ForeignKey(
        "students.Classroom",
        on_delete=models.PROTECT,
        related_name="monthly_reports",
        verbose_name=_("classroom"),
    )
    # MONTHS: {1: "January", …}, translated by Django's own catalog ("Januari" in Indonesian),
    # so the filters and the form name the month instead of showing "11".
    month = models.PositiveSmallIntegerField(
        _("month"), choices=MONTHS, validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    year = models.PositiveSmallIntegerField(
        _("year"), validators=[MinValueValidator(2000), MaxValueValidator(2100)]
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-year", "-month", "classroom__name"]
        verbose_name = _("monthly report")
        verbose_name_plural = _("monthly reports")
        constraints = [
            models.UniqueConstraint(
                fields=["classroom", "month", "year"], name="one_report_per_classroom_month"
            ),
            models.CheckConstraint(
                condition=models.Q(month__gte=1, month__lte=12), name="report_month_1_to_12"
            ),
        ]
        permissions = [
            ("send_whatsapp_broadcast", _("Can send the WhatsApp broadcast of a report")),
            (
                "manage_report_files",
                _("Can upload, replace and remove report files and revoke parents' links"),
            ),
        ]

    def __str__(self):
        return f"{self.classroom} · {self.period_label}"

    @property
    def period_label(self):
        """``Januari 2026``: the month in Indonesian, as parents read it."""
        return f"{month_name(self.month)} {self.year}"


def report_file_storage():
    """The private storage of report files (settings.STORAGES["report_files"])."""
    return storages["report_files"]


def report_file_name(instance, filename: str) -> str:
    """``<report id>/<random>.pdf``: no child's name or NIS in the path, none guessable."""
    extension = EXTENSIONS.get(instance.content_type, "")
    return f"{instance.monthly_report_id}/{secrets.token_hex(16)}{extension}"


class ReportFile(models.Model):
    """One child's report for one month: the file a parent opens through their link.

    Replacing it keeps this row (and every link pointing at the report and the child):
    the link serves whatever file is here now.
    """

    monthly_report = models.ForeignKey(
        MonthlyReport,
        on_delete=models.CASCADE,
        related_name="files",
        verbose_name=_("monthly report"),
    )
    student = models.ForeignKey(
        "students.Student",
        on_delete=models.CASCADE,
        related_name="report_files",
        verbose_name=_("student"),
    )
    file = models.FileField(
        _("file"), storage=report_file_storage, upload_to=report_file_name, max_length=200
    )
    #: Sniffed from the content (reports.filetypes), never taken from the name.
    content_type = models.CharField(_("file type"), max_length=40)
    size = models.PositiveIntegerField(_("size (bytes)"))
    original_name = models.CharField(_("uploaded as"), max_length=255, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    uploaded_at = models.DateTimeField(_("uploaded at"))

    class Meta:
        ordering = ["monthly_report", "student__full_name"]
        verbose_name = _("report file")
        verbose_name_plural = _("report files")
        constraints = [
            models.UniqueConstraint(
                fields=["monthly_report", "student"], name="one_file_per_report_student"
            ),
        ]

    def __str__(self):
        return f"{self.student} · {self.monthly_report.period_label}"
