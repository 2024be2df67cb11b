"""Putting rows back to be sent: the admins' one-click repair."""

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext

from students.models import Guardian
from tkassalam.language import school_language

from .. import queue
from ..links import new_link_token
from ..models import BroadcastStatus, MonthlyReportBroadcast
from ..selectors import (
    NUMBER_TAKEN,
    NotResendable,
    not_resendable_reason,
    resend_numbers_taken,
    resendable,
    row_phone,
)

logger = logging.getLogger(__name__)

#: Ids per ``pk__in`` statement, so the id list stays within every database's limits
#: (SQLite's 32,766 variables): an admin action may pass every row it selected.
RETRY_BATCH = 1000


def id_batches(ids) -> Iterator[list]:
    """``ids`` in lists of at most RETRY_BATCH, in their order."""
    ids = list(ids)
    for start in range(0, len(ids), RETRY_BATCH):
        yield ids[start : start + RETRY_BATCH]


@dataclass(frozen=True)
class Resend:
    """What one resend changed, or left as it was: exactly these rows, by id."""

    #: Put back to be sent with fresh attempts, to the guardian's current number.
    resent: tuple[int, ...] = ()
    #: Among ``resent``, those whose number is invalid: they fail again without a call.
    invalid_phone: tuple[int, ...] = ()
    #: Left failed (or unknown), error kept: the guardian has no phone number now.
    no_phone: tuple[int, ...] = ()
    #: Left failed (or unknown), error kept: the number was checked and has no WhatsApp.
    not_on_whatsapp: tuple[int, ...] = ()
    #: Left failed (or unknown), error kept: the report was deleted, nothing to send about.
    report_deleted: tuple[int, ...] = ()
    #: Left failed (or unknown), error kept: the guardian was removed from the student.
    guardian_removed: tuple[int, ...] = ()
    #: Left failed (or unknown), error kept: the guardian no longer receives messages.
    opted_out: tuple[int, ...] = ()
    #: Left failed (or unknown), error kept: the guardian's number now is one another
    #: message about the same child's report already went (or goes) to: never twice.
    number_taken: tuple[int, ...] = ()

    @property
    def to_fonnte(self) -> tuple[int, ...]:
        """The rows put back whose messages go to Fonnte again."""
        invalid = set(self.invalid_phone)
        return tuple(pk for pk in self.resent if pk not in invalid)

    @property
    def not_resent(self) -> tuple[int, ...]:
        """The rows of the asked statuses left as they were, whatever the reason."""
        return (
            self.no_phone
            + self.not_on_whatsapp
            + self.report_deleted
            + self.guardian_removed
            + self.opted_out
            + self.number_taken
        )


def broadcast_resend(*, broadcast_ids, include_unknown: bool = False, requested_by=None) -> Resend:
    """Put failed rows (and, when asked, unknown ones) back to be sent with fresh attempts.

    Never touches a sent row. Each row takes its guardian's current number, as row
    creation stores it, so a number corrected in the student data is the one used. A row
    creation would not make now (the guardian was removed, opted out, has no number, or one
    not on WhatsApp), whose report was deleted, or whose new number another row of the same
    (report, child) has (NUMBER_TAKEN: never twice to one number) is left exactly as it
    was, its error kept: the caller says why (selectors.NotResendable). With
    ``requested_by``, each row's history (Django's admin log) records who resent it, or
    that it was not resent and why.
    """
    statuses = [BroadcastStatus.FAILED]
    if include_unknown:
        statuses.append(BroadcastStatus.UNKNOWN)
    selected = MonthlyReportBroadcast.objects.filter(pk__in=broadcast_ids, status__in=statuses)
    now = timezone.now()
    with transaction.atomic():
        # Each row's new number, read under the rows' lock, as creation stores it; a row
        # whose new number another row of its child has for the report is left as it is.
        numbers, candidates = {}, []
        for pk, report_id, student_id, phone_now, raw in (
            selected.filter(resendable())
            .annotate(
                guardian_phone=Subquery(
                    Guardian.objects.filter(pk=OuterRef("guardian_id")).values("phone")[:1]
                )
            )
            .order_by("pk")
            .select_for_update()
            .values_list("pk", "monthly_report_id", "student_id", "phone_number", "guardian_phone")
        ):
            numbers[pk] = row_phone(raw)
            candidates.append((pk, report_id, student_id, phone_now, numbers[pk][0]))
        taken = resend_numbers_taken(candidates, batch_size=RETRY_BATCH)
        resent = []
        for batch in id_batches(pk for pk, *_ in candidates if pk not in taken):
            resent += _update_returning(
                MonthlyReportBroadcast.objects.filter(pk__in=batch).filter(resendable()),
                statuses=statuses,
                status=BroadcastStatus.PENDING,
                retry_count=0,
                error_message="",
                enqueued_at=None,
                next_attempt_at=None,
                failure_alerted_at=None,
                updated_at=now,
            )
        # The rows are ours (locked) until commit, and no worker is told of them before.
        # No new number is one a row of the child holds (resend_numbers_taken): the
        # database's one row per (report, child, number) holds after each row's update.
        renumbered, invalid = [], []
        for pk, phone_now in resent:
            phone, valid = numbers[pk]
            if not valid:
                invalid.append(pk)
            if phone != phone_now:
                renumbered.append(MonthlyReportBroadcast(pk=pk, phone_number=phone))
        MonthlyReportBroadcast.objects.bulk_update(
            renumbered, ["phone_number"], batch_size=RETRY_BATCH
        )
        _renew_links([pk for pk, _ in resent], now=now)
        # Read, not written: their error still says why they failed (or that Fonnte never
        # answered); why they were not resent is the caller's message and the history's.
        kept = {reason: [] for reason in NotResendable}
        kept[NUMBER_TAKEN] = sorted(taken)
        for pk, reason in (
            selected.annotate(reason=not_resendable_reason())
            .filter(reason__isnull=False)
            .order_by("pk")
            .values_list("pk", "reason")
        ):
            kept[reason].append(pk)
        resent_ids = tuple(pk for pk, _ in resent)
        if requested_by is not None:
            with school_language():
                notes = {
                    None: gettext("Resent with fresh attempts."),
                    NotResendable.NO_PHONE: gettext(
                        "Not resent: the guardian has no phone number."
                    ),
                    NotResendable.GUARDIAN_REMOVED: gettext(
                        "Not resent: the guardian was removed from the student."
                    ),
                    NotResendable.OPTED_OUT: gettext(
                        "Not resent: the guardian does not receive messages."
                    ),
                    NotResendable.NOT_ON_WHATSAPP: gettext(
                        "Not resent: the number is not on WhatsApp."
                    ),
                    NotResendable.REPORT_DELETED: gettext("Not resent: the report was deleted."),
                    NUMBER_TAKEN: gettext(
                        "Not resent: this number already has a message about this child."
                    ),
                }
            _log(requested_by, resent_ids, notes[None])
            for reason, ids in kept.items():
                _log(requested_by, ids, notes[reason])
        if resent_ids:
            queue.dispatch_after_commit()
    outcome = Resend(
        resent=resent_ids,
        invalid_phone=tuple(invalid),
        no_phone=tuple(kept[NotResendable.NO_PHONE]),
        not_on_whatsapp=tuple(kept[NotResendable.NOT_ON_WHATSAPP]),
        report_deleted=tuple(kept[NotResendable.REPORT_DELETED]),
        guardian_removed=tuple(kept[NotResendable.GUARDIAN_REMOVED]),
        opted_out=tuple(kept[NotResendable.OPTED_OUT]),
        number_taken=tuple(kept[NUMBER_TAKEN]),
    )
    logger.info(
        "%d broadcasts put back to be sent (%d with an invalid number); left as they were: "
        "%d without a phone number, %d not on WhatsApp, %d of a deleted report, %d of a "
        "removed guardian, %d opted out, %d whose number has the child's message already",
        len(outcome.resent),
        len(outcome.invalid_phone),
        len(outcome.no_phone),
        len(outcome.not_on_whatsapp),
        len(outcome.report_deleted),
        len(outcome.guardian_removed),
        len(outcome.opted_out),
        len(outcome.number_taken),
        extra={
            "guardian_removed": len(outcome.guardian_removed),
            "opted_out": len(outcome.opted_out),
            "number_taken": len(outcome.number_taken),
            "count": len(outcome.resent),
            "invalid_phone": len(outcome.invalid_phone),
            "no_phone": len(outcome.no_phone),
            "not_on_whatsapp": len(outcome.not_on_whatsapp),
            "report_deleted": len(outcome.report_deleted),
        },
    )
    return outcome


def _renew_links(ids, *, now) -> None:
    """Each resent row with a link gets a new one, in its message too; the old link dies.

    The message is the one the admin confirmed, with the new token in place of the old
    one. A row without a link keeps its message as it was, even if the child has a file
    now: a resend repeats the message that failed. The rows are ours (locked) until commit.
    """
    renewed = []
    for batch in id_batches(ids):
        for pk, old, message in MonthlyReportBroadcast.objects.filter(
            pk__in=batch, link_token__isnull=False
        ).values_list("pk", "link_token", "message"):
            new = new_link_token()
            renewed.append(
                MonthlyReportBroadcast(
                    pk=pk,
                    link_token=new,
                    link_created_at=now,
                    link_revoked_at=None,
                    message=message.replace(old, new),
                )
            )
    MonthlyReportBroadcast.objects.bulk_update(
        renewed,
        ["link_token", "link_created_at", "link_revoked_at", "message"],
        batch_size=RETRY_BATCH,
    )


def _update_returning(rows, *, statuses, **values) -> list[tuple[int, str]]:
    """Update ``rows`` (of ``statuses``); return ``(id, phone_number)`` of the rows updated."""
    returned = rows.update_returning({"id": "id", "phone": "phone_number"}, **values)
    if returned is not None:
        return [(row["id"], row["phone"]) for row in returned]
    # MySQL/MariaDB: no UPDATE … RETURNING. Lock the rows first, so that no worker or admin
    # changes them between the read and the update: the ids read are the ids updated. The
    # update is guarded all the same, as every status change is (services/__init__.py).
    returned = []
    for ids in id_batches(rows.select_for_update().values_list("pk", flat=True)):
        updated = MonthlyReportBroadcast.objects.filter(pk__in=ids, status__in=statuses)
        changed = updated.update(**values)
        read_back = MonthlyReportBroadcast.objects.filter(pk__in=ids)
        if changed != len(ids):
            # Not under the lock after all: only the rows now as this update left them.
            read_back = read_back.filter(status=values["status"], updated_at=values["updated_at"])
        returned += read_back.order_by("pk").values_list("pk", "phone_number")
    return returned


def _log(user, ids, message):
    for batch in id_batches(ids):
        LogEntry.objects.log_actions(
            user.pk,
            # object_repr is str(row): the student and the report, read with the rows.
            MonthlyReportBroadcast.objects.filter(pk__in=batch).select_related(
                "student", "monthly_report__classroom"
            ),
            CHANGE,
            change_message=message,
        )
