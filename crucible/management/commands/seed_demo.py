import importlib

from django.core.management.base import BaseCommand
from django.db import transaction

from crucible import demo

# Order matters: agents first (the others refer to them), executions last (they feed experiments
# and builds).
APP_ORDER = ["marketplace", "improvement", "teammemory", "observability"]


class Command(BaseCommand):
    help = "Load the demo data set once (teams, users, agents, builds, executions, experiments)."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="No progress bars.")

    def handle(self, *args, quiet, **options):
        if demo.is_seeded():
            self.stdout.write("Demo data is already loaded; nothing to do.")
            return
        with transaction.atomic():
            ctx = demo.seed_core(quiet=quiet)
            for app in APP_ORDER:
                importlib.import_module(f"{app}.demo").seed(ctx)
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        for slug, key in ctx.keys.items():
            self.stdout.write(f"  API key for team '{slug}': {key}")
