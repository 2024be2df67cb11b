"""How a send ends, for the Celery task: retry it, or stop and alert the admins.

The constructor arguments are kept in ``args`` so Celery can pickle the exceptions.
"""


class BroadcastRetry(Exception):
    """Not sent this time for a passing reason; the task retries it later."""

    def __init__(self, broadcast_id: int, reason: str):
        super().__init__(broadcast_id, reason)
        self.broadcast_id = broadcast_id
        self.reason = reason

    def __str__(self):
        return f"broadcast {self.broadcast_id}: {self.reason}"


class BroadcastFailed(Exception):
    """The row reached a final status other than sent (failed or unknown): admins must hear."""

    def __init__(self, broadcast_id: int, status: str, reason: str):
        super().__init__(broadcast_id, status, reason)
        self.broadcast_id = broadcast_id
        self.status = status
        self.reason = reason

    def __str__(self):
        return f"broadcast {self.broadcast_id} {self.status}: {self.reason}"


class BroadcastArchived(Exception):
    """The report's rows were pruned into an archive: sending again would reach parents twice."""

    def __init__(self, monthly_report_id: int):
        super().__init__(monthly_report_id)
        self.monthly_report_id = monthly_report_id

    def __str__(self):
        return f"monthly report {self.monthly_report_id} is archived and cannot be sent again"
