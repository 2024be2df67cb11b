from django.core.management.base import BaseCommand, CommandError

from broadcasts import operations
from broadcasts.models import BroadcastStatus
from broadcasts.selectors import broadcasts_without_phone
from broadcasts.services import broadcast_resend

#: Rows handed to the service per call, so the id list stays within every database's limits.
RETRY_BATCH = 1000
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
        "goes to its student's current number; a row whose student has no number now is "
        "left as it is and listed. "
        "--include-unknown also resends rows whose outcome is unknown: Fonnte may already "
        "have delivered those, so their parents may get the message twice."
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

        resent, no_phone = [], []
        for start in range(0, len(candidates), RETRY_BATCH):
            batch = candidates[start : start + RETRY_BATCH]
            if dry_run:
                skipped = set(broadcasts_without_phone(broadcast_ids=batch))
                resent += [pk for pk in batch if pk not in skipped]
                no_phone += sorted(skipped)
            else:
                outcome = broadcast_resend(broadcast_ids=batch, include_unknown=include_unknown)
                resent += outcome.resent
                no_phone += outcome.no_phone
        if not requested:
            what = "failed or unknown" if include_unknown else "failed"
            self.stdout.write(self.style.WARNING(f"No {what} messages to resend."))
            return
        self._report(resent, no_phone, candidates, found, not_resendable, missing, dry_run)

    def _report(self, resent, no_phone, candidates, found, not_resendable, missing, dry_run):
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
                    f"to its student's current number: {id_list(resent)}."
                )
            )
        else:
            self.stdout.write(self.style.WARNING("Nothing was put back to be sent."))
        if no_phone:
            kept = "Would keep" if dry_run else "Kept"
            self.stdout.write(
                self.style.WARNING(
                    f"{kept} {len(no_phone)} row(s) as they were: the student has no phone "
                    f"number now; add it in the student data, then resend: {id_list(no_phone)}."
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
        raced = len(candidates) - len(resent) - len(no_phone)
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
