from django.conf import settings
from django.core.management.base import BaseCommand

from crucible import embedded_db


class Command(BaseCommand):
    help = "Status or stop of the embedded PostgreSQL (used when DATABASE_URL is not set)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["status", "stop"])

    def handle(self, *args, action, **options):
        if not settings.EMBEDDED_DB:
            self.stdout.write("DATABASE_URL is set: the embedded server is not used.")
            return
        if action == "status":
            self.stdout.write(embedded_db.status(settings.PGDATA))
        elif embedded_db.stop(settings.PGDATA):
            self.stdout.write(f"Stopped the embedded PostgreSQL in {settings.PGDATA}.")
        else:
            self.stdout.write("The embedded PostgreSQL was not running.")
