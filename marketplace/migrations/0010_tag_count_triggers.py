# Triggers that keep marketplace_tagcount (marketplace.tag_counts); separate from 0009 so the
# unique constraint they upsert on exists when they first run.

from django.db import migrations


def create_triggers(apps, schema_editor):
    from marketplace.tag_counts import FILL_SQL, trigger_sql

    for statement in trigger_sql():
        schema_editor.execute(statement)
    schema_editor.execute(FILL_SQL)  # the agents already there


def drop_triggers(apps, schema_editor):
    from marketplace.tag_counts import drop_sql

    for statement in drop_sql():
        schema_editor.execute(statement)



class Migration(migrations.Migration):

    dependencies = [
        ("marketplace", "0009_tag_counts"),
    ]

    operations = [
        migrations.RunPython(create_triggers, drop_triggers),
    ]
