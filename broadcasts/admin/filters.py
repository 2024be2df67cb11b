"""The broadcast list's own filters, and Fonnte's delivery states in the school's words."""

from django.conf import settings
from django.contrib import admin
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from reports.models import MonthlyReport
from students.selectors import in_visible_classrooms

from ..models import BroadcastStatus, MonthlyReportBroadcast
from ..selectors import not_opened_q
from ..services.receipts import STATE_RANKS

#: Fonnte's delivery states (services.receipts) in the school's words.
RECEIPT_LABELS = {
    "sent": _("sent"),
    "failed": _("failed"),
    "delivered": _("delivered"),
    "read": pgettext_lazy("WhatsApp receipt", "read"),
}


#: The largest id a report can have (a BigAutoField's, settings.DEFAULT_AUTO_FIELD).
MAX_ID = 2**63 - 1


def receipt_label(state: str) -> str:
    """A delivery state as the school says it; one Fonnte adds later, as Fonnte says it."""
    return str(RECEIPT_LABELS.get(state, state))


class DeliveryStateFilter(admin.SimpleListFilter):
    """Fonnte's delivery states as a fixed list.

    The field's own filter lists the values found with a SELECT DISTINCT over the whole
    table on every page load (40-60 ms at 100,000 rows, half the page); Fonnte's states
    are known (services.receipts), and any other value it reports falls under "other".
    """

    title = _("delivery state")
    parameter_name = "delivery_state"
    NONE, OTHER = "none", "other"

    def lookups(self, request, model_admin):
        return [
            *((state, RECEIPT_LABELS.get(state, state)) for state in STATE_RANKS),
            (self.NONE, _("not reported yet")),
            (self.OTHER, _("other")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.NONE:
            return queryset.filter(delivery_state="")
        if value == self.OTHER:
            return queryset.exclude(delivery_state="").exclude(delivery_state__in=STATE_RANKS)
        if value in STATE_RANKS:
            return queryset.filter(delivery_state=value)
        return queryset


class MonthlyReportFilter(admin.SimpleListFilter):
    """The reports that have rows, newest first; and the rows whose report was deleted.

    Not the field's own filter: that lists every report, each naming its classroom with
    a query of its own. Here one query, an EXISTS per report on the (report, status)
    index, whatever the number of rows. The parameter is the field filter's, so links
    such as the report page's "check the unknown ones" keep working.
    """

    title = _("monthly report")
    parameter_name = "monthly_report__id__exact"
    DELETED = "deleted"

    def lookups(self, request, model_admin):
        reports = in_visible_classrooms(
            MonthlyReport.objects.filter(
                Exists(MonthlyReportBroadcast.objects.filter(monthly_report=OuterRef("pk")))
            ),
            user=request.user,
        ).select_related("classroom")
        return [
            *((str(report.pk), str(report)) for report in reports),
            (self.DELETED, _("report deleted")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.DELETED:
            return queryset.filter(monthly_report__isnull=True)
        if not value:
            return queryset
        # ASCII digits within the ids' range: str.isdigit() also takes "²" (int() refuses it)
        # and "٣" (int() reads 3), and a longer number overflows the database's integer.
        # Anything else names no report: no rows, never a server error.
        if value.isascii() and value.isdigit() and int(value) <= MAX_ID:
            return queryset.filter(monthly_report_id=int(value))
        return queryset.none()


class FileOpenedFilter(admin.SimpleListFilter):
    """Whether the parent opened the report's file: opened, not yet opened, or no link.

    "Not yet opened" counts only messages that were sent with a link: a message still
    waiting, or one that failed, was not opened because it never arrived.
    """

    title = _("report file")
    parameter_name = "file_opened"
    OPENED, NOT_OPENED, FOLLOW_UP, NO_LINK = "opened", "not_opened", "follow_up", "no_link"

    def lookups(self, request, model_admin):
        return [
            (self.OPENED, _("opened")),
            (self.NOT_OPENED, _("not opened yet")),
            # The report page's follow-up list, whole (selectors.not_opened_q).
            (
                self.FOLLOW_UP,
                ngettext(
                    "not opened after %(days)d day",
                    "not opened after %(days)d days",
                    settings.REPORT_FOLLOW_UP_DAYS,
                )
                % {"days": settings.REPORT_FOLLOW_UP_DAYS},
            ),
            (self.NO_LINK, _("without a link")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.OPENED:
            # The report's "opened: n of m" count (Progress.opened), which links here.
            return queryset.filter(status=BroadcastStatus.SENT, opened_at__isnull=False)
        if value == self.NOT_OPENED:
            return queryset.filter(
                link_token__isnull=False, status=BroadcastStatus.SENT, opened_at__isnull=True
            )
        if value == self.FOLLOW_UP:
            return queryset.filter(not_opened_q())
        if value == self.NO_LINK:
            return queryset.filter(link_token__isnull=True)
        return queryset
