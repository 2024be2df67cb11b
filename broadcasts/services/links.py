"""Revoking parents' personal links ("Cabut tautan"): per row, or every link of a report."""

import logging

from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy, ngettext

from tkassalam.language import school_language

from ..links import live_link_q
from ..models import MonthlyReportBroadcast

logger = logging.getLogger(__name__)


def links_revoke(*, user, queryset=None, monthly_report=None) -> int:
    """Stop the live links of these rows (or of every row of ``monthly_report``); how many.

    Guarded: only rows with a link not revoked yet change, so a second click, or two
    admins at once, revoke and record each link once. Each revoked row's history names
    who revoked it; a report's revocation is also in the report's history.
    """
    if (queryset is None) == (monthly_report is None):
        raise TypeError("links_revoke() takes either queryset or monthly_report")
    rows = (
        MonthlyReportBroadcast.objects.filter(monthly_report=monthly_report)
        if monthly_report is not None
        else MonthlyReportBroadcast.objects.filter(pk__in=queryset.values("pk"))
    )
    # The moment is this call's mark: the rows carrying it are the ones it revoked (not
    # those another admin revoked meanwhile), and only they go to the history. An
    # expired link stops working by itself: left as it is.
    now = timezone.now()
    live = live_link_q(now)
    ids = list(rows.filter(live).values_list("pk", flat=True))
    if not ids:
        return 0
    with transaction.atomic():
        revoked = MonthlyReportBroadcast.objects.filter(live, pk__in=ids).update(
            link_revoked_at=now
        )
        if not revoked:
            return 0
        ours = MonthlyReportBroadcast.objects.filter(
            pk__in=ids, link_revoked_at=now
        ).select_related("student", "monthly_report__classroom")
        with school_language():
            LogEntry.objects.log_actions(user.pk, ours, CHANGE, change_message=str(_REVOKED))
            if monthly_report is not None:
                LogEntry.objects.log_actions(
                    user.pk, [monthly_report], CHANGE, change_message=_report_revoked(revoked)
                )
    logger.info(
        "Personal links revoked: %d",
        revoked,
        extra={"monthly_report_id": getattr(monthly_report, "pk", None), "revoked": revoked},
    )
    return revoked


_REVOKED = gettext_lazy("Link to the report revoked.")


def _report_revoked(count: int) -> str:
    return ngettext(
        "Links to the report revoked: %(n)d link stopped working.",
        "Links to the report revoked: %(n)d links stopped working.",
        count,
    ) % {"n": count}
