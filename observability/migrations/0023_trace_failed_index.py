"""The failed traces (issue 16): the traces list narrowed to them (the page's "Status: error", the
API's ``status=error``) walked the team's traces newest first and checked each, so a team whose
traces rarely fail read nearly all of them for a page, and one whose none failed read them all.
``(team_id, started_at)`` partial on ``status = 'error'`` holds only the failed ones: a trace that
succeeds costs ingest nothing more. Built concurrently: the traces table is upserted by every span
ingest."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("observability", "0022_trace_agent_index"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="trace",
            index=models.Index(
                condition=models.Q(("status", "error")),
                fields=["team", "started_at"],
                name="trace_team_failed",
            ),
        ),
    ]
