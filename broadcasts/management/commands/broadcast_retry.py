import logging

from django.core.management.base import BaseCommand, CommandError

from broadcasts import operations
from broadcasts.models import BroadcastStatus
from broadcasts.selectors import (
    INVALID_PHONE,
    NUMBER_TAKEN,
    NotResendable,
    broadcasts_resend_problems,
)
from broadcasts.services import broadcast_resend
from broadcasts.services.repair import id_batches

logger = logging.getLogger(__name__)

#: Up to this many ids are spelled out in the output.
MAX_LISTED = 20


def id_list(ids) -> str:
    ids = sorted(ids)
    text = ", ".join(f"#{pk}" for pk in ids[:MAX_LISTED])
    return text + (f" and {len(ids) - MAX_LISTED} more" if len(ids) > MAX_LISTED else "")


class Command(BaseCommand):
    help = (
        "Send failed WhatsApp messages again: the rows go back to pending with fresh "
        "attempts and the workers pick them up. Choose exactly one of: row ids, --all (every "
        "failed row) or --report ID (that report's failed rows). A sent row is never sent "
        "again; ids that are not failed, or do not exist, are skipped and counted. Each row "
        "goes to its guardian's current number. Left as they are, and listed: rows whose "
        "guardian was removed, no longer receives messages or has no number now, whose "
        "number is not on WhatsApp, whose guardian's number now has the child's message "
        "already (never twice to one number about one child), or whose report was deleted. "
        "--include-unknown also resends rows whose outcome is unknown: Fonnte may already "
        "have delivered those, so their parents may get the message twice. "
        "A resend from the terminal is recorded in the log (logger "
        f"{__name__}: the ids put back and kept), not in the rows' Riwayat (history), "
        "which records resends from the admin."
    )

    def add_arguments(self, parser):
        parser.add_argument("ids", nargs="*", type=int, metavar="ID", help="Row ids to resend.")
        parser.add_argument(
            "--all", action="store_true", dest="all_rows", help="Resend every failed row."
        )
        parser.add_argument(
            "--report", type=int, metavar="ID", help="Resend this monthly report's failed rows."
        )
        parser.add_argument(
            "--include-unknown",
            action="store_true",
            help=(
                "Also resend rows whose outcome is unknown. WARNING: Fonnte may already have "
                "delivered them, so those parents may get the message twice; check the "
                "Fonnte dashboard or ask the parents first."
            ),
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Show what would be resent and change nothing.",
        )

    def handle(self, *args, **options):
        ids, all_rows, report = options["ids"], options["all_rows"], options["report"]
        include_unknown, dry_run = options["include_unknown"], options["dry_run"]
        chosen = sum([bool(ids), all_rows, report is not None])
        if chosen != 1:
            raise CommandError(
                "Choose exactly one of: row ids, --all, or --report ID "
                f"({'none' if chosen == 0 else 'more than one'} given)."
            )
        if report is not None and operations.report_label(monthly_report_id=report) is None:
            raise CommandError(f"There is no monthly report with id {report}.")

        resendable = {BroadcastStatus.FAILED.value}
        if include_unknown:
            resendable.add(BroadcastStatus.UNKNOWN.value)
        if ids:
            requested = list(dict.fromkeys(ids))
            found = operations.broadcast_statuses(broadcast_ids=requested)
        else:
            found = operations.broadcast_resendable(
                monthly_report_id=report, include_unknown=include_unknown
            )
            requested = list(found)
        candidates = [pk for pk in requested if found.get(pk) in resendable]
        missing = [pk for pk in requested if pk not in found]
        not_resendable = {
            pk: found[pk] for pk in requested if pk in found and found[pk] not in resendable
        }

        resent, invalid = [], []
        kept = {reason: [] for reason in _KEPT}
        # Rows handed to the service per call, so the id list stays within every database's
        # limits (the service's own statements are batched alike).
        for batch in id_batches(candidates):
            if dry_run:
                # The rows as the real run would classify them, invalid numbers included.
                problems = broadcasts_resend_problems(broadcast_ids=batch)
                for pk in batch:
                    problem = problems.get(pk)
                    if problem in kept:
                        kept[problem].append(pk)
                        continue
                    resent.append(pk)
                    if problem == INVALID_PHONE:
                        invalid.append(pk)
            else:
                outcome = broadcast_resend(broadcast_ids=batch, include_unknown=include_unknown)
                resent += outcome.resent
                invalid += outcome.invalid_phone
                for reason, ids in _kept(outcome).items():
                    kept[reason] += ids
                _log_batch(outcome, include_unknown=include_unknown)
        if not requested:
            what = "failed or unknown" if include_unknown else "failed"
            self.stdout.write(self.style.WARNING(f"No {what} messages to resend."))
            return
        self._report(resent, invalid, kept, candidates, found, not_resendable, missing, dry_run)

    def _report(self, resent, invalid, kept, candidates, found, not_resendable, missing, dry_run):
        unknown = [pk for pk in resent if found[pk] == BroadcastStatus.UNKNOWN]
        if dry_run:
            if resent:
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Dry run: would put back {len(resent)} message(s) to be sent: "
                        f"{id_list(resent)}. Nothing changed."
                    )
                )
            else:
                self.stdout.write(self.style.WARNING("Dry run: nothing would be resent."))
        elif resent:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Put back {len(resent)} message(s) to be sent with fresh attempts, each "
                    f"to its guardian's current number: {id_list(resent)}."
                )
            )
        else:
            self.stdout.write(self.style.WARNING("Nothing was put back to be sent."))
        if invalid:
            self.stdout.write(
                self.style.WARNING(
                    f"{len(invalid)} of them {'would' if dry_run else 'will'} fail again at "
                    "once, without being sent: the number is not a valid Indonesian mobile "
                    f"number; fix the guardian's number in the student data, then resend: "
                    f"{id_list(invalid)}."
                )
            )
        why = {
            NotResendable.REPORT_DELETED: "their monthly report was deleted; they cannot be resent",
            NotResendable.GUARDIAN_REMOVED: "the guardian was removed from the student data; "
            "they cannot be resent",
            NotResendable.OPTED_OUT: "the guardian does not receive messages (opted out in "
            "the student data)",
            NotResendable.NO_PHONE: "the guardian has no phone number now; add it in the "
            "student data, then resend",
            NotResendable.NOT_ON_WHATSAPP: "the number is not on WhatsApp (checked with "
            "Fonnte); correct it in the student data, then resend",
            NUMBER_TAKEN: "the guardian's number now is one another message about the same "
            "child's report already went to (never twice to one number about one child)",
        }
        for reason, ids in kept.items():
            if ids:
                verb = "Would keep" if dry_run else "Kept"
                self.stdout.write(
                    self.style.WARNING(
                        f"{verb} {len(ids)} row(s) as they were: {why[reason]}: {id_list(ids)}."
                    )
                )
        if unknown:
            self.stdout.write(
                self.style.WARNING(
                    f"{len(unknown)} of them had an unknown outcome: those parents may get "
                    "the message twice."
                )
            )
        # Rows that changed status between the read and the update (a worker or an
        # admin got there first) were skipped by the service's guarded update.
        raced = len(candidates) - len(resent) - sum(len(ids) for ids in kept.values())
        if raced > 0:
            self.stdout.write(
                self.style.WARNING(
                    f"Skipped {raced} row(s) whose status changed meanwhile (resent or "
                    "handled by someone else)."
                )
            )
        if not_resendable:
            listed = list(not_resendable.items())[:MAX_LISTED]
            by_status = ", ".join(f"#{pk} ({status})" for pk, status in listed)
            if len(not_resendable) > MAX_LISTED:
                by_status += f" and {len(not_resendable) - MAX_LISTED} more"
            hint = ""
            if BroadcastStatus.UNKNOWN in not_resendable.values():
                hint = "; unknown rows are resent only with --include-unknown"
            self.stdout.write(
                self.style.WARNING(
                    f"Skipped {len(not_resendable)} id(s) that are not failed: {by_status}{hint}."
                )
            )
        if missing:
            self.stdout.write(
                self.style.WARNING(
                    f"Skipped {len(missing)} id(s) that do not exist: {id_list(missing)}."
                )
            )
        if candidates and not dry_run:
            self.stdout.write(
                f"This resend from the terminal is recorded in the log ({__name__}), "
                "not in the rows' Riwayat (history)."
            )


def _log_batch(outcome, *, include_unknown):
    """Record one batch's resend: a terminal resend has no user for the rows' history."""
    kept = _kept(outcome)
    logger.info(
        "broadcast_retry: put back %d row(s) to be sent: %s (invalid number, failing again: "
        "%s); kept as they were: %s",
        len(outcome.resent),
        _ids(outcome.resent),
        _ids(outcome.invalid_phone),
        "; ".join(f"{reason} {_ids(ids)}" for reason, ids in kept.items() if ids) or "-",
        extra={
            "broadcast_ids_resent": sorted(outcome.resent),
            "broadcast_ids_invalid_phone": sorted(outcome.invalid_phone),
            "broadcast_ids_kept": {str(reason): sorted(ids) for reason, ids in kept.items()},
            "include_unknown": include_unknown,
        },
    )


#: Why a row is left as it was, as the output lists them, in this order.
_KEPT = (*NotResendable, NUMBER_TAKEN)


def _kept(outcome) -> dict:
    """A resend's rows left as they were (services.Resend), by reason."""
    return {
        NotResendable.REPORT_DELETED: outcome.report_deleted,
        NotResendable.GUARDIAN_REMOVED: outcome.guardian_removed,
        NotResendable.OPTED_OUT: outcome.opted_out,
        NotResendable.NO_PHONE: outcome.no_phone,
        NotResendable.NOT_ON_WHATSAPP: outcome.not_on_whatsapp,
        NUMBER_TAKEN: outcome.number_taken,
    }


def _ids(ids) -> str:
    return ", ".join(f"#{pk}" for pk in sorted(ids)) or "-"
