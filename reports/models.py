from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.dates import MONTHS
from django.utils.translation import gettext_lazy as _

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
        ]

    def __str__(self):
        return f"{self.classroom} · {self.period_label}"

    @property
    def period_label(self):
        """``Januari 2026``: the month in Indonesian, as parents read it."""
        return f"{month_name(self.month)} {self.year}"
