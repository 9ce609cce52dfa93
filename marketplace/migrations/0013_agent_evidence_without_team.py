# Search figures per viewing team (issue 13: a sharing viewer's own figure never counts in search).

import django.db.models.deletion
from django.db import migrations, models


def refresh(apps, schema_editor):
    # Fill the new rows now: until they exist, a sharing team would read medians with its own figure.
    # The agent rows' figures are left as the last refresh wrote them.
    from marketplace.services.evidence import evidence_agents_refresh

    evidence_agents_refresh(agent_rows=False)


class Migration(migrations.Migration):

    dependencies = [
        ('crucible', '0004_read_marker'),
        ('marketplace', '0012_evidence_histogram_guard'),
    ]

    operations = [
        migrations.CreateModel(
            name='AgentEvidenceWithoutTeam',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('success_rate', models.FloatField(blank=True, null=True)),
                ('cost_per_run', models.FloatField(blank=True, null=True)),
                ('teams', models.PositiveIntegerField(default=0, help_text='Other sharing teams that measured the latest version.')),
                ('failure_warning', models.BooleanField(default=False)),
                ('agent', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='marketplace.agent')),
                ('team', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='crucible.team')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('team', 'agent'), name='agentevidencewithout_unique_team_agent')],
            },
        ),
        migrations.RunPython(refresh, migrations.RunPython.noop),
    ]
