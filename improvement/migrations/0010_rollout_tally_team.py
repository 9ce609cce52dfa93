"""Guarded rollouts count the runs of installing teams that share evidence: each tally row is one
team's. Existing rows are the rollout's own team's runs (only those were counted before)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("improvement", "0009_unified_guardrails"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="rollouttally", name="rollouttally_unique"),
        migrations.AddField(
            model_name="rollouttally",
            name="team",
            field=models.ForeignKey(
                null=True,
                help_text="The team whose runs these are.",
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="crucible.team",
            ),
        ),
        migrations.RunSQL(
            """UPDATE improvement_rollouttally t SET team_id = r.team_id
               FROM improvement_rollout r WHERE r.id = t.rollout_id""",
            migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name="rollouttally",
            name="team",
            field=models.ForeignKey(
                help_text="The team whose runs these are.",
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="crucible.team",
            ),
        ),
        migrations.AlterModelOptions(
            name="rollouttally", options={"ordering": ["rollout_id", "team_id", "arm", "bin"]}
        ),
        migrations.AddConstraint(
            model_name="rollouttally",
            constraint=models.UniqueConstraint(
                fields=("rollout", "team", "arm", "bin"), name="rollouttally_unique_team"
            ),
        ),
    ]
