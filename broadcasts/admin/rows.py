"""The broadcast list and a message's page: one row per guardian messaged, with its attempts."""

import json

from django.contrib import admin
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _

from students.search import PhoneSearchMixin
from students.visibility import (
    ClassroomFilter,
    ClassroomScopedMixin,
    MaskedPhoneMixin,
    masked,
    masked_text,
)

from ..models import BroadcastAttempt, BroadcastStatus, MonthlyReportBroadcast
from .filters import DeliveryStateFilter, FileOpenedFilter, MonthlyReportFilter, receipt_label
from .links import BroadcastLinksMixin
from .resend import BroadcastResendMixin


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


@admin.register(MonthlyReportBroadcast)
class MonthlyReportBroadcastAdmin(
    ClassroomScopedMixin,
    MaskedPhoneMixin,
    PhoneSearchMixin,
    BroadcastResendMixin,
    BroadcastLinksMixin,
    admin.ModelAdmin,
):
    # Three columns that fit a 1366 px laptop beside the menu and the filters: who (the
    # child; under the name the guardian with their relation, then the number), which
    # report, and how it stands with why (the reason of a failure, shortened, whole in its
    # title and on the row's page). list.css clips them. A narrow fourth: when the guardian
    # first opened the report's file, and how many times.
    list_display = ["recipient", "report", "status_detail", "opened"]
    list_filter = [
        "status",
        DeliveryStateFilter,
        FileOpenedFilter,
        MonthlyReportFilter,
        ("monthly_report__classroom", ClassroomFilter),
        "monthly_report__year",
        "monthly_report__month",
    ]
    search_fields = ["student__nis", "student__full_name", "guardian__name", "phone_number"]
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
    list_select_related = ["student", "guardian", "monthly_report__classroom"]
    raw_id_fields = ["student", "monthly_report"]
    inlines = [BroadcastAttemptInline]
    list_per_page = 100
    show_full_result_count = False
    # The facet counts ("Tampilkan hitungan") are a COUNT per filter choice over every row:
    # 27 queries instead of 9 at 40,000 rows, growing with the reports and classrooms.
    show_facets = admin.ShowFacets.NEVER
    actions = ["retry_failed", "resend_unknown", "revoke_links"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "monthly_report",
                    "student",
                    "guardian",
                    "phone_number",
                    "status",
                    "error_message",
                    # The token masked: staff opening the link would look like the parent.
                    "message_shown",
                ]
            },
        ),
        (
            _("Link to the report"),
            {
                "fields": [
                    "link_state_shown",
                    "link_created_at",
                    "link_expires_shown",
                    "link_revoked_at",
                    "opened_at",
                    "open_count",
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
        return (
            super()
            .get_queryset(request)
            .select_related("student", "guardian", "monthly_report__classroom")
        )

    def get_readonly_fields(self, request, obj=None):
        # The rows are a record of what happened: statuses change only through the actions.
        return [field.name for field in self.model._meta.fields] + [
            "fonnte_response",
            "delivery_receipt",
            "message_shown",
            "link_state_shown",
            "link_expires_shown",
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
        """The child; under the name the guardian ("Siti (ibu)") on one line and the number
        as the user may see it. A long guardian's name is shortened, never the relation
        (it says which parent). A guardian removed since leaves the number only."""
        name = obj.student.full_name
        guardian = mark_safe('<span class="wa-guardian" title=""></span>')
        if obj.guardian_id:
            relation = obj.guardian.get_relation_display()
            guardian = format_html(
                '<span class="wa-guardian" title="{}">'
                '<span class="wa-guardian-name">{}</span>'
                '<span class="wa-relation">{}</span></span>',
                obj.guardian,
                obj.guardian.name,
                f" ({relation})" if obj.guardian.name else relation,
            )
        return format_html(
            '<span class="wa-clip wa-name" title="{}">{}</span>{}<span class="wa-quiet">{}</span>',
            name,
            name,
            guardian,
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


def _indented(response: str) -> str:
    """Fonnte's answer indented when it is JSON (it is kept exactly as received)."""
    try:
        return json.dumps(json.loads(response), indent=2, ensure_ascii=False)
    except ValueError:
        return response
