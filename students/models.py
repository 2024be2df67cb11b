from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .phones import phone_key
from .validators import validate_name

# Marks a student loaded without its number: whether it changed cannot be told.
_NOT_LOADED = object()


class Classroom(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True, validators=[validate_name])
    # Who teaches the class: a teacher sees this class only (students.selectors).
    teachers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="classrooms_taught",
        limit_choices_to={"is_staff": True},
        verbose_name=_("teachers"),
        help_text=_(
            "Staff who teach this class. A teacher sees the students, reports and WhatsApp "
            "messages of their own classes only."
        ),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("classroom")
        verbose_name_plural = _("classrooms")
        permissions = [
            (
                "view_all_classrooms",
                _("Can see the students, reports and messages of every class"),
            ),
        ]

    def __str__(self):
        return self.name


class Student(models.Model):
    nis = models.CharField(_("NIS"), max_length=10, unique=True, help_text=_("Student number."))
    full_name = models.CharField(_("full name"), max_length=150, validators=[validate_name])
    classroom = models.ForeignKey(
        Classroom,
        on_delete=models.PROTECT,
        related_name="students",
        verbose_name=_("classroom"),
    )

    class Meta:
        ordering = ["classroom__name", "full_name"]
        verbose_name = _("student")
        verbose_name_plural = _("students")
        permissions = [
            ("export_student", _("Can export students, parents' numbers included")),
        ]

    def __str__(self):
        return f"{self.full_name} ({self.nis})"


class GuardianRelation(models.TextChoices):
    """How a guardian stands to the child: what the admin, the import and the export name."""

    AYAH = "ayah", _("father")
    IBU = "ibu", _("mother")
    WALI = "wali", _("guardian")


class Guardian(models.Model):
    """Someone a child's school messages are for: a father, a mother or another guardian.

    Each guardian who receives messages gets their own WhatsApp message about each report
    (broadcasts), with their own link and delivery state. Two guardians of one child who
    share a number get one message between them.
    """

    student = models.ForeignKey(
        Student,
        on_delete=models.CASCADE,
        related_name="guardians",
        verbose_name=_("student"),
    )
    name = models.CharField(_("name"), max_length=150, blank=True, validators=[validate_name])
    relation = models.CharField(
        _("relation"),
        max_length=4,
        choices=GuardianRelation.choices,
        default=GuardianRelation.WALI,
    )
    phone = models.CharField(
        _("WhatsApp number"),
        max_length=20,
        blank=True,
        help_text=_("Indonesian mobile number, e.g. 0812-3456-7890. Leave empty if there is none."),
    )
    receives_messages = models.BooleanField(
        _("receives WhatsApp messages"),
        default=True,
        help_text=_("Untick for a guardian who asked not to get the school's messages."),
    )
    # What Fonnte's /validate said of ``phone``: None until checked (or since the number
    # changed). Written only by students.services.student_check_whatsapp.
    whatsapp_registered = models.BooleanField(
        _("on WhatsApp"),
        null=True,
        blank=True,
        default=None,
        editable=False,
        help_text=_("Empty: not checked yet. No: the number has no WhatsApp and gets no message."),
    )
    whatsapp_checked_at = models.DateTimeField(
        _("WhatsApp checked at"), null=True, blank=True, editable=False
    )

    class Meta:
        # The first guardian added comes first: the one a migrated student's parent became.
        ordering = ["student", "pk"]
        verbose_name = _("guardian")
        verbose_name_plural = _("guardians")
        indexes = [
            # The number check finds unchecked numbers; search finds a guardian by number.
            models.Index(fields=["phone"], name="guardian_phone"),
        ]

    def __str__(self):
        # No number here: this names the guardian in histories and pages.
        relation = self.get_relation_display()
        return f"{self.name} ({relation})" if self.name else str(relation)

    def save(self, *args, **kwargs):
        # A check answers for one number only: a new number is unchecked, wherever it
        # was changed (admin form, import, shell). queryset.update() bypasses this.
        loaded = getattr(self, "_loaded_phone", _NOT_LOADED)
        if self._state.adding or (
            loaded is not _NOT_LOADED and phone_key(loaded) != phone_key(self.phone)
        ):
            self.whatsapp_registered = None
            self.whatsapp_checked_at = None
            update_fields = kwargs.get("update_fields")
            if update_fields is not None and "phone" in update_fields:
                kwargs["update_fields"] = {
                    *update_fields,
                    "whatsapp_registered",
                    "whatsapp_checked_at",
                }
        super().save(*args, **kwargs)
        self._loaded_phone = self.phone

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._remember_phone()
        return instance

    def refresh_from_db(self, *args, **kwargs):
        super().refresh_from_db(*args, **kwargs)
        self._remember_phone()

    def _remember_phone(self):
        if "phone" in self.__dict__:  # not deferred
            self._loaded_phone = self.phone


class WhatsAppCheckLease(models.Model):
    """One row: only the holder of its unexpired lease may call Fonnte's /validate.

    Fonnte asks for never two /validate calls at once; workers, the admin and cron
    may all want to check numbers, in different processes and on different machines.
    """

    holder = models.CharField(_("holder"), max_length=64, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)

    class Meta:
        verbose_name = _("WhatsApp number check lease")
        verbose_name_plural = _("WhatsApp number check leases")

    def __str__(self):
        return self.holder or "-"
