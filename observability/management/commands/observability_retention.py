from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from observability import conf, services


class Command(BaseCommand):
    help = (
        "Delete raw executions older than CRUCIBLE_OBS_RETENTION_DAYS (or --days) days, and span payloads "
        "older than CRUCIBLE_TRACE_PAYLOAD_RETENTION_DAYS (or --payload-days). Rollups stay, so "
        "dashboards keep their history. Run it daily (cron, systemd timer)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help=f"Default: {conf.RETENTION_DAYS}.")
        parser.add_argument(
            "--payload-days",
            type=int,
            default=None,
            help=f"Span inputs and outputs; default: CRUCIBLE_TRACE_PAYLOAD_RETENTION_DAYS ({conf.TRACE_PAYLOAD_RETENTION_DAYS}).",
        )

    def handle(self, *args, days, payload_days, **options):
        try:
            deleted = services.executions_purge(days=days)
            payloads = services.payloads_purge(days=payload_days)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Deleted {deleted} raw executions older than {days or conf.RETENTION_DAYS} days.")
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Deleted {payloads} span payloads older than "
                f"{payload_days or conf.TRACE_PAYLOAD_RETENTION_DAYS} days (the spans stay)."
            )
        )
