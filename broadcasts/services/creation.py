"""Creating the rows when an admin confirms, and handing them to the workers."""

import enum
import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from reports.models import MonthlyReport
from reports.selectors import students_with_file

from .. import queue
from ..exceptions import BroadcastArchived
from ..links import new_link_token, report_link_url
from ..messages import current_template, message_context, render_message, template_has_link
from ..models import (
    CLAIMABLE_STATUSES,
    BroadcastArchive,
    BroadcastStatus,
    MonthlyReportBroadcast,
)
from ..selectors import (
    NotResendable,
    broadcast_status_counts,
    report_recipients,
    same_number,
)
from .pacing import pacing_state

logger = logging.getLogger(__name__)

#: How many task messages the dispatcher publishes per database round trip.
DISPATCH_CHUNK = 1000


def _insert_batch_size() -> int | None:
    """Rows per INSERT: all at once on PostgreSQL, Django's own safe batches elsewhere."""
    # PostgreSQL inserts the whole list as one INSERT … SELECT FROM UNNEST(…) with one
    # parameter per column, so the statement count stays 1 however large the class.
    # MySQL would build one statement with every row (over max_allowed_packet for a large
    # school), and SQLite's variable limit makes Django batch anyway: keep 500 there.
    return None if connection.vendor == "postgresql" else 500


class WithoutFile(enum.StrEnum):
    """What sending does for children without a report file, when the report has files."""

    #: Message them now without a link (the old message).
    SEND = "send"
    #: No row for them now: once their file is uploaded, sending again messages them
    #: (with the link), as it makes only the rows still missing.
    WAIT = "wait"


@dataclass(frozen=True)
class BroadcastCreation:
    """What one click on "send" did for one report: counted in messages (rows), children
    and guardians left out."""

    monthly_report_id: int
    #: Rows made: one message per guardian's number.
    created: int
    already_sent: int
    under_way: int
    not_delivered: int
    #: Guardians without a number: no row, no message.
    skipped_no_phone: int
    #: Guardians whose number was checked and has no WhatsApp: no row, no message.
    skipped_not_on_whatsapp: int = 0
    #: Guardians who do not receive messages: no row.
    skipped_opted_out: int = 0
    #: Among the rows created, those whose number is invalid: they fail without a call.
    invalid_phone: int = 0
    #: Children left out until their report file is uploaded (WithoutFile.WAIT).
    waiting_for_file: int = 0
    #: The children the rows made are about.
    children: int = 0
    #: Children none of whose guardians can be messaged (and none was before).
    no_guardian: int = 0
    #: Guardians sharing a number with another guardian of the child: no second message.
    shared_number: int = 0

    @property
    def queued(self) -> int:
        """Rows created that will go to Fonnte: the guardians who will receive the message."""
        return self.created - self.invalid_phone


def broadcast_create_for_report(
    *, monthly_report, requested_by=None, without_file: WithoutFile = WithoutFile.SEND
) -> BroadcastCreation:
    """Create one pending row per guardian's number, once; hand them to workers after commit.

    Safe to run again: a guardian, or a number of a child, that already has a row for this
    report gets no second one (the unique constraints back this up when two admins click at
    once). Raises BroadcastArchived for a report whose rows were pruned. With
    ``WithoutFile.WAIT``, the children without a report file get no row yet (a report
    without any file: all do).
    """
    if BroadcastArchive.objects.filter(monthly_report=monthly_report).exists():
        raise BroadcastArchived(monthly_report.pk)
    rows, invalid, waiting, no_guardian, shared = [], set(), 0, 0, 0
    skipped = {reason: 0 for reason in NotResendable}
    template = current_template()
    # The class's files, read once: for the links, and for WAIT's students without one.
    links = _PersonalLinks(monthly_report, template)
    # Waiting for a file only makes sense when the message carries the link.
    with_file = links.with_file if without_file == WithoutFile.WAIT and links.in_message else set()
    # As the confirmation (broadcast_plan) decides: one message per guardian's number.
    for child in report_recipients(monthly_report=monthly_report):
        for left_out in child.skipped:
            skipped[left_out.reason] += 1
        no_guardian += child.unreachable
        if not child.recipients:
            continue
        student = child.student
        if with_file and student.pk not in with_file:
            waiting += 1
            continue
        shared += len(child.shared_number)
        for recipient in child.recipients:
            if not recipient.valid:
                invalid.add((student.pk, recipient.phone))
            link = links.for_student(student.pk)
            context = message_context(
                student=student,
                guardian=recipient.guardian,
                monthly_report=monthly_report,
                link_url=link.url,
            )
            rows.append(
                MonthlyReportBroadcast(
                    monthly_report=monthly_report,
                    student=student,
                    guardian=recipient.guardian,
                    phone_number=recipient.phone,
                    message=render_message(context, template),
                    requested_by=requested_by,
                    link_token=link.token,
                    link_created_at=link.created_at,
                )
            )
    with transaction.atomic():
        # Two admins confirming one report at once take turns here, so what is counted
        # before and after the insert is this click's own doing (PostgreSQL would otherwise
        # count, after, the rows the other click committed meanwhile). The report's row,
        # not the students': sending other reports is not held up.
        list(MonthlyReport.objects.select_for_update().filter(pk=monthly_report.pk).values("pk"))
        before = broadcast_status_counts(monthly_report=monthly_report)
        # Rows another click made since report_recipients read them: not ours to make or
        # count. The unique constraints would refuse them anyway (ignore_conflicts), but
        # the banner names the children and invalid numbers of this click's rows.
        rows = _not_taken(monthly_report=monthly_report, rows=rows) if before else rows
        MonthlyReportBroadcast.objects.bulk_create(
            rows, batch_size=_insert_batch_size(), ignore_conflicts=True
        )
        after = broadcast_status_counts(monthly_report=monthly_report)
        queue.dispatch_after_commit()
    created = sum(after.values()) - sum(before.values())
    logger.info(
        "Broadcast rows created for report %s: %d",
        monthly_report.pk,
        created,
        extra={"monthly_report_id": monthly_report.pk, "rows_created": created},
    )
    return BroadcastCreation(
        monthly_report_id=monthly_report.pk,
        created=created,
        already_sent=before.get(BroadcastStatus.SENT, 0),
        under_way=sum(
            before.get(s, 0)
            for s in (BroadcastStatus.PENDING, BroadcastStatus.SENDING, BroadcastStatus.RETRYING)
        ),
        not_delivered=before.get(BroadcastStatus.FAILED, 0)
        + before.get(BroadcastStatus.UNKNOWN, 0),
        skipped_no_phone=skipped[NotResendable.NO_PHONE],
        skipped_not_on_whatsapp=skipped[NotResendable.NOT_ON_WHATSAPP],
        skipped_opted_out=skipped[NotResendable.OPTED_OUT],
        invalid_phone=sum((row.student_id, row.phone_number) in invalid for row in rows),
        waiting_for_file=waiting,
        children=len({row.student_id for row in rows}),
        no_guardian=no_guardian,
        shared_number=shared,
    )


@dataclass(frozen=True)
class _Link:
    token: str | None = None
    url: str = ""
    created_at: datetime | None = None


class _PersonalLinks:
    """Each row's personal link (broadcasts.links): only for a child with a report file.

    The children with a file are read once for the whole class. A child without one gets
    no link, and the message leaves the link line out (messages.render_message). Nor does
    any child when the template has no {tautan_laporan}: the message would not carry it,
    and a row would count a link nobody received as "not opened".
    """

    def __init__(self, monthly_report, template):
        self.with_file = students_with_file(monthly_report=monthly_report)
        self.in_message = template_has_link(template)
        self.now = timezone.now()

    def for_student(self, student_id) -> _Link:
        if not self.in_message or student_id not in self.with_file:
            return _Link()
        token = new_link_token()
        return _Link(token=token, url=report_link_url(token), created_at=self.now)


def _not_taken(*, monthly_report, rows) -> list[MonthlyReportBroadcast]:
    """The rows whose (child, number) and guardian have no row for the report yet. One query."""
    pairs, guardians = set(), set()
    for student_id, phone, guardian_id in MonthlyReportBroadcast.objects.filter(
        monthly_report=monthly_report
    ).values_list("student_id", "phone_number", "guardian_id"):
        pairs.add((student_id, same_number(phone)))
        guardians.add(guardian_id)
    return [
        row
        for row in rows
        if (row.student_id, same_number(row.phone_number)) not in pairs
        and row.guardian_id not in guardians
    ]


def broadcast_dispatch_pending() -> int:
    """Publish one send task per waiting row not handed to the workers yet; return how many.

    Waiting: pending, or parked by pacing (services.pacing) and due again.

    Runs in a worker (tasks.dispatch_pending_broadcasts), so the admin's click costs
    one broker message however large the class. A row is stamped ``enqueued_at``
    after its task is published; a dispatcher that dies half-way leaves the rest
    unstamped for the next run. Two dispatchers racing publish a row twice at worst,
    and the claim in broadcast_send makes the second task a no-op.
    """
    state = pacing_state()
    if not state.open_now:
        # Quiet hours, the daily cap or a disconnected device: the rows stay waiting,
        # unstamped; the recovery sweep (every minute) or the connect webhook calls again.
        logger.info("Dispatch held back: %s", state.waiting)
        return 0
    published = 0
    while True:
        chunk = list(
            MonthlyReportBroadcast.objects.filter(
                Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now()),
                status__in=CLAIMABLE_STATUSES,
                enqueued_at__isnull=True,
            )
            .order_by("pk")
            .values_list("pk", "monthly_report_id")[:DISPATCH_CHUNK]
        )
        if not chunk:
            return published
        queue.publish_sends(chunk)
        MonthlyReportBroadcast.objects.filter(
            pk__in=[pk for pk, _ in chunk], enqueued_at__isnull=True
        ).update(enqueued_at=timezone.now())
        published += len(chunk)
        logger.info("Dispatched %d broadcast tasks", len(chunk), extra={"count": len(chunk)})
