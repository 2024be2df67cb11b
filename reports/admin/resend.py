"""The report list's resend action for failed messages: its confirmation page and banner."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from broadcasts.admin import resend_notes
from broadcasts.selectors import broadcast_resend_plan
from broadcasts.services import broadcast_resend
from students.visibility import shown_reason, student_links
from tkassalam.language import school_language


@admin.action(
    description=gettext_lazy("Resend failed messages"),
    permissions=["send_whatsapp"],
)
def resend_failed_broadcasts(modeladmin, request, queryset):
    """Show the failed rows that would be resent; on confirmation (``post=yes``) resend them."""
    reports = list(queryset.select_related("classroom"))
    plans = broadcast_resend_plan(monthly_reports=reports)
    if request.POST.get("post") == "yes":
        for plan in plans:
            # The service re-checks each row's status: a row sent meanwhile stays untouched.
            outcome = broadcast_resend(
                broadcast_ids=[row.pk for row in plan.failed], requested_by=request.user
            )
            if outcome.resent or outcome.not_resent:
                with school_language():
                    modeladmin.log_change(
                        request, plan.monthly_report, _resend_message(plan, outcome)
                    )
            # Anything not sent, or sent to fail again, makes the banner a warning.
            clean = outcome.to_fonnte and not (resend_notes(outcome) or plan.unknown)
            modeladmin.message_user(
                request,
                _resend_message(plan, outcome),
                messages.SUCCESS if clean else messages.WARNING,
            )
        return None
    for plan in plans:
        for row in plan.failed:
            row.shown_reason = shown_reason(row.error_message, user=request.user)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": _("Resend the failed WhatsApp messages?"),
        "plans": plans,
        "failed_total": sum(plan.will_resend for plan in plans),
        # Children whose number must be fixed before anything of theirs can be resent.
        "to_fix_total": sum(plan.to_fix for plan in plans),
        # Left as they are whatever is fixed: opted out, guardian removed, number taken.
        "kept_total": sum(
            len(plan.opted_out) + len(plan.guardian_removed) + len(plan.number_taken)
            for plan in plans
        ),
        "student_links": student_links(modeladmin, request),
        "broadcast_changelist_url": reverse(
            "admin:broadcasts_monthlyreportbroadcast_changelist",
            current_app=modeladmin.admin_site.name,
        ),
        "opts": modeladmin.model._meta,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "action_name": "resend_failed_broadcasts",
        "media": modeladmin.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(
        request, "admin/reports/monthlyreport/resend_failed_confirmation.html", context
    )


def _resend_message(plan, outcome):
    count = len(outcome.to_fonnte)
    if count:
        text = ngettext(
            "%(report)s: %(n)d failed message will be sent again.",
            "%(report)s: %(n)d failed messages will be sent again.",
            count,
        ) % {"report": plan.monthly_report, "n": count}
    elif outcome.resent or outcome.not_resent:
        text = _("%(report)s: no message will be sent again.") % {"report": plan.monthly_report}
    else:
        text = _("%(report)s: no failed messages to resend.") % {"report": plan.monthly_report}
    # What was not sent, and why, in the words of the broadcast list's resend.
    text = " ".join([text, *resend_notes(outcome)])
    if plan.unknown:
        text += " " + ngettext(
            "%(n)d message with an unknown outcome was not resent: check it, then resend it "
            "from the broadcast list.",
            "%(n)d messages with an unknown outcome were not resent: check them, then resend "
            "them from the broadcast list.",
            len(plan.unknown),
        ) % {"n": len(plan.unknown)}
    return text
