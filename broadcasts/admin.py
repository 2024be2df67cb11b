import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Exists, F, OuterRef, Window
from django.db.models.functions import RowNumber
from django.template.response import TemplateResponse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from reports.models import MonthlyReport
from students.models import Student
from students.search import PhoneSearchMixin
from students.selectors import in_visible_classrooms
from students.visibility import (
    ClassroomFilter,
    ClassroomScopedMixin,
    MaskedPhoneMixin,
    masked,
    masked_text,
    shown_reason,
)

from . import admin_devices  # noqa: F401  (registers FonnteDevice)
from .messages import (
    DEFAULT_TEMPLATE,
    PLACEHOLDERS,
    message_preview,
    message_template_get_or_create,
    template_errors,
)
from .models import BroadcastAttempt, BroadcastStatus, MessageTemplate, MonthlyReportBroadcast
from .selectors import broadcast_retry_preview
from .services import broadcast_resend
from .services.receipts import STATE_RANKS


class BroadcastAttemptInline(MaskedPhoneMixin, admin.TabularInline):
    """Every try at sending the row, oldest first: when, how it ended, why."""

    model = BroadcastAttempt
    template = "admin/broadcasts/monthlyreportbroadcast/attempts_inline.html"
    fields = ["ordinal", "started_at", "finished_at", "outcome", "detail"]
    readonly_fields = fields
    masked_fields = {"detail": "detail_masked"}
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        # Numbered 1, 2, 3 in the order they were made: the stored number restarts at 1
        # after a resend, so a message resent once has two attempts "1".
        return (
            super()
            .get_queryset(request)
            .annotate(
                ordinal=Window(
                    RowNumber(), partition_by=F("broadcast_id"), order_by=[F("started_at"), F("id")]
                )
            )
        )

    @admin.display(description=_("attempt"))
    def ordinal(self, obj):
        return obj.ordinal

    @admin.display(description=_("detail"))
    def detail_masked(self, obj):
        return masked_text(obj.detail)

    def has_add_permission(self, request, obj=None):
        return False


#: Fonnte's delivery states (services.receipts) in the school's words.
RECEIPT_LABELS = {
    "sent": _("sent"),
    "failed": _("failed"),
    "delivered": _("delivered"),
    "read": pgettext_lazy("WhatsApp receipt", "read"),
}


def receipt_label(state: str) -> str:
    """A delivery state as the school says it; one Fonnte adds later, as Fonnte says it."""
    return str(RECEIPT_LABELS.get(state, state))


class DeliveryStateFilter(admin.SimpleListFilter):
    """Fonnte's delivery states as a fixed list.

    The field's own filter lists the values found with a SELECT DISTINCT over the whole
    table on every page load (40-60 ms at 100,000 rows, half the page); Fonnte's states
    are known (services.receipts), and any other value it reports falls under "other".
    """

    title = _("delivery state")
    parameter_name = "delivery_state"
    NONE, OTHER = "none", "other"

    def lookups(self, request, model_admin):
        return [
            *((state, RECEIPT_LABELS.get(state, state)) for state in STATE_RANKS),
            (self.NONE, _("not reported yet")),
            (self.OTHER, _("other")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.NONE:
            return queryset.filter(delivery_state="")
        if value == self.OTHER:
            return queryset.exclude(delivery_state="").exclude(delivery_state__in=STATE_RANKS)
        if value in STATE_RANKS:
            return queryset.filter(delivery_state=value)
        return queryset


class MonthlyReportFilter(admin.SimpleListFilter):
    """The reports that have rows, newest first; and the rows whose report was deleted.

    Not the field's own filter: that lists every report, each naming its classroom with
    a query of its own. Here one query, an EXISTS per report on the (report, status)
    index, whatever the number of rows. The parameter is the field filter's, so links
    such as the report page's "check the unknown ones" keep working.
    """

    title = _("monthly report")
    parameter_name = "monthly_report__id__exact"
    DELETED = "deleted"

    def lookups(self, request, model_admin):
        reports = in_visible_classrooms(
            MonthlyReport.objects.filter(
                Exists(MonthlyReportBroadcast.objects.filter(monthly_report=OuterRef("pk")))
            ),
            user=request.user,
        ).select_related("classroom")
        return [
            *((str(report.pk), str(report)) for report in reports),
            (self.DELETED, _("report deleted")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.DELETED:
            return queryset.filter(monthly_report__isnull=True)
        if value and value.isdigit():
            return queryset.filter(monthly_report_id=int(value))
        return queryset


@admin.register(MonthlyReportBroadcast)
class MonthlyReportBroadcastAdmin(
    ClassroomScopedMixin, MaskedPhoneMixin, PhoneSearchMixin, admin.ModelAdmin
):
    # Three columns that fit a 1366 px laptop beside the menu and the filters: who (the
    # number under the name), which report, and how it stands with why (the reason of a
    # failure, shortened, whole in its title and on the row's page). list.css clips them.
    list_display = ["recipient", "report", "status_detail"]
    list_filter = [
        "status",
        DeliveryStateFilter,
        MonthlyReportFilter,
        ("monthly_report__classroom", ClassroomFilter),
        "monthly_report__year",
        "monthly_report__month",
    ]
    search_fields = ["student__nis", "student__full_name", "phone_number"]
    phone_search_field = "phone_number"
    # A row belongs to its report's class; a row whose report was deleted, to no class.
    classroom_field = "monthly_report__classroom"
    masked_fields = {
        "recipient": "recipient_masked",
        "status_detail": "status_detail_masked",
        "phone_number": "phone_number_masked",
        "error_message": "error_message_masked",
        "fonnte_response": "fonnte_response_masked",
    }
    list_select_related = ["student", "monthly_report__classroom"]
    raw_id_fields = ["student", "monthly_report"]
    inlines = [BroadcastAttemptInline]
    list_per_page = 100
    show_full_result_count = False
    # The facet counts ("Tampilkan hitungan") are a COUNT per filter choice over every row:
    # 27 queries instead of 9 at 40,000 rows, growing with the reports and classrooms.
    show_facets = admin.ShowFacets.NEVER
    actions = ["retry_failed", "resend_unknown"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "monthly_report",
                    "student",
                    "phone_number",
                    "status",
                    "error_message",
                    "message",
                ]
            },
        ),
        (
            _("Delivery"),
            {
                "fields": [
                    "retry_count",
                    "sent_at",
                    "delivery_receipt",
                    "delivered_at",
                    "read_at",
                    "next_attempt_at",
                ]
            },
        ),
        (
            _("History"),
            {
                "fields": [
                    "requested_by",
                    "created_at",
                    "enqueued_at",
                    "claimed_at",
                    "failure_alerted_at",
                    "updated_at",
                ]
            },
        ),
        (
            # What Fonnte's support asks for; folded away, the school rarely needs it.
            _("For Fonnte's support"),
            {
                "classes": ["collapse"],
                "fields": ["fonnte_response", "fonnte_message_id", "fonnte_request_id"],
            },
        ),
    ]

    class Media:
        css = {"all": ["broadcasts/list.css"]}

    def get_queryset(self, request):
        # What the row's name (__str__) reads: the change page's heading and breadcrumb, the
        # history page and the delete confirmation print it without a query of their own.
        return super().get_queryset(request).select_related("student", "monthly_report__classroom")

    def get_readonly_fields(self, request, obj=None):
        # The rows are a record of what happened: statuses change only through the actions.
        return [field.name for field in self.model._meta.fields] + [
            "fonnte_response",
            "delivery_receipt",
        ]

    def has_change_permission(self, request, obj=None):
        # Nothing on a row's page can be changed (get_readonly_fields): no Save buttons.
        # Viewing stays (the view permission); the actions have permissions of their own.
        return False

    def has_delete_permission(self, request, obj=None):
        # Not even for a superuser: a row is the record that this parent was told about this
        # report. Without it the report could be sent to the parent again; old rows leave
        # only through broadcast_prune, which keeps their counts and locks the report.
        return False

    @admin.display(description=_("student"), ordering="student__full_name")
    def recipient(self, obj):
        return self._recipient(obj, obj.phone_number or "-")

    @admin.display(description=_("student"), ordering="student__full_name")
    def recipient_masked(self, obj):
        return self._recipient(obj, masked(obj.phone_number))

    def _recipient(self, obj, phone):
        name = obj.student.full_name
        return format_html(
            '<span class="wa-clip wa-name" title="{}">{}</span><span class="wa-quiet">{}</span>',
            name,
            name,
            phone,
        )

    @admin.display(description=_("monthly report"), ordering="monthly_report")
    def report(self, obj):
        text = str(obj.monthly_report) if obj.monthly_report_id else _("report deleted")
        return format_html('<span class="wa-clip wa-report" title="{}">{}</span>', text, text)

    @admin.display(description=_("status"), ordering="status")
    def status_detail(self, obj):
        return self._status(obj, obj.error_message)

    @admin.display(description=_("status"), ordering="status")
    def status_detail_masked(self, obj):
        return self._status(obj, obj.error_message and masked_text(obj.error_message))

    def _status(self, obj, reason):
        """The status in bold; below it why (a failure's reason) or when and how far (sent)."""
        if obj.status == BroadcastStatus.SENT:
            parts = (
                [date_format(localtime(obj.sent_at), "SHORT_DATETIME_FORMAT")]
                if obj.sent_at
                else []
            )
            if obj.delivery_state and obj.delivery_state != "sent":
                parts.append(receipt_label(obj.delivery_state))
            detail = " · ".join(parts)
        else:
            detail = reason
        return format_html(
            '<strong class="wa-status wa-status-{}">{}</strong>'
            '<span class="wa-clip wa-reason" title="{}">{}</span>',
            obj.status,
            obj.get_status_display(),
            detail,
            detail,
        )

    @admin.display(description=_("delivery state"))
    def delivery_receipt(self, obj):
        return receipt_label(obj.delivery_state) if obj.delivery_state else "-"

    @admin.display(description=_("Fonnte response"))
    def fonnte_response(self, obj):
        """Fonnte's answer, indented when it is JSON (it is kept exactly as received)."""
        if not obj.response:
            return "-"
        return format_html(
            '<pre style="white-space: pre-wrap; margin: 0">{}</pre>', _indented(obj.response)
        )

    @admin.display(description=_("phone number"))
    def phone_number_masked(self, obj):
        return masked(obj.phone_number)

    @admin.display(description=_("error"))
    def error_message_masked(self, obj):
        return masked_text(obj.error_message)

    @admin.display(description=_("Fonnte response"))
    def fonnte_response_masked(self, obj):
        """Fonnte's answer names the number it was sent to: masked, as the number is."""
        if not obj.response:
            return "-"
        return format_html(
            '<pre style="white-space: pre-wrap; margin: 0">{}</pre>',
            masked_text(_indented(obj.response)),
        )

    def has_add_permission(self, request):
        return False

    def has_resend_permission(self, request):
        return request.user.has_perm("reports.send_whatsapp_broadcast")

    @admin.action(description=_("Resend the selected failed messages"), permissions=["resend"])
    def retry_failed(self, request, queryset):
        """Show which selected rows would be resent; on confirmation (``post=yes``) resend them."""
        if request.POST.get("post") != "yes":
            return self._resend_confirmation(
                request,
                queryset,
                status=BroadcastStatus.FAILED,
                action_name="retry_failed",
                title=_("Resend the selected failed messages?"),
                template="retry_failed_confirmation.html",
            )
        outcome = broadcast_resend(
            broadcast_ids=queryset.values_list("pk", flat=True), requested_by=request.user
        )
        # As the confirmation counted: an invalid number is put back but never reaches Fonnte.
        count = len(outcome.to_fonnte)
        message = ngettext(
            "%(n)d failed message will be sent again.",
            "%(n)d failed messages will be sent again.",
            count,
        ) % {"n": count}
        self.message_user(request, message, messages.SUCCESS if count else messages.WARNING)
        self._say_not_sent(request, outcome)

    @admin.action(
        description=_(
            "Resend the selected unknown messages (only after checking they did not arrive)"
        ),
        permissions=["resend"],
    )
    def resend_unknown(self, request, queryset):
        """Warn that the parent may already have it; on confirmation (``post=yes``) resend."""
        if request.POST.get("post") != "yes":
            return self._resend_confirmation(
                request,
                queryset,
                status=BroadcastStatus.UNKNOWN,
                action_name="resend_unknown",
                title=_("Resend the selected messages with an unknown outcome?"),
                template="resend_unknown_confirmation.html",
            )
        # Only the unknown ones: this action is no way around the failed rows' own.
        outcome = broadcast_resend(
            broadcast_ids=queryset.filter(status=BroadcastStatus.UNKNOWN).values_list(
                "pk", flat=True
            ),
            include_unknown=True,
            requested_by=request.user,
        )
        count = len(outcome.to_fonnte)
        message = ngettext(
            "%(n)d message with an unknown outcome will be sent again.",
            "%(n)d messages with an unknown outcome will be sent again.",
            count,
        ) % {"n": count}
        self.message_user(request, message, messages.SUCCESS if count else messages.WARNING)
        self._say_not_sent(request, outcome)

    def _resend_confirmation(self, request, queryset, *, status, action_name, title, template):
        preview = broadcast_retry_preview(broadcasts=queryset, status=status)
        for row in preview.shown:
            row.shown_reason = shown_reason(row.error_message, user=request.user)
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "preview": preview,
            # Echoed as posted, so confirming acts on the very same selection (and
            # "select all" across pages does not become a thousand hidden fields).
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            # A child whose number must be fixed is a link to their page, for who may open it.
            "student_links": self.admin_site.get_model_admin(Student).has_view_or_change_permission(
                request
            ),
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action_name": action_name,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, f"admin/broadcasts/monthlyreportbroadcast/{template}", context
        )

    def _say_not_sent(self, request, outcome):
        for note in resend_notes(outcome):
            self.message_user(request, note, messages.WARNING)


def _indented(response: str) -> str:
    """Fonnte's answer indented when it is JSON (it is kept exactly as received)."""
    try:
        return json.dumps(json.loads(response), indent=2, ensure_ascii=False)
    except ValueError:
        return response


#: What a resend (services.Resend) did not send, and why: one note per non-empty field.
RESEND_NOTES = (
    (
        "invalid_phone",
        _(
            "Will fail again, the number is not a valid Indonesian mobile number: %(n)s. "
            "Fix the number in the student data first, then resend."
        ),
    ),
    (
        "no_phone",
        _(
            "Not resent, the student has no phone number: %(n)s. Add the parent's number "
            "in the student data, then resend."
        ),
    ),
    (
        "not_on_whatsapp",
        _(
            "Not resent, the number is not on WhatsApp: %(n)s. Correct the number in the "
            "student data, then resend."
        ),
    ),
    (
        "report_deleted",
        _(
            "Not resent, the report was deleted: %(n)s. There is nothing to send about; "
            "these messages cannot be resent."
        ),
    ),
)


def resend_notes(outcome) -> list[str]:
    """What a resend (services.Resend) did not send, and why: both resend actions' words."""
    return [
        text % {"n": len(ids)} for field, text in RESEND_NOTES if (ids := getattr(outcome, field))
    ]


class MessageTemplateForm(forms.ModelForm):
    #: The "Preview" button's name (admin/broadcasts/messagetemplate/submit_line.html).
    PREVIEW = "_preview"
    #: The "Default text" button's: the default text in the form, previewed, not saved.
    DEFAULT = "_default"

    class Meta:
        model = MessageTemplate
        fields = ["text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 16, "cols": 80})}

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and self.DEFAULT in data:
            # The row is never deleted: going back to the default is this, then "Simpan".
            data = data.copy()
            data["text"] = DEFAULT_TEMPLATE
        super().__init__(data, *args, **kwargs)

    def clean_text(self):
        text = self.cleaned_data["text"]
        errors = template_errors(text)
        if errors:
            raise forms.ValidationError(
                [forms.ValidationError(error, code="invalid_template") for error in errors]
            )
        return text

    def clean(self):
        cleaned_data = super().clean()
        if self.has_error("text"):
            # No preview of the saved wording beside a posted text that is not it.
            self.instance.text = ""
        return cleaned_data

    @property
    def previewing(self) -> bool:
        return self.is_bound and (self.PREVIEW in self.data or self.DEFAULT in self.data)

    def is_valid(self):
        # The admin saves a form that is valid and re-renders one that is not: a preview is
        # validated like a save, then shown (MessageTemplateAdmin.preview reads the posted
        # text from the instance) and never saved. It adds no error, so none is shown.
        return super().is_valid() and not self.previewing


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    """The parents' message, editable by the school; a typo in a placeholder is a form error."""

    form = MessageTemplateForm
    list_display = ["__str__", "updated_at", "updated_by"]
    readonly_fields = ["placeholders", "preview", "updated_at", "updated_by"]
    fields = ["text", "placeholders", "preview", "updated_at", "updated_by"]

    def has_add_permission(self, request):
        # The text in use is always the one row (message_template_get_or_create): it is
        # edited, never added beside, never deleted.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if self.has_view_or_change_permission(request):
            message_template_get_or_create()
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if object_id == str(MessageTemplate.SCHOOL_PK) and self.has_view_or_change_permission(
            request
        ):
            message_template_get_or_create()
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description=_("placeholders"))
    def placeholders(self, obj):
        return format_html_join(
            "", "<code>{{{}}}</code>: {}<br>", ((name, text) for name, text in PLACEHOLDERS.items())
        )

    @admin.display(description=_("preview"))
    def preview(self, obj):
        """The text on the instance (the saved one, or the one posted with "Preview")."""
        if obj is None or not obj.text:
            return _("Press “Preview” to see the message above for a real student, unsaved.")
        preview = message_preview(obj.text)
        if preview is None:
            return _("No student with a phone number yet.")
        text, student = preview
        return format_html(
            '<p>{}</p><pre style="white-space: pre-wrap">{}</pre>',
            _("As %(name)s's parent will read it:") % {"name": student.full_name},
            text,
        )
