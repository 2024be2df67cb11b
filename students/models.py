from django.db import models
from django.utils.translation import gettext_lazy as _


class Classroom(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("classroom")
        verbose_name_plural = _("classrooms")

    def __str__(self):
        return self.name


class Student(models.Model):
    nis = models.CharField(_("NIS"), max_length=10, unique=True, help_text=_("Student number."))
    full_name = models.CharField(_("full name"), max_length=150)
    classroom = models.ForeignKey(
        Classroom,
        on_delete=models.PROTECT,
        related_name="students",
        verbose_name=_("classroom"),
    )
    parent_name = models.CharField(_("parent's name"), max_length=150, blank=True)
    parent_phone = models.CharField(
        _("parent's WhatsApp number"),
        max_length=20,
        blank=True,
        help_text=_("Indonesian mobile number, e.g. 0812-3456-7890. Leave empty if there is none."),
    )

    class Meta:
        ordering = ["classroom__name", "full_name"]
        verbose_name = _("student")
        verbose_name_plural = _("students")

    def __str__(self):
        return f"{self.full_name} ({self.nis})"
