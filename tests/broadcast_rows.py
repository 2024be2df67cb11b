"""Broadcast rows for tests, each for a guardian as a send makes them."""

from broadcasts.models import MonthlyReportBroadcast


def guardian_row(**fields) -> MonthlyReportBroadcast:
    """A row; its guardian is the student's first one unless ``guardian`` is given."""
    if "guardian" not in fields:
        fields["guardian"] = fields["student"].guardians.first()
    return MonthlyReportBroadcast.objects.create(**fields)
