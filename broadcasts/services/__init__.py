"""Every change to a MonthlyReportBroadcast happens here, through guarded updates.

A status moves only with ``filter(pk=…, status=<expected>).update(…)``: if another
worker, a redelivered task or an admin got there first, the update matches no
row and nothing happens. That, not the broker, is what makes "never twice" hold.

    pending ──claim──▶ sending ──▶ sent
       ▲                  │──▶ retrying ──claim──▶ sending …   (passing failure)
       │                  │──▶ failed                          (final failure)
       └──admin retry─────│──▶ unknown                         (sent, no answer)

creation: the admin's click; sending: one row per task; alerts: telling the admins;
repair: putting failed rows back, to the student's current number.
"""

from .alerts import (
    broadcast_alert_failure_spike,
    broadcast_alert_failures,
    broadcast_schedule_failure_alert,
)
from .creation import (
    BroadcastCreation,
    WithoutFile,
    broadcast_create_for_report,
    broadcast_dispatch_pending,
)
from .devices import fonnte_device_check, fonnte_device_learn
from .links import links_revoke
from .maintenance import broadcast_prune
from .receipts import broadcast_record_status, fonnte_device_connected, fonnte_device_record
from .recovery import Recovery, broadcast_recover
from .repair import Resend, broadcast_resend
from .runner import RunResult, broadcast_process_due
from .sending import broadcast_handle_task_failure, broadcast_send

__all__ = [
    "BroadcastCreation",
    "Recovery",
    "Resend",
    "RunResult",
    "WithoutFile",
    "broadcast_alert_failure_spike",
    "broadcast_alert_failures",
    "broadcast_create_for_report",
    "broadcast_dispatch_pending",
    "broadcast_handle_task_failure",
    "broadcast_process_due",
    "broadcast_prune",
    "broadcast_record_status",
    "broadcast_recover",
    "broadcast_resend",
    "broadcast_schedule_failure_alert",
    "broadcast_send",
    "fonnte_device_check",
    "fonnte_device_connected",
    "fonnte_device_learn",
    "fonnte_device_record",
    "links_revoke",
]
