"""The broadcasts' admin: the list of messages to parents, their resends, the message text.

rows: the broadcast list and a message's page (MonthlyReportBroadcastAdmin, its attempts
inline); filters: the list's delivery-state and report filters; resend: the list's two
resend actions (a mixin of MonthlyReportBroadcastAdmin) and the words for what a resend
did not send, shared with the report list's resend; message_template: the parents'
message text. Importing this package registers them all, and FonnteDevice's page
(broadcasts/admin_devices.py).
"""

from .. import admin_devices  # noqa: F401  (registers FonnteDevice)
from .filters import RECEIPT_LABELS, DeliveryStateFilter, MonthlyReportFilter, receipt_label
from .message_template import MessageTemplateAdmin, MessageTemplateForm
from .resend import RESEND_NOTES, BroadcastResendMixin, resend_notes
from .rows import BroadcastAttemptInline, MonthlyReportBroadcastAdmin

__all__ = [
    "RECEIPT_LABELS",
    "RESEND_NOTES",
    "BroadcastAttemptInline",
    "BroadcastResendMixin",
    "DeliveryStateFilter",
    "MessageTemplateAdmin",
    "MessageTemplateForm",
    "MonthlyReportBroadcastAdmin",
    "MonthlyReportFilter",
    "receipt_label",
    "resend_notes",
]
