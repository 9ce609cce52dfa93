"""SQL helpers of the duration histogram, and the default model prices."""

from django.db import migrations

from observability import histogram, pricing


def seed_prices(apps, schema_editor):
    ModelPrice = apps.get_model("observability", "ModelPrice")
    for pattern, inp, cached, out, reasoning in pricing.DEFAULT_PRICES:
        ModelPrice.objects.get_or_create(
            pattern=pattern,
            effective_from=pricing.DEFAULT_EFFECTIVE_FROM,
            defaults={
                "input_per_million": inp,
                "cached_input_per_million": cached,
                "output_per_million": out,
                "reasoning_per_million": reasoning,
                "notes": "Seeded list price",
            },
        )


def unseed_prices(apps, schema_editor):
    ModelPrice = apps.get_model("observability", "ModelPrice")
    ModelPrice.objects.filter(notes="Seeded list price").delete()


class Migration(migrations.Migration):
    dependencies = [("observability", "0001_initial")]

    operations = [
        migrations.RunSQL(histogram.SQL_FUNCTIONS, histogram.SQL_DROP),
        migrations.RunPython(seed_prices, unseed_prices),
    ]
