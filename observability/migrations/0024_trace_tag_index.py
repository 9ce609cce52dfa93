"""The traces with a tag (issue 16): the traces list narrowed by a tag (the page's "Tag", the API's
``tag``) walked the team's traces newest first and checked each, so a tag few of its traces have
read nearly all of them for a page, and one none has read them all. A GIN index of
``(team_id, tags)`` finds them by the tag; ``btree_gin`` (a trusted contrib extension, shipped with
PostgreSQL) lets the team be one of its keys, so a tag other teams use often does not read their
traces. Partial on a non-empty ``tags``: a trace without tags costs ingest nothing more. Built
concurrently: the traces table is upserted by every span ingest."""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.operations import AddIndexConcurrently, BtreeGinExtension
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("observability", "0023_trace_failed_index"),
    ]

    operations = [
        BtreeGinExtension(),
        AddIndexConcurrently(
            model_name="trace",
            index=GinIndex(
                condition=models.Q(("tags", []), _negated=True),
                fields=["team", "tags"],
                name="trace_team_tags",
            ),
        ),
    ]
