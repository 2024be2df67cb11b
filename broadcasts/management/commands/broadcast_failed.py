from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from broadcasts import operations
from students.phones import mask_phone

#: Up to this many ids are spelled out in the broadcast_retry hint.
HINT_MAX_IDS = 20


class Command(BaseCommand):
    help = (
        "List the WhatsApp messages that failed, most recently updated first: row id, "
        "student and NIS, the guardian it was for with their relation (e.g. 'Siti (ibu)', "
        "in the school's language), masked phone number, reason, attempts made and last update "
        "(local time). With --include-unknown, also the rows whose outcome is unknown "
        "(sent, but Fonnte never answered). Changes nothing; resend with broadcast_retry."
    )

    def add_arguments(self, parser):
        parser.add_argument("--report", type=int, metavar="ID", help="Only this monthly report.")
        parser.add_argument(
            "--limit",
            type=int,
            default=50,
            metavar="N",
            help="List at most N rows (default 50); the total is always counted.",
        )
        parser.add_argument(
            "--include-unknown",
            action="store_true",
            help="Also list rows whose outcome is unknown (the parent may have the message).",
        )

    def handle(self, *args, **options):
        report, limit = options["report"], options["limit"]
        include_unknown = options["include_unknown"]
        if limit < 1:
            raise CommandError("--limit must be at least 1.")
        if report is not None and operations.report_label(monthly_report_id=report) is None:
            raise CommandError(f"There is no monthly report with id {report}.")
        rows, total = operations.broadcast_list_failed(
            monthly_report_id=report, include_unknown=include_unknown, limit=limit
        )
        what = "failed or unknown" if include_unknown else "failed"
        if not rows:
            self.stdout.write(self.style.SUCCESS(f"No {what} messages."))
            return

        for row in rows:
            report_text = str(row.monthly_report) if row.monthly_report else "deleted report"
            updated = timezone.localtime(row.updated_at).strftime("%Y-%m-%d %H:%M %Z")
            guardian = str(row.guardian) if row.guardian else "guardian removed"
            self.stdout.write(
                f"#{row.pk}  {row.student.full_name} (NIS {row.student.nis})  "
                f"to {guardian}  {mask_phone(row.phone_number)}  {row.status}  "
                f"attempts {row.retry_count}  updated {updated}"
            )
            self.stdout.write(f"    report: {report_text}")
            self.stdout.write(f"    reason: {row.error_message or '(none recorded)'}")

        shown = f"showing the {len(rows)} most recently updated" if total > len(rows) else "all"
        self.stdout.write("")
        self.stdout.write(self.style.WARNING(f"{total} {what} message(s) ({shown})."))
        self._write_hint(rows, total, report, include_unknown)

    def _write_hint(self, rows, total, report, include_unknown):
        flag = " --include-unknown" if include_unknown else ""
        if total <= HINT_MAX_IDS and len(rows) == total:
            target = " ".join(str(row.pk) for row in sorted(rows, key=lambda row: row.pk))
        elif report is not None:
            target = f"--report {report}"
        else:
            target = "--all"
        self.stdout.write(
            f"To send them again: python manage.py broadcast_retry {target}{flag}  "
            "(add --dry-run to see first)."
        )
        if include_unknown:
            self.stdout.write(
                self.style.WARNING(
                    "Unknown rows may already have reached the parent: check the Fonnte "
                    "dashboard or ask the parent before resending them."
                )
            )
