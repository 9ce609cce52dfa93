from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from crucible import services
from crucible.models import Role


class Command(BaseCommand):
    help = "Create a team (and optionally its owner user). Prints the team's slug."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--slug")
        parser.add_argument(
            "--owner", help="Username of the owner; created if --password is given and it does not exist."
        )
        parser.add_argument("--password", help="Password for a new owner user.")
        parser.add_argument("--verified", action="store_true", help="Mark as a verified publisher.")

    def handle(self, *args, name, slug, owner, password, verified, **options):
        User = get_user_model()
        owner_user = None
        if owner:
            owner_user = User.objects.filter(username=owner).first()
            if owner_user is None:
                if not password:
                    raise CommandError(f"No user '{owner}'; give --password to create it.")
                owner_user = services.user_create(username=owner, password=password)
        try:
            team = services.team_create(name=name, slug=slug, owner=owner_user, is_verified=verified)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        if owner_user is not None:
            services.membership_set(team=team, user=owner_user, role=Role.OWNER)
        self.stdout.write(team.slug)
