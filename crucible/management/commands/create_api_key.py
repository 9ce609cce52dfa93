from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from crucible import services
from crucible.models import Role, Team


class Command(BaseCommand):
    help = "Create an API key for a team and print it (the only time it is shown)."

    def add_arguments(self, parser):
        parser.add_argument("team", help="Team slug")
        parser.add_argument("--name", default="cli")
        parser.add_argument("--read-only", action="store_true", help="A key that can only read.")
        parser.add_argument("--user", help="Username the key acts for (ratings, reports); optional.")

    def handle(self, *args, team, name, read_only, user, **options):
        team_obj = Team.objects.filter(slug=team).first()
        if team_obj is None:
            raise CommandError(f"No team with slug '{team}'.")
        user_obj = None
        if user:
            user_obj = get_user_model().objects.filter(username=user).first()
            if user_obj is None:
                raise CommandError(f"No user '{user}'.")
        try:
            _, raw = services.api_key_create(
                team=team_obj, name=name, role=Role.VIEWER if read_only else Role.MEMBER, created_by=user_obj
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(raw)
