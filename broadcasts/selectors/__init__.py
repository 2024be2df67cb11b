"""Reads about broadcasts: what a send or a resend would do, and where reports' messages stand.

delivery: whether a guardian can be messaged (opted out, no number, not on WhatsApp,
invalid number), the one rule per guardian and its SQL twins; recipients: who a send would
message, one message per guardian's number; plan: what sending a report would do, the
confirmation's counts; progress: where each report's messages stand and which were not
delivered; resend: what putting failed (or unknown) messages back would do.
"""

from .delivery import (
    INVALID_PHONE,
    NUMBER_TAKEN,
    PHONE_BLANKS,
    NotResendable,
    broadcasts_resend_problems,
    guardian_delivery_problem,
    guardian_has_phone,
    guardian_not_on_whatsapp,
    has_phone,
    not_resendable_reason,
    resend_numbers_taken,
    resendable,
    row_phone,
    same_number,
)
from .plan import (
    BroadcastPlan,
    MessageCounts,
    broadcast_plan,
    broadcast_status_counts,
    report_has_broadcasts,
    reports_with_broadcasts,
)
from .progress import (
    FOLLOW_UP_LIST_LIMIT,
    UNDELIVERED_LIST_LIMIT,
    Progress,
    ProgressState,
    broadcast_progress,
    not_opened_q,
    report_live_links,
    report_not_opened,
    report_undelivered,
)
from .recipients import ChildRecipients, Recipient, SkippedGuardian, report_recipients
from .resend import (
    RESEND_LIST_LIMIT,
    RETRY_LIST_LIMIT,
    ResendPlan,
    RetryPreview,
    broadcast_resend_plan,
    broadcast_retry_preview,
    shown_and_more,
)

__all__ = [
    "FOLLOW_UP_LIST_LIMIT",
    "INVALID_PHONE",
    "NUMBER_TAKEN",
    "PHONE_BLANKS",
    "RESEND_LIST_LIMIT",
    "RETRY_LIST_LIMIT",
    "UNDELIVERED_LIST_LIMIT",
    "BroadcastPlan",
    "ChildRecipients",
    "MessageCounts",
    "NotResendable",
    "Progress",
    "ProgressState",
    "Recipient",
    "ResendPlan",
    "RetryPreview",
    "SkippedGuardian",
    "broadcast_plan",
    "broadcast_progress",
    "broadcast_resend_plan",
    "broadcast_retry_preview",
    "broadcast_status_counts",
    "broadcasts_resend_problems",
    "guardian_delivery_problem",
    "guardian_has_phone",
    "guardian_not_on_whatsapp",
    "has_phone",
    "not_opened_q",
    "not_resendable_reason",
    "report_has_broadcasts",
    "report_live_links",
    "report_not_opened",
    "report_recipients",
    "report_undelivered",
    "reports_with_broadcasts",
    "resend_numbers_taken",
    "resendable",
    "row_phone",
    "same_number",
    "shown_and_more",
]
