from django.core.management.base import BaseCommand, CommandError

from broadcasts import operations
from broadcasts.models import BroadcastStatus
from broadcasts.services import broadcast_retry

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
        "again; ids that are not failed, or do not exist, are skipped and counted. "
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

        if dry_run:
            put_back = len(candidates)
        else:
            put_back = sum(
                broadcast_retry(
                    broadcast_ids=candidates[start : start + RETRY_BATCH],
                    include_unknown=include_unknown,
                )
                for start in range(0, len(candidates), RETRY_BATCH)
            )
        if not requested:
            what = "failed or unknown" if include_unknown else "failed"
            self.stdout.write(self.style.WARNING(f"No {what} messages to resend."))
            return
        self._report(put_back, candidates, found, not_resendable, missing, dry_run)

    def _report(self, put_back, candidates, found, not_resendable, missing, dry_run):
        unknown = [pk for pk in candidates if found[pk] == BroadcastStatus.UNKNOWN]
        if dry_run:
            if candidates:
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Dry run: would put back {put_back} message(s) to be sent: "
                        f"{id_list(candidates)}. Nothing changed."
                    )
                )
            else:
                self.stdout.write(self.style.WARNING("Dry run: nothing would be resent."))
        elif put_back:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Put back {put_back} message(s) to be sent with fresh attempts: "
                    f"{id_list(candidates)}."
                )
            )
        else:
            self.stdout.write(self.style.WARNING("Nothing was put back to be sent."))
        if unknown:
            self.stdout.write(
                self.style.WARNING(
                    f"{len(unknown)} of them had an unknown outcome: those parents may get "
                    "the message twice."
                )
            )
        # Rows that changed status between the read and the update (a worker or an
        # admin got there first) were skipped by the service's guarded update.
        raced = len(candidates) - put_back
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
