"""An hour's figures of a variant may be spread over several rows, one per shard (the writing
connection's backend pid modulo improvement.models.BUCKET_SHARDS): concurrent selects no longer
wait for each other's durable commit on the one row of the leading variant. Existing rows are
shard 0; readers sum the rows of an hour."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("improvement", "0010_rollout_tally_team"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="variantbucket",
            name="variantbucket_unique_variant_bucket",
        ),
        migrations.AddField(
            model_name="variantbucket",
            name="shard",
            field=models.SmallIntegerField(db_default=0, default=0),
        ),
        migrations.AddConstraint(
            model_name="variantbucket",
            constraint=models.UniqueConstraint(
                fields=("variant", "bucket", "shard"), name="variantbucket_unique_variant_bucket_shard"
            ),
        ),
    ]
