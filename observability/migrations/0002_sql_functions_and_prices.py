"""SQL helpers of the duration histogram, and the default model prices."""

from django.db import migrations

from observability import histogram, pricing


def seed_prices(apps, schema_editor):
    pricing.seed_default_prices(apps.get_model("observability", "ModelPrice"))


def unseed_prices(apps, schema_editor):
    ModelPrice = apps.get_model("observability", "ModelPrice")
    ModelPrice.objects.filter(notes="Seeded list price").delete()


class Migration(migrations.Migration):
    dependencies = [("observability", "0001_initial")]

    operations = [
        migrations.RunSQL(histogram.SQL_FUNCTIONS, histogram.SQL_DROP),
        migrations.RunPython(seed_prices, unseed_prices),
    ]
