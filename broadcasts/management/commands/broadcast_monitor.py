import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from broadcasts import operations
from broadcasts.services.pacing import pacing_state


def format_age(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3 h 05 min``, ``2 d 4 h``: how long something has waited."""
    seconds = int(max(seconds, 0))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


class Command(BaseCommand):
    help = (
        "Show where the WhatsApp broadcasts stand: per report (classroom · period) and over "
        "all reports, the number of rows in each status (pending, sending, retrying, sent, "
        "failed, unknown) and how long the longest-waiting row has been pending or retrying "
        "(since its last status change); then the number of messages waiting in the broker's "
        "default queue and the Celery workers that answer a ping (n/a on the embedded broker). "
        "Changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--report",
            type=int,
            metavar="ID",
            help="Show only this monthly report's rows (the all-reports line stays).",
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help="Print the same as one JSON object, for scripts and monitoring.",
        )

    def handle(self, *args, **options):
        report = options["report"]
        if report is not None and operations.report_label(monthly_report_id=report) is None:
            raise CommandError(f"There is no monthly report with id {report}.")
        now = timezone.now()
        reports = operations.broadcast_status_counts_per_report(monthly_report_id=report)
        overall = operations.broadcast_status_counts_overall()
        broker = operations.broker_status()
        pace = pacing_state(now=now)
        if options["json"]:
            self._write_json(now, reports, overall, broker, pace)
        else:
            self._write_text(now, reports, overall, broker, report)
            self._write_pace(pace)

    # --- JSON ---------------------------------------------------------------------

    def _write_json(self, now, reports, overall, broker, pace):
        data = {
            "generated_at": timezone.localtime(now).isoformat(),
            "reports": [self._counts_json(now, counts) for counts in reports],
            "overall": self._counts_json(now, overall),
            "broker": {
                "queue": broker.queue,
                "state": broker.queue_state,
                "messages": broker.queue_messages,
                "detail": broker.queue_detail,
            },
            "workers": {
                "state": broker.workers_state,
                "count": len(broker.workers) if broker.workers_state == operations.OK else None,
                "names": list(broker.workers),
                "detail": broker.workers_detail,
            },
            "pacing": {
                "sending": pace.open_now,
                "held_by": pace.waiting or None,
                "resumes_at": timezone.localtime(pace.resumes_at).isoformat()
                if pace.resumes_at
                else None,
                "per_minute": pace.per_minute,
                "daily_limit": pace.daily_limit,
                "sent_today": pace.sent_today if pace.daily_limit else None,
            },
        }
        self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False))

    @staticmethod
    def _counts_json(now, counts):
        since = counts.oldest_waiting_since
        data = {
            "report": counts.label,
            **counts.counts,
            "total": counts.total,
            "oldest_waiting_since": timezone.localtime(since).isoformat() if since else None,
            "oldest_waiting_seconds": int((now - since).total_seconds()) if since else None,
        }
        if counts.label != "all reports":
            data = {"monthly_report_id": counts.monthly_report_id, **data}
        return data

    # --- Text ---------------------------------------------------------------------

    def _write_text(self, now, reports, overall, broker, report_id):
        self.stdout.write(f"WhatsApp broadcasts at {local(now)}")
        if not reports:
            scope = f"report {report_id}" if report_id is not None else "any report"
            self.stdout.write(f"\nNo broadcast rows for {scope}.")
        for counts in reports:
            ident = (
                f" (report {counts.monthly_report_id})"
                if counts.monthly_report_id is not None
                else ""
            )
            self._write_counts(now, f"{counts.label}{ident}", counts)
        self._write_counts(now, "All reports", overall)

        self.stdout.write("")
        if broker.queue_state == operations.OK:
            line = f'Broker queue "{broker.queue}": {broker.queue_messages} message(s) waiting'
            self.stdout.write(self.style.SUCCESS(line))
        else:
            self.stdout.write(
                self.style.WARNING(
                    f'Broker queue "{broker.queue}": {broker.queue_state}: {broker.queue_detail}'
                )
            )
        if broker.workers_state == operations.OK and broker.workers:
            names = ", ".join(broker.workers)
            self.stdout.write(self.style.SUCCESS(f"Workers alive: {len(broker.workers)} ({names})"))
        elif broker.workers_state == operations.OK:
            self.stdout.write(self.style.ERROR("Workers alive: 0 (no worker answered within 1 s)"))
        else:
            self.stdout.write(
                self.style.WARNING(
                    f"Workers alive: {broker.workers_state} ({broker.workers_detail})"
                )
            )

    def _write_pace(self, pace):
        rate = f"{pace.per_minute:g} a minute" if pace.per_minute else "no pace"
        cap = f", {pace.sent_today} of {pace.daily_limit} today" if pace.daily_limit else ""
        if pace.open_now:
            self.stdout.write(self.style.SUCCESS(f"Pacing: sending ({rate}{cap})"))
            return
        until = f" until {local(pace.resumes_at)}" if pace.resumes_at else ""
        self.stdout.write(self.style.WARNING(f"Pacing: held ({pace.waiting}{until}; {rate}{cap})"))

    def _write_counts(self, now, title, counts):
        self.stdout.write(f"\n{title}")
        numbers = " · ".join(f"{status} {n}" for status, n in counts.counts.items())
        self.stdout.write(f"  {numbers} · total {counts.total}")
        since = counts.oldest_waiting_since
        if since is None:
            self.stdout.write("  Nothing waiting to be sent.")
        else:
            age = format_age((now - since).total_seconds())
            self.stdout.write(
                f"  Oldest waiting (pending or retrying): {age}, since {local(since)}"
            )
