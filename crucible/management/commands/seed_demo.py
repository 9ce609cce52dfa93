import importlib

from django.core.management.base import BaseCommand
from django.db import transaction

from crucible import demo
from crucible.checks import is_production

# Order matters: agents first (the others refer to them), executions last (they feed experiments
# and builds).
APP_ORDER = ["marketplace", "improvement", "teammemory", "observability", "alerts"]


class Command(BaseCommand):
    help = "Load the demo data set once (teams, users, agents, builds, executions, experiments)."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="No progress bars.")

    def handle(self, *args, quiet, **options):
        if is_production():
            self.stdout.write(
                "Production configuration (CRUCIBLE_SECRET_KEY set, debug off): no demo data, since its "
                "passwords are published. Create a team with 'manage.py create_team'."
            )
            return
        if demo.is_seeded():
            self.stdout.write("Demo data is already loaded; nothing to do.")
            return
        with transaction.atomic():
            ctx = demo.seed_core(quiet=quiet)
            for app in APP_ORDER:
                importlib.import_module(f"{app}.demo").seed(ctx)
        # Where to log in, never a key: logs are read by more people than keys should be. A key
        # is made deliberately, by the user: manage.py create_api_key acme --user alice
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        self.stdout.write(
            f"  Log in as alice / {demo.DEMO_PASSWORD}; an API key: manage.py create_api_key acme --user alice"
        )
