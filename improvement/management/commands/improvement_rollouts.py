"""Check every running guarded rollout by hand (the worker does it every five minutes: improvement.trust_check)."""

from django.core.management.base import BaseCommand

from improvement import services


class Command(BaseCommand):
    help = "Advance due guarded rollouts: raise the candidate's share, complete, or stop on a guardrail breach."

    def handle(self, *args, **options):
        for rollout in services.rollouts_advance_due():
            self.stdout.write(f"rollout {rollout.pk}: {rollout.status}, candidate share {rollout.share:.0%}")
