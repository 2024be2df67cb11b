"""The report list's send action: its confirmation page and the banner after confirming."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext_lazy

from broadcasts.exceptions import BroadcastArchived
from broadcasts.selectors import MessageCounts, broadcast_plan
from broadcasts.services import WithoutFile, broadcast_create_for_report, fonnte_device_learn
from notifications.selectors import whatsapp_device_readiness
from students.selectors import sees_full_phone_numbers
from students.visibility import masked, student_links
from tkassalam.language import school_language

from ..wording import created_text, planned_text, with_file_text
from .pacing import _pacing_note


@admin.action(
    description=gettext_lazy("Send the WhatsApp notification to parents"),
    permissions=["send_whatsapp"],
)
def send_whatsapp_broadcast(modeladmin, request, queryset):
    """Show what would be sent; on confirmation (``post=yes``) create the rows and queue them."""
    reports = list(queryset.select_related("classroom"))
    if request.POST.get("post") == "yes":
        without_file = _without_file_choice(request)
        for report in reports:
            try:
                outcome = broadcast_create_for_report(
                    monthly_report=report, requested_by=request.user, without_file=without_file
                )
            except BroadcastArchived:
                modeladmin.message_user(request, _archived_message(report), messages.ERROR)
                continue
            # Who sent, and when: the report's history (Django's admin log) keeps it, in
            # the school's language whatever the sender's.
            with school_language():
                modeladmin.log_change(request, report, _creation_message(report, outcome))
            # A banner that announces failures or children left out is a warning.
            level = (
                messages.WARNING
                if outcome.invalid_phone
                or outcome.not_delivered
                or outcome.skipped_no_phone
                or outcome.skipped_not_on_whatsapp
                or outcome.no_guardian
                else messages.SUCCESS
            )
            modeladmin.message_user(request, _creation_message(report, outcome), level)
        return None
    plans = [broadcast_plan(monthly_report=report) for report in reports]
    full_numbers = sees_full_phone_numbers(user=request.user)
    for plan in plans:
        plan.headline = planned_text(plan.counts)
        if plan.has_files:
            # Counted in children: a child's file is the link of each of its guardians.
            plan.files_text = with_file_text(with_file=plan.children_with_file, total=plan.children)
            # Both choices' words, the counts as confirming them would create the rows.
            plan.headline_waiting = planned_text(plan.counts_waiting)
        if plan.shared_number:
            plan.shared_text = _SHARED_NUMBER % {"n": plan.shared_number}
        # The number to correct, shown once; masked for who may not change students.
        plan.invalid_rows = [
            (recipient, recipient.phone if full_numbers else masked(recipient.phone))
            for recipient in plan.invalid_phone_shown
        ]
    # The quota and the pace concern the messages that reach Fonnte: invalid numbers do not.
    # Counted for sending to all: the most the click may send.
    recipients = sum(plan.will_receive for plan in plans)
    # One short /device call: the quota is the device's, shared by all these reports.
    device = whatsapp_device_readiness(recipients=recipients)
    # Its number is the school's device: only that device's disconnect pauses sending.
    fonnte_device_learn(status=device.status)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": _("Send the WhatsApp notification?"),
        "plans": plans,
        "device": device,
        "pacing_note": _pacing_note(recipients),
        # The choice only when a report has files and some child to be sent has none.
        "file_choice": any(plan.has_files and plan.without_file for plan in plans),
        "wait_value": WithoutFile.WAIT.value,
        "send_value": WithoutFile.SEND.value,
        "queryset": queryset,
        "student_links": student_links(modeladmin, request),
        "opts": modeladmin.model._meta,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "action_name": "send_whatsapp_broadcast",
        "media": modeladmin.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(
        request, "admin/reports/monthlyreport/send_whatsapp_confirmation.html", context
    )


def _without_file_choice(request) -> WithoutFile:
    """The admin's choice for children without a file; waiting when absent or unreadable.

    Waiting is the safer default: a parent messaged now without the link already has a
    row, so sending again once the file is uploaded would not message them again (a sent
    message is never resent), while a child left out is messaged, with the link, by
    sending again.
    """
    try:
        return WithoutFile(request.POST.get("without_file", WithoutFile.WAIT))
    except ValueError:
        return WithoutFile.WAIT


def _archived_message(report):
    return _(
        "%(report)s: its messages were archived, so it cannot be sent again "
        "(parents who were told would be told twice)."
    ) % {"report": report}


_SHARED_NUMBER = ngettext_lazy(
    "%(n)d guardian shares a number with another guardian of the same child: "
    "one message per number.",
    "%(n)d guardians share a number with another guardian of the same child: "
    "one message per number.",
    "n",
)

#: What the admin is told about rows that existed before the click, and about the children
#: and guardians left out, when there are any.
_EARLIER_ROWS = [
    (
        "already_sent",
        ngettext_lazy(
            "%(n)d message was already sent and is not sent again.",
            "%(n)d messages were already sent and are not sent again.",
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
        "waiting_for_file",
        ngettext_lazy(
            "%(n)d child left out until their report file is uploaded: send again then.",
            "%(n)d children left out until their report file is uploaded: send again then.",
            "n",
        ),
    ),
    (
        "no_guardian",
        ngettext_lazy(
            "%(n)d child has no guardian who can receive the message.",
            "%(n)d children have no guardian who can receive the message.",
            "n",
        ),
    ),
    ("shared_number", _SHARED_NUMBER),
    (
        "skipped_no_phone",
        ngettext_lazy(
            "%(n)d guardian skipped: no phone number.",
            "%(n)d guardians skipped: no phone number.",
            "n",
        ),
    ),
    (
        "skipped_not_on_whatsapp",
        ngettext_lazy(
            "%(n)d guardian skipped: the number is not on WhatsApp.",
            "%(n)d guardians skipped: the number is not on WhatsApp.",
            "n",
        ),
    ),
    (
        "skipped_opted_out",
        ngettext_lazy(
            "%(n)d guardian skipped: does not receive messages.",
            "%(n)d guardians skipped: do not receive messages.",
            "n",
        ),
    ),
]


def _creation_message(report, outcome):
    """The banner: the confirmation's counts (children, numbers), in the same words."""
    counts = MessageCounts(
        total=outcome.created, invalid=outcome.invalid_phone, children=outcome.children
    )
    parts = [f"{report}: {created_text(counts)}"]
    for field, text in _EARLIER_ROWS:
        if count := getattr(outcome, field):
            parts.append(text % {"n": count})
    return " ".join(parts)
