from django.core.management.base import BaseCommand

from marketplace import conf
from marketplace.services import evidence_agents_refresh


class Command(BaseCommand):
    help = (
        "Refresh the measured evidence search sorts on (the opted-in teams' median success rate and cost per run "
        "of each agent's latest version, and the failure-rise warning). Run it periodically (hourly is plenty)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help=f"Default: {conf.EVIDENCE_SEARCH_DAYS}.")

    def handle(self, *args, days, **options):
        changed = evidence_agents_refresh(days=days)
        self.stdout.write(self.style.SUCCESS(f"Refreshed the measured evidence of {changed} agents."))
