"""Putting rows back to be sent: the admins' one-click repair."""

import logging
from dataclasses import dataclass

from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext

from students.models import Student
from tkassalam.language import school_language

from .. import queue
from ..models import BroadcastStatus, MonthlyReportBroadcast
from ..selectors import student_has_phone
from .creation import row_phone

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resend:
    """What one resend changed: exactly these rows, by id."""

    #: Put back to be sent with fresh attempts, to the student's current number.
    resent: tuple[int, ...] = ()
    #: Left failed (or unknown): the student has no phone number now.
    no_phone: tuple[int, ...] = ()


def broadcast_resend(*, broadcast_ids, include_unknown: bool = False, requested_by=None) -> Resend:
    """Put failed rows (and, when asked, unknown ones) back to be sent with fresh attempts.

    Never touches a sent row. Each row takes its student's current number, as row
    creation stores it, so a number corrected in the student data is the one used. A row
    whose student has no number now stays as it was, its error saying so. With
    ``requested_by``, each changed row's history (Django's admin log) records who did it.
    """
    statuses = [BroadcastStatus.FAILED]
    if include_unknown:
        statuses.append(BroadcastStatus.UNKNOWN)
    selected = MonthlyReportBroadcast.objects.filter(pk__in=broadcast_ids, status__in=statuses)
    now = timezone.now()
    with transaction.atomic():
        resent = _update_returning(
            selected.filter(student_has_phone()),
            status=BroadcastStatus.PENDING,
            phone_number=Subquery(
                Student.objects.filter(pk=OuterRef("student_id")).values("parent_phone")[:1]
            ),
            retry_count=0,
            error_message="",
            enqueued_at=None,
            next_attempt_at=None,
            failure_alerted_at=None,
            updated_at=now,
        )
        # The number was copied as the student has it; store it as creation does. The rows
        # are ours (locked) until commit, and no worker is told of them before.
        renumbered = [
            MonthlyReportBroadcast(pk=pk, phone_number=phone)
            for pk, raw in resent
            if (phone := row_phone(raw)[0]) != raw
        ]
        MonthlyReportBroadcast.objects.bulk_update(renumbered, ["phone_number"])
        with school_language():
            no_phone_reason = gettext(
                "No phone number: add the parent's number in the student data, then resend."
            )
            resent_note = gettext("Resent with fresh attempts.")
            no_phone_note = gettext("Not resent: the student has no phone number.")
        no_phone = _update_returning(
            selected.filter(~student_has_phone()), error_message=no_phone_reason, updated_at=now
        )
        resent_ids = tuple(pk for pk, _ in resent)
        no_phone_ids = tuple(pk for pk, _ in no_phone)
        if requested_by is not None:
            _log(requested_by, resent_ids, resent_note)
            _log(requested_by, no_phone_ids, no_phone_note)
        if resent_ids:
            queue.dispatch_after_commit()
    logger.info(
        "%d broadcasts put back to be sent, %d left without a phone number",
        len(resent_ids),
        len(no_phone_ids),
        extra={"count": len(resent_ids), "no_phone": len(no_phone_ids)},
    )
    return Resend(resent=resent_ids, no_phone=no_phone_ids)


def broadcast_retry(*, broadcast_ids, include_unknown: bool = False) -> int:
    """broadcast_resend without an author, counted: how many rows will be sent again."""
    return len(
        broadcast_resend(broadcast_ids=broadcast_ids, include_unknown=include_unknown).resent
    )


def _update_returning(rows, **values) -> list[tuple[int, str]]:
    """Update ``rows``; return ``(id, phone_number)`` of exactly the rows updated."""
    returned = rows.update_returning({"id": "id", "phone": "phone_number"}, **values)
    if returned is not None:
        return [(row["id"], row["phone"]) for row in returned]
    # MySQL/MariaDB: no UPDATE … RETURNING. Lock the rows first, so that no worker or admin
    # changes them between the read and the update: the ids read are the ids updated.
    ids = list(rows.select_for_update().values_list("pk", flat=True))
    if not ids:
        return []
    MonthlyReportBroadcast.objects.filter(pk__in=ids).update(**values)
    return list(MonthlyReportBroadcast.objects.filter(pk__in=ids).values_list("pk", "phone_number"))


def _log(user, ids, message):
    if ids:
        LogEntry.objects.log_actions(
            user.pk,
            # object_repr is str(row): the student and the report, read with the rows.
            MonthlyReportBroadcast.objects.filter(pk__in=ids).select_related(
                "student", "monthly_report__classroom"
            ),
            CHANGE,
            change_message=message,
        )
