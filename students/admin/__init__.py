"""The students' admin: classes, and students with their WhatsApp check and the file import.

This module registers ClassroomAdmin and StudentAdmin (autodiscover imports it), with the
WhatsApp check action. importing: the import and export forms and StudentImportMixin
(who may import, and what a file with rows in error does); import_preview: what the
import's preview shows, row by row and in its verdict on top.
"""

import copy

from django.conf import settings
from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin
from import_export.formats import base_formats

from notifications.whatsapp import SenderRejected, WhatsAppError
from notifications.whatsapp.base import VALIDATE_CHUNK

from .. import services
from ..forms import StudentForm
from ..models import Classroom, Student
from ..phones import is_valid_phone
from ..resources import StudentCSV, StudentResource
from ..search import PhoneSearchMixin
from ..visibility import ClassroomFilter, ClassroomScopedMixin, MaskedPhoneMixin, masked
from .importing import (
    StudentConfirmImportForm,
    StudentExportForm,
    StudentImportForm,
    StudentImportMixin,
)


class WhatsAppCheckFilter(admin.BooleanFieldListFilter):
    """Yes / No / not checked: an unchecked number is named as in the "On WhatsApp" column."""

    def __init__(self, field, *args, **kwargs):
        super().__init__(field, *args, **kwargs)
        # Django names the null choice from the field's choices, else "Unknown".
        self.field = copy.copy(field)
        self.field.choices = [(None, capfirst(gettext("not checked")))]


@admin.register(Classroom)
class ClassroomAdmin(ClassroomScopedMixin, admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]
    filter_horizontal = ["teachers"]
    classroom_field = "pk"


@admin.register(Student)
class StudentAdmin(
    ClassroomScopedMixin,
    MaskedPhoneMixin,
    PhoneSearchMixin,
    StudentImportMixin,
    ImportExportModelAdmin,
):
    form = StudentForm
    # Fits a 1366 px laptop beside the menu and the filters: the parent's name and number
    # share a column, the WhatsApp column says whether the number is wrong too, and
    # list.css shortens long names to two lines (whole on the student's page).
    list_display = ["nis", "full_name", "classroom", "parent", "on_whatsapp"]
    # The name is what an admin looks for and clicks, not only the NIS.
    list_display_links = ["nis", "full_name"]
    list_filter = [("classroom", ClassroomFilter), ("whatsapp_registered", WhatsAppCheckFilter)]
    readonly_fields = ["whatsapp_registered", "whatsapp_checked_at"]
    actions = ["check_whatsapp_numbers"]
    search_fields = ["nis", "full_name", "parent_name", "parent_phone"]
    phone_search_field = "parent_phone"
    masked_fields = {"parent_phone": "parent_phone_masked", "parent": "parent_masked"}
    list_select_related = ["classroom"]
    list_per_page = 50
    # The facet counts ("Tampilkan hitungan") are a COUNT per class and per WhatsApp check,
    # growing with the classrooms: 12 queries instead of 8 with five classes.
    show_facets = admin.ShowFacets.NEVER

    resource_classes = [StudentResource]
    import_formats = [StudentCSV, base_formats.XLSX]
    export_formats = [base_formats.CSV, base_formats.XLSX]
    import_form_class = StudentImportForm
    export_form_class = StudentExportForm
    confirm_form_class = StudentConfirmImportForm
    import_template_name = "admin/students/student/import.html"

    class Media:
        css = {"all": ["students/list.css"]}

    @admin.display(description=_("parent's WhatsApp number"))
    def parent_phone_masked(self, obj):
        return masked(obj.parent_phone)

    @admin.display(description=_("parent"), ordering="parent_name")
    def parent(self, obj):
        return self._parent(obj, obj.parent_phone or "-")

    @admin.display(description=_("parent"), ordering="parent_name")
    def parent_masked(self, obj):
        return self._parent(obj, masked(obj.parent_phone))

    def _parent(self, obj, phone):
        return format_html(
            '<span class="st-clip" title="{}">{}</span><span class="st-phone">{}</span>',
            obj.parent_name,
            obj.parent_name,
            phone,
        )

    @admin.display(description=_("On WhatsApp"), ordering="whatsapp_registered")
    def on_whatsapp(self, obj):
        if not obj.parent_phone:
            return "-"
        if not is_valid_phone(obj.parent_phone):
            # Flagged: no message can go to it until the number is corrected.
            return format_html(
                '<strong class="wa-invalid" style="color: var(--error-fg)">{}</strong>',
                gettext("wrong number"),
            )
        if obj.whatsapp_registered is None:
            return format_html('<span class="wa-unchecked">{}</span>', gettext("not checked"))
        if obj.whatsapp_registered:
            return gettext("yes")
        # Flagged: this parent gets no message until the number is corrected.
        return format_html(
            '<strong class="wa-not-registered" style="color: var(--error-fg)">{}</strong>',
            gettext("NOT on WhatsApp"),
        )

    @admin.action(description=_("Check WhatsApp numbers"), permissions=["change"])
    def check_whatsapp_numbers(self, request, queryset):
        """Ask Fonnte which selected numbers have WhatsApp: in the background with Celery."""
        ids = list(queryset.exclude(parent_phone="").values_list("pk", flat=True))
        if not ids:
            self.message_user(
                request, gettext("None of the selected students has a number."), messages.WARNING
            )
            return
        if settings.WHATSAPP_RUNNER == "celery":
            services.student_queue_whatsapp_check(student_ids=ids)
            self.message_user(
                request,
                ngettext(
                    "%(n)d number will be checked in the background: the “On WhatsApp” "
                    "column shows the result in a minute.",
                    "%(n)d numbers will be checked in the background: the “On WhatsApp” "
                    "column shows the result in a minute.",
                    len(ids),
                )
                % {"n": len(ids)},
                messages.SUCCESS,
            )
            return
        self._check_now(request, ids)

    def _check_now(self, request, ids):
        """Without workers (WHATSAPP_RUNNER=cron): check here, one Fonnte call at most."""
        if len(ids) > VALIDATE_CHUNK:
            self.message_user(
                request,
                gettext(
                    "Select at most %(max)d students with a number, or let "
                    "“manage.py check_whatsapp_numbers” check them all."
                )
                % {"max": VALIDATE_CHUNK},
                messages.WARNING,
            )
            return
        try:
            outcome = services.student_check_whatsapp(student_ids=ids)
        except services.WhatsAppCheckBusy:
            self.message_user(
                request,
                gettext("Another WhatsApp number check is running. Try again in a minute."),
                messages.WARNING,
            )
        except SenderRejected as err:
            self.message_user(
                request,
                gettext(
                    "Fonnte refused the check (%(reason)s): check FONNTE_API_TOKEN and the "
                    "device in the Fonnte dashboard."
                )
                % {"reason": err.reason},
                messages.ERROR,
            )
        except WhatsAppError as err:
            self.message_user(
                request,
                gettext("The numbers could not be checked now (%(reason)s). Try again later.")
                % {"reason": err.reason},
                messages.ERROR,
            )
        else:
            # Numbers without WhatsApp, or unanswered, mean parents left without messages.
            level = (
                messages.WARNING if outcome.not_registered or outcome.unknown else messages.SUCCESS
            )
            self.message_user(request, check_message(outcome), level)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # A new or changed number is unchecked (Student.save): check it after the commit.
        if obj.parent_phone and obj.whatsapp_registered is None:
            services.student_queue_whatsapp_check(student_ids=[obj.pk])


def check_message(outcome):
    """What a finished check found, for the admin."""
    return gettext(
        "WhatsApp check finished: %(registered)d on WhatsApp, %(not_registered)d not on "
        "WhatsApp, %(unknown)d not answered."
    ) % {
        "registered": outcome.registered,
        "not_registered": outcome.not_registered,
        "unknown": outcome.unknown,
    }
