"""One agent's traces (issue 16): the traces list narrowed by an agent (the traces, sessions and
users pages' agent filter, the API's ``agent``) had no index to read, so it walked the team's
traces newest first and checked each, past every trace of the other agents: on ``bench_h4``
(229,000 traces) 147 ms for an agent with none, growing with the team's traces until the
statement timeout. ``(team_id, agent_name, started_at)`` reads an agent's traces in order. Built
concurrently: the traces table is upserted by every span ingest, which a plain CREATE INDEX would
block for the length of the build."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("observability", "0021_agent_index_holds_sorts"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="trace",
            index=models.Index(fields=["team", "agent_name", "started_at"], name="trace_team_agent"),
        ),
    ]
