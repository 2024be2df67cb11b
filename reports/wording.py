"""How a report's messages are counted in words: one vocabulary for every page.

The confirmation and the banner after confirming say "N children, M WhatsApp numbers"
(one message per guardian's number); the report list's progress and the report page say
"sent", "failed" and "unknown" about the same counts
(broadcasts.selectors.MessageCounts and Progress); an invalid number is a failed message
on each of them.
"""

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from broadcasts.selectors import MessageCounts, Progress


def _children_and_numbers(counts: MessageCounts) -> str:
    """``27 children, 41 WhatsApp numbers``: the children told, and the numbers messaged."""
    children = ngettext("%(n)d child", "%(n)d children", counts.children) % {"n": counts.children}
    numbers = ngettext("%(n)d WhatsApp number", "%(n)d WhatsApp numbers", counts.total) % {
        "n": counts.total
    }
    return f"{children}, {numbers}"


def _when_all_valid(counts: MessageCounts) -> str | None:
    """The words when no number is invalid, the same before and after confirming; else None."""
    if not counts.total:
        return _("No new message to send.")
    if not counts.invalid:
        return ngettext(
            "%(recipients)s: the message will be sent.",
            "%(recipients)s: all messages will be sent.",
            counts.total,
        ) % {"recipients": _children_and_numbers(counts)}
    return None


def planned_text(counts: MessageCounts) -> str:
    """Before confirming: ``27 children, 41 WhatsApp numbers: 40 will be sent, 1 will fail``.

    One message per number (``total``), about ``children`` children.
    """
    return _when_all_valid(counts) or ngettext(
        "%(recipients)s: %(to_send)d will be sent, %(invalid)d will fail "
        "(the number is not a valid Indonesian mobile number).",
        "%(recipients)s: %(to_send)d will be sent, %(invalid)d will fail "
        "(the numbers are not valid Indonesian mobile numbers).",
        counts.invalid,
    ) % {
        "recipients": _children_and_numbers(counts),
        "to_send": counts.to_send,
        "invalid": counts.invalid,
    }


def created_text(counts: MessageCounts) -> str:
    """After confirming: the confirmation's words, and what to do about the invalid numbers."""
    return _when_all_valid(counts) or ngettext(
        "%(recipients)s: %(to_send)d will be sent, %(invalid)d will fail "
        "(the number is not a valid Indonesian mobile number): correct the guardian's "
        "number in the student data, then resend the failed messages.",
        "%(recipients)s: %(to_send)d will be sent, %(invalid)d will fail "
        "(the numbers are not valid Indonesian mobile numbers): correct the guardians' "
        "numbers in the student data, then resend the failed messages.",
        counts.invalid,
    ) % {
        "recipients": _children_and_numbers(counts),
        "to_send": counts.to_send,
        "invalid": counts.invalid,
    }


def progress_summary(progress: Progress) -> str:
    """``6 of 7 sent, 1 failed``; empty when nothing was sent yet.

    No percentage: "100%" beside a failure reads as success.
    """
    if progress.archived:
        text = _("archived: %(sent)d of %(total)d sent") % {
            "sent": progress.sent,
            "total": progress.total,
        }
    elif not progress.total:
        return ""
    else:
        text = _("%(sent)d of %(total)d sent") % {"sent": progress.sent, "total": progress.total}
    if progress.failed:
        text += ", " + _("%(n)d failed") % {"n": progress.failed}
    if progress.unknown:
        text += ", " + _("%(n)d unknown") % {"n": progress.unknown}
    return text


def opened_summary(progress: Progress) -> str:
    """``opened: 4 of 6`` (of those sent); empty when the report's messages carry no link."""
    if not progress.shows_opened:
        return ""
    return _("opened: %(opened)d of %(sent)d") % {"opened": progress.opened, "sent": progress.sent}


def children_summary(progress: Progress) -> str:
    """``children reached: 26 of 27``: a child is reached when one guardian's message was sent.

    Empty when the report has no rows, or is archived (its rows, and so its children, gone).
    """
    if not progress.children:
        return ""
    return _("children reached: %(reached)d of %(children)d") % {
        "reached": progress.children_reached,
        "children": progress.children,
    }


def with_file_text(*, with_file: int, total: int) -> str:
    """The confirmation's ``12 of the 27 children to be messaged already have a report file``.

    Of the children to be messaged, not of the class (the report page's files count):
    the words say so, or the two pages would seem to disagree.
    """
    return ngettext(
        "%(with_file)d of the %(total)d child to be messaged already has a report file.",
        "%(with_file)d of the %(total)d children to be messaged already have a report file.",
        total,
    ) % {"with_file": with_file, "total": total}
