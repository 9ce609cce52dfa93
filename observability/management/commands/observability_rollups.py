import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from crucible.models import Team
from observability import conf, selectors, services


def _date(value: str) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"'{value}' is not a date (YYYY-MM-DD).") from None
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


class Command(BaseCommand):
    help = (
        "Rebuild the hourly, daily and error rollups of a period (whole UTC days) from raw executions, "
        "then verify that they match a fresh recompute. --verify-only compares without rebuilding."
    )

    def add_arguments(self, parser):
        parser.add_argument("--start", help="First day (YYYY-MM-DD, UTC). Default: --days ago.")
        parser.add_argument("--end", help="Day after the last one (YYYY-MM-DD). Default: tomorrow.")
        parser.add_argument("--days", type=int, default=7, help="Without --start: this many days back (default 7).")
        parser.add_argument("--team", help="Only this team (slug).")
        parser.add_argument("--verify-only", action="store_true", help="Compare only; change nothing.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Allow rebuilding days older than the retention period (their raw rows may be gone).",
        )

    def handle(self, *args, start, end, days, team, verify_only, force, **options):
        today = timezone.now().astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        end_at = _date(end) if end else today + dt.timedelta(days=1)
        start_at = _date(start) if start else end_at - dt.timedelta(days=days + 1)
        if end_at <= start_at:
            raise CommandError("--end must be after --start.")
        team_obj = None
        if team:
            team_obj = Team.objects.filter(slug=team).first()
            if team_obj is None:
                raise CommandError(f"No team '{team}'.")
        cutoff = timezone.now() - dt.timedelta(days=conf.RETENTION_DAYS)
        if not verify_only and start_at < cutoff and not force:
            raise CommandError(
                f"{start_at:%Y-%m-%d} is older than the retention period ({conf.RETENTION_DAYS} days): raw executions "
                "may have been deleted and rebuilding would lose rollups. Use --force if you are sure."
            )
        if not verify_only:
            result = services.rollups_rebuild(start=start_at, end=end_at, team=team_obj)
            rows = ", ".join(f"{table.split('_', 1)[1]}: {n}" for table, n in result["rows"].items())
            self.stdout.write(f"Rebuilt {result['start']:%Y-%m-%d} .. {result['end']:%Y-%m-%d} ({rows}).")
        report = selectors.rollups_verify(start=start_at, end=end_at, team=team_obj)
        for table, info in report["tables"].items():
            self.stdout.write(f"{table}: {info['rows']} rows, {info['mismatches']} mismatches")
            for sample in info["sample"]:
                self.stdout.write(f"  {sample}")
        if not report["ok"]:
            raise CommandError("Rollups do not match the raw executions (run without --verify-only to rebuild).")
        self.stdout.write(self.style.SUCCESS("Rollups match the raw executions."))
