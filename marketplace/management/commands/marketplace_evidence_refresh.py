from django.core.management.base import BaseCommand

from marketplace import conf
from marketplace.services import evidence_agents_refresh
from marketplace.services.evidence_histograms import evidence_histograms_refresh


class Command(BaseCommand):
    help = (
        "Refresh the measured evidence search sorts on (the opted-in teams' median success rate and cost per run "
        "of each agent's latest version, and the failure-rise warning) and merge the period histograms the version "
        "pages read. The worker runs both periodically."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help=f"Default: {conf.EVIDENCE_SEARCH_DAYS}.")

    def handle(self, *args, days, **options):
        changed = evidence_agents_refresh(days=days)
        merged = evidence_histograms_refresh()
        self.stdout.write(
            self.style.SUCCESS(
                f"Refreshed the measured evidence of {changed} agents; merged the histograms of {merged} versions."
            )
        )
