from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import MonthlyReportBroadcast
from .services import broadcast_retry


@admin.register(MonthlyReportBroadcast)
class MonthlyReportBroadcastAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "student",
        "monthly_report",
        "phone_number",
        "status",
        "retry_count",
        "sent_at",
        "error_message",
    ]
    list_filter = [
        "status",
        "monthly_report__classroom",
        "monthly_report__year",
        "monthly_report__month",
    ]
    search_fields = ["student__nis", "student__full_name", "phone_number"]
    list_select_related = ["student", "monthly_report__classroom"]
    raw_id_fields = ["student", "monthly_report"]
    date_hierarchy = "created_at"
    list_per_page = 100
    show_full_result_count = False
    actions = ["retry_failed", "resend_unknown"]
    fieldsets = [
        (None, {"fields": ["monthly_report", "student", "phone_number", "status", "message"]}),
        (
            _("Delivery"),
            {
                "fields": [
                    "retry_count",
                    "error_message",
                    "response",
                    "fonnte_message_id",
                    "fonnte_request_id",
                    "sent_at",
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
    ]

    def get_readonly_fields(self, request, obj=None):
        # The rows are a record of what happened: statuses change only through the actions.
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_resend_permission(self, request):
        return request.user.has_perm("reports.send_whatsapp_broadcast")

    @admin.action(description=_("Resend the selected failed messages"), permissions=["resend"])
    def retry_failed(self, request, queryset):
        count = broadcast_retry(broadcast_ids=queryset.values_list("pk", flat=True))
        self.message_user(
            request,
            ngettext(
                "%(n)d failed message will be sent again.",
                "%(n)d failed messages will be sent again.",
                count,
            )
            % {"n": count},
            messages.SUCCESS if count else messages.WARNING,
        )

    @admin.action(
        description=_(
            "Resend the selected unknown messages (only after checking they did not arrive)"
        ),
        permissions=["resend"],
    )
    def resend_unknown(self, request, queryset):
        count = broadcast_retry(
            broadcast_ids=queryset.filter(status="unknown").values_list("pk", flat=True),
            include_unknown=True,
        )
        self.message_user(
            request,
            ngettext(
                "%(n)d message with an unknown outcome will be sent again.",
                "%(n)d messages with an unknown outcome will be sent again.",
                count,
            )
            % {"n": count},
            messages.SUCCESS if count else messages.WARNING,
        )
