"""Resending from the broadcast list: its two actions, and the words for what was not resent."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from students.visibility import shown_reason, student_links

from ..models import BroadcastStatus
from ..selectors import broadcast_retry_preview
from ..services import broadcast_resend

#: What a resend (services.Resend) did not send, and why: one note per non-empty field.
RESEND_NOTES = (
    (
        "invalid_phone",
        _(
            "Will fail again, the number is not a valid Indonesian mobile number: %(n)s. "
            "Fix the guardian's number in the student data first, then resend."
        ),
    ),
    (
        "no_phone",
        _(
            "Not resent, the guardian has no phone number: %(n)s. Add the guardian's number "
            "in the student data, then resend."
        ),
    ),
    (
        "not_on_whatsapp",
        _(
            "Not resent, the number is not on WhatsApp: %(n)s. Correct the guardian's "
            "number in the student data, then resend."
        ),
    ),
    (
        "opted_out",
        _(
            "Not resent, the guardian does not receive messages: %(n)s. Tick “receives "
            "WhatsApp messages” in the student data first if they want them again."
        ),
    ),
    (
        "guardian_removed",
        _(
            "Not resent, the guardian was removed from the student data: %(n)s. These "
            "messages cannot be resent."
        ),
    ),
    (
        "number_taken",
        _(
            "Not resent, the guardian's number already has a message about this child: "
            "%(n)s. Never twice to one number about one child."
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


class BroadcastResendMixin:
    """The broadcast list's two resend actions, for failed and for unknown messages."""

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
            "student_links": student_links(self, request),
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
