"""The tagged executions of a team by time: what an alert rule scoped by a tag reads (rollups have
no tag dimension). Built concurrently: executions can number millions."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("observability", "0008_spanpayload_text_search"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="execution",
            index=models.Index(
                condition=models.Q(("tags", []), _negated=True),
                fields=["team", "started_at"],
                name="execution_team_tagged",
            ),
        ),
    ]
