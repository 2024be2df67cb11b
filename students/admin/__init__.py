"""The students' admin: classes, and students with their WhatsApp check and the file import.

This module registers ClassroomAdmin and StudentAdmin (autodiscover imports it), with the
WhatsApp check action. importing: the import and export forms and StudentImportMixin
(who may import, and what a file with rows in error does); import_preview: what the
import's preview shows, row by row and in its verdict on top.
"""

from collections import Counter

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Exists, OuterRef, Prefetch
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin
from import_export.formats import base_formats

from notifications.whatsapp import SenderRejected, WhatsAppError
from notifications.whatsapp.base import VALIDATE_CHUNK

from .. import services
from ..forms import GuardianForm, StudentForm
from ..models import Classroom, Guardian, Student
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


class GuardianWhatsAppFilter(admin.SimpleListFilter):
    """Children by their guardians' numbers: what keeps a message from a guardian."""

    title = _("guardians' WhatsApp")
    parameter_name = "wa"

    def lookups(self, request, model_admin):
        return [(state, label) for state, (label, _q) in _WHATSAPP_FILTERS.items()]

    def queryset(self, request, queryset):
        if self.value() not in _WHATSAPP_FILTERS:
            return queryset
        return queryset.filter(_WHATSAPP_FILTERS[self.value()][1]())


def _receiving(**fields):
    """Whether the child has a guardian who receives messages and has ``fields``."""
    return Exists(Guardian.objects.filter(student=OuterRef("pk"), receives_messages=True, **fields))


# One Exists each: no join, so no child is listed twice and the count stays one query.
_WHATSAPP_FILTERS = {
    "not_registered": (
        _("has a number not on WhatsApp"),
        lambda: _receiving(whatsapp_registered=False),
    ),
    "unchecked": (
        _("not checked"),
        lambda: Exists(
            Guardian.objects.filter(
                student=OuterRef("pk"), receives_messages=True, whatsapp_registered__isnull=True
            ).exclude(phone="")
        ),
    ),
    "no_phone": (_("a guardian without a number"), lambda: _receiving(phone="")),
    "nobody": (_("no guardian receives messages"), lambda: ~_receiving()),
}


_FLAGGED = '<strong class="{}">{}</strong>'
_PLAIN = '<span class="{}">{}</span>'


class GuardianInline(MaskedPhoneMixin, admin.TabularInline):
    """The child's guardians, edited on the student's page by whoever may change students."""

    model = Guardian
    form = GuardianForm
    fields = [
        "relation",
        "name",
        "phone",
        "receives_messages",
        "whatsapp_registered",
        "whatsapp_checked_at",
    ]
    readonly_fields = ["whatsapp_registered", "whatsapp_checked_at"]
    masked_fields = {"phone": "phone_masked"}
    # Guardians are part of the student: the student's permissions are theirs, so the
    # roles need no permission of their own and a teacher keeps exactly what they had.
    # No Guardian admin is registered: this inline is the only page showing them.

    def get_extra(self, request, obj=None, **kwargs):
        # A new student's page offers one guardian to fill in.
        return 1 if obj is None else 0

    def has_view_permission(self, request, obj=None):
        return self.parent_admin().has_view_or_change_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return self.parent_admin().has_change_permission(request, obj) or (
            obj is None and self.parent_admin().has_add_permission(request)
        )

    def has_change_permission(self, request, obj=None):
        return self.parent_admin().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.parent_admin().has_change_permission(request, obj)

    def parent_admin(self):
        return self.admin_site.get_model_admin(Student)

    @admin.display(description=_("WhatsApp number"))
    def phone_masked(self, obj):
        return masked(obj.phone)


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
    inlines = [GuardianInline]
    # Fits a 1366 px laptop beside the menu and the filters: each guardian is one short
    # line (relation and name) over their number, the WhatsApp column sums up what keeps
    # a guardian from a message, and list.css shortens long names (whole on the page).
    list_display = ["nis", "full_name", "classroom", "guardian_list", "whatsapp_state"]
    # The name is what an admin looks for and clicks, not only the NIS.
    list_display_links = ["nis", "full_name"]
    list_filter = [("classroom", ClassroomFilter), GuardianWhatsAppFilter]
    actions = ["check_whatsapp_numbers"]
    search_fields = ["nis", "full_name", "guardians__name", "guardians__phone"]
    phone_search_field = "guardians__phone"
    masked_fields = {"guardian_list": "guardian_list_masked"}
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

    def get_queryset(self, request):
        # One query for the guardians of the whole page, in the order they were added.
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("guardians", queryset=Guardian.objects.order_by("pk")))
        )

    @admin.display(description=_("guardians"))
    def guardian_list(self, obj):
        return self._guardians(obj, lambda phone: phone or "-")

    @admin.display(description=_("guardians"))
    def guardian_list_masked(self, obj):
        return self._guardians(obj, masked)

    def _guardians(self, obj, shown_phone):
        guardians = list(obj.guardians.all())
        if not guardians:
            return "-"
        return format_html_join(
            "",
            '<span class="st-guardian{}"><span class="st-clip" title="{}">{}</span>'
            '<span class="st-phone">{}</span></span>',
            (
                (
                    "" if guardian.receives_messages else " st-opted-out",
                    _guardian_title(guardian),
                    _guardian_label(guardian),
                    shown_phone(guardian.phone),
                )
                for guardian in guardians
            ),
        )

    @admin.display(description=_("On WhatsApp"))
    def whatsapp_state(self, obj):
        state = guardians_whatsapp_state(list(obj.guardians.all()))
        if state is None:
            return gettext("yes")
        # Flagged lines are strong and red (list.css): those guardians get no message.
        return format_html_join(
            "",
            "{}",
            (
                (
                    format_html(
                        _FLAGGED if flagged else _PLAIN,
                        css,
                        text,
                    ),
                )
                for css, flagged, text in state
            ),
        )

    @admin.action(description=_("Check WhatsApp numbers"), permissions=["change"])
    def check_whatsapp_numbers(self, request, queryset):
        """Ask Fonnte which of the selected children's guardians' numbers have WhatsApp."""
        numbers = Guardian.objects.filter(student__in=queryset.values("pk")).exclude(phone="")
        ids = sorted(set(numbers.values_list("student_id", flat=True)))
        if not ids:
            self.message_user(
                request, gettext("None of the selected students has a number."), messages.WARNING
            )
            return
        if settings.WHATSAPP_RUNNER == "celery":
            services.student_queue_whatsapp_check(student_ids=ids)
            count = numbers.count()
            self.message_user(
                request,
                ngettext(
                    "%(n)d number will be checked in the background: the “On WhatsApp” "
                    "column shows the result in a minute.",
                    "%(n)d numbers will be checked in the background: the “On WhatsApp” "
                    "column shows the result in a minute.",
                    count,
                )
                % {"n": count},
                messages.SUCCESS,
            )
            return
        self._check_now(request, ids, numbers.count())

    def _check_now(self, request, ids, count):
        """Without workers (WHATSAPP_RUNNER=cron): check here, one Fonnte call at most."""
        if count > VALIDATE_CHUNK:
            self.message_user(
                request,
                gettext(
                    "Select students with at most %(max)d numbers, or let "
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
            # Numbers without WhatsApp, or unanswered, mean guardians left without messages.
            level = (
                messages.WARNING if outcome.not_registered or outcome.unknown else messages.SUCCESS
            )
            self.message_user(request, check_message(outcome), level)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # A new or changed number is unchecked (Guardian.save): check it after the commit.
        if any(_new_numbers(formset) for formset in formsets):
            services.student_queue_whatsapp_check(student_ids=[form.instance.pk])


def _new_numbers(formset) -> list[Guardian]:
    """The guardians this formset saved with a number that is new or changed, unchecked."""
    if formset.model is not Guardian:
        return []
    saved = [
        *formset.new_objects,
        *(obj for obj, fields in formset.changed_objects if "phone" in fields),
    ]
    return [
        guardian for guardian in saved if guardian.phone and guardian.whatsapp_registered is None
    ]


def _guardian_label(guardian) -> str:
    relation = capfirst(guardian.get_relation_display())
    return f"{relation} · {guardian.name}" if guardian.name else relation


def _guardian_title(guardian) -> str:
    label = _guardian_label(guardian)
    if guardian.receives_messages:
        return label
    return gettext("%(guardian)s (receives no messages)") % {"guardian": label}


def guardians_whatsapp_state(guardians) -> list[tuple[str, bool, str]] | None:
    """What keeps a child's guardians from a message, as (CSS class, flagged, text) lines;
    None when every guardian who receives messages is on WhatsApp."""
    receiving = [guardian for guardian in guardians if guardian.receives_messages]
    if not receiving:
        return [("wa-nobody", True, gettext("no guardian receives messages"))]
    counts = Counter()
    for guardian in receiving:
        if not guardian.phone:
            counts["no_phone"] += 1
        elif not is_valid_phone(guardian.phone):
            counts["invalid"] += 1
        elif guardian.whatsapp_registered is None:
            counts["unchecked"] += 1
        elif not guardian.whatsapp_registered:
            counts["not_registered"] += 1
    lines = []
    # Flagged: these guardians get no message until the number is corrected.
    for key, css, flagged, text in (
        ("invalid", "wa-invalid", True, gettext("wrong number")),
        ("not_registered", "wa-not-registered", True, gettext("NOT on WhatsApp")),
        ("unchecked", "wa-unchecked", False, gettext("not checked")),
        ("no_phone", "wa-no-phone", False, gettext("no number")),
    ):
        if counts[key]:
            if counts[key] < len(receiving):
                text = gettext("%(count)d of %(total)d %(state)s") % {
                    "count": counts[key],
                    "total": len(receiving),
                    "state": text,
                }
            lines.append((css, flagged, text))
    return lines or None


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
