import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from crucible.models import Team
from teammemory import rollups, services


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"'{value}' is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = (
        "Rebuild the daily build rollups (by stack, component, agent version and error type) of a period "
        "(whole UTC days) from the raw builds, then verify that they match a fresh recompute. "
        "--verify-only compares without rebuilding."
    )

    def add_arguments(self, parser):
        parser.add_argument("--start", help="First day (YYYY-MM-DD, UTC). Default: --days ago.")
        parser.add_argument("--end", help="Day after the last one (YYYY-MM-DD). Default: tomorrow.")
        parser.add_argument("--days", type=int, default=7, help="Without --start: this many days back (default 7).")
        parser.add_argument("--all", action="store_true", help="Every day that has builds.")
        parser.add_argument("--team", help="Only this team (slug).")
        parser.add_argument("--verify-only", action="store_true", help="Compare only; change nothing.")

    def handle(self, *args, start, end, days, team, verify_only, **options):
        team_obj = None
        if team:
            team_obj = Team.objects.filter(slug=team).first()
            if team_obj is None:
                raise CommandError(f"No team '{team}'.")
        today = timezone.now().astimezone(dt.UTC).date()
        if options["all"]:
            from django.db.models import Max, Min

            from teammemory.models import Build

            qs = Build.objects.all() if team_obj is None else Build.objects.filter(team=team_obj)
            span = qs.aggregate(lo=Min("started_at"), hi=Max("started_at"))
            if span["lo"] is None:
                self.stdout.write("No builds.")
                return
            start_day = span["lo"].astimezone(dt.UTC).date()
            end_day = span["hi"].astimezone(dt.UTC).date() + dt.timedelta(days=1)
        else:
            end_day = _day(end) if end else today + dt.timedelta(days=1)
            start_day = _day(start) if start else end_day - dt.timedelta(days=days + 1)
        if end_day <= start_day:
            raise CommandError("--end must be after --start.")
        if not verify_only:
            counts = services.rollups_rebuild(start_day=start_day, end_day=end_day, team=team_obj)
            written = ", ".join(f"{table.removeprefix('teammemory_')}: {n}" for table, n in counts.items())
            self.stdout.write(f"Rebuilt {start_day} .. {end_day} ({written}).")
        report = rollups.verify(
            team_ids=None if team_obj is None else [team_obj.pk], start_day=start_day, end_day=end_day
        )
        for table, info in report["tables"].items():
            self.stdout.write(f"{table}: {info['rows']} rows, {info['mismatches']} mismatches")
            for sample in info["sample"]:
                self.stdout.write(f"  {sample}")
        if not report["ok"]:
            raise CommandError("Rollups do not match the raw builds (run without --verify-only to rebuild).")
        self.stdout.write(self.style.SUCCESS("Rollups match the raw builds."))
