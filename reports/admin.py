from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, ngettext_lazy

from broadcasts.exceptions import BroadcastArchived
from broadcasts.models import BroadcastStatus
from broadcasts.selectors import broadcast_plan
from broadcasts.services import broadcast_create_for_report

from .models import MonthlyReport


@admin.action(
    description=gettext_lazy("Send the WhatsApp notification to parents"),
    permissions=["send_whatsapp"],
)
def send_whatsapp_broadcast(modeladmin, request, queryset):
    """Show what would be sent; on confirmation (``post=yes``) create the rows and queue them."""
    reports = list(queryset.select_related("classroom"))
    if request.POST.get("post") == "yes":
        for report in reports:
            try:
                outcome = broadcast_create_for_report(
                    monthly_report=report, requested_by=request.user
                )
            except BroadcastArchived:
                modeladmin.message_user(request, _archived_message(report), messages.ERROR)
                continue
            modeladmin.message_user(request, _creation_message(report, outcome), messages.SUCCESS)
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": _("Send the WhatsApp notification?"),
        "plans": [broadcast_plan(monthly_report=report) for report in reports],
        "queryset": queryset,
        "opts": modeladmin.model._meta,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "action_name": "send_whatsapp_broadcast",
        "media": modeladmin.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(
        request, "admin/reports/monthlyreport/send_whatsapp_confirmation.html", context
    )


def _archived_message(report):
    return _(
        "%(report)s: its messages were archived, so it cannot be sent again "
        "(parents who were told would be told twice)."
    ) % {"report": report}


#: What the admin is told about rows that existed before the click, when there are any.
_EARLIER_ROWS = [
    (
        "already_sent",
        ngettext_lazy(
            "%(n)d parent already received it and was not messaged again.",
            "%(n)d parents already received it and were not messaged again.",
            "n",
        ),
    ),
    (
        "under_way",
        ngettext_lazy(
            "%(n)d message was already under way.",
            "%(n)d messages were already under way.",
            "n",
        ),
    ),
    (
        "not_delivered",
        ngettext_lazy(
            "%(n)d earlier message failed or is unknown: resend it from the broadcast list.",
            "%(n)d earlier messages failed or are unknown: resend them from the broadcast list.",
            "n",
        ),
    ),
    (
        "skipped_no_phone",
        ngettext_lazy(
            "%(n)d student skipped: no phone number.",
            "%(n)d students skipped: no phone number.",
            "n",
        ),
    ),
]


def _creation_message(report, outcome):
    parts = [
        ngettext(
            "%(report)s: %(n)d message queued.",
            "%(report)s: %(n)d messages queued.",
            outcome.created,
        )
        % {"report": report, "n": outcome.created}
    ]
    for field, text in _EARLIER_ROWS:
        if count := getattr(outcome, field):
            parts.append(text % {"n": count})
    return " ".join(parts)


@admin.register(MonthlyReport)
class MonthlyReportAdmin(admin.ModelAdmin):
    list_display = ["__str__", "classroom", "month", "year", "delivery"]
    list_filter = ["year", "month", "classroom"]
    list_select_related = ["classroom", "broadcast_archive"]
    actions = [send_whatsapp_broadcast]

    def get_queryset(self, request):
        # The delivery column's counts come from the rows, in the changelist's one query.
        return (
            super()
            .get_queryset(request)
            .annotate(
                recipients=Count("broadcasts"),
                sent=Count("broadcasts", filter=Q(broadcasts__status=BroadcastStatus.SENT)),
                not_delivered=Count(
                    "broadcasts",
                    filter=Q(
                        broadcasts__status__in=[BroadcastStatus.FAILED, BroadcastStatus.UNKNOWN]
                    ),
                ),
            )
        )

    @admin.display(description=gettext_lazy("WhatsApp delivery"))
    def delivery(self, obj):
        archive = getattr(obj, "broadcast_archive", None)
        if archive is not None:
            return _("archived: %(sent)d of %(total)d sent") % {
                "sent": archive.sent,
                "total": archive.total,
            }
        if not obj.recipients:
            return _("not sent yet")
        text = _("%(sent)d of %(total)d sent") % {"sent": obj.sent, "total": obj.recipients}
        if obj.not_delivered:
            text += ", " + _("%(n)d failed or unknown") % {"n": obj.not_delivered}
        return text

    def has_send_whatsapp_permission(self, request):
        return request.user.has_perm("reports.send_whatsapp_broadcast")
