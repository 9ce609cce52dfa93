"""The executions list narrowed by a model, a version or a source that few or no runs have (issue
16): none of them has an index, so the list walked the team's runs newest first and checked each
(or read them all in parallel): 1.1-1.7 s at 10 million executions for a value no run has, past
the statement timeout on a cold cache. A BRIN index with a bloom filter per block range of each
column (and of the team) lets such a read visit only the ranges that may hold the value: 2 ms for
a value none has. A BRIN index costs an insert next to nothing (new rows land in a range not yet
summarized; autovacuum summarizes it when it is full), where a btree on the model cost a COPY 15 %
more server CPU per row (docs/observability.md, "Sorting by duration or cost").

Executions are partitioned by month (0009), and PostgreSQL cannot build an index on a partitioned
table concurrently: on a large deployment, build it per partition with CREATE INDEX CONCURRENTLY
first (same definition), then run this migration, which then only attaches them."""

import django.contrib.postgres.indexes
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("observability", "0026_agent_index_holds_status"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="execution",
            index=django.contrib.postgres.indexes.BrinIndex(
                autosummarize=True,
                fields=["team", "model", "version", "source"],
                name="execution_values_bloom",
                opclasses=["int8_bloom_ops", "text_bloom_ops", "text_bloom_ops", "text_bloom_ops"],
            ),
        ),
    ]
