"""One guardrail mechanism: the per-metric margins. The old promotion-only error-rate limit
(``guardrail_max_error_rate_increase``) becomes the error-rate margin of the same experiment; the
field goes. Also the state the periodic checks keep to notify once per change."""

from django.db import migrations, models


def old_limit_to_margin(apps, schema_editor):
    Experiment = apps.get_model("improvement", "Experiment")
    for pk, limit in Experiment.objects.filter(guardrail_max_error_rate_increase__isnull=False).values_list(
        "pk", "guardrail_max_error_rate_increase"
    ):
        Experiment.objects.filter(pk=pk).update(guardrail_error_margin=limit)


def stopped_variants_breached(apps, schema_editor):
    """Variants a guardrail retired before breaches were recorded: their breach is their retirement."""
    Variant = apps.get_model("improvement", "Variant")
    Variant.objects.filter(retired_reason__startswith="Stopped by a guardrail.").update(
        guardrail_breached_at=models.F("retired_at"), guardrail_evidence=models.F("retired_reason")
    )


def margin_to_old_limit(apps, schema_editor):
    Experiment = apps.get_model("improvement", "Experiment")
    Experiment.objects.exclude(source_kind="").update(
        guardrail_max_error_rate_increase=models.F("guardrail_error_margin")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("improvement", "0008_version_variants_guardrail_source"),
    ]

    operations = [
        migrations.RunPython(old_limit_to_margin, margin_to_old_limit),
        migrations.RemoveField(model_name="experiment", name="guardrail_max_error_rate_increase"),
        migrations.AddField(
            model_name="experiment",
            name="srm_status",
            field=models.CharField(blank=True, db_default="", default="", max_length=20),
        ),
        migrations.AddField(
            model_name="experiment",
            name="srm_changed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="variant",
            name="guardrail_breached_at",
            field=models.DateTimeField(
                blank=True, help_text="When a guardrail first showed it clearly worse than the control.", null=True
            ),
        ),
        migrations.AddField(
            model_name="variant",
            name="guardrail_evidence",
            field=models.TextField(blank=True, db_default="", default=""),
        ),
        migrations.AddField(
            model_name="experiment",
            name="cuped",
            field=models.BooleanField(
                db_default=False,
                default=False,
                help_text="CUPED: also report estimates adjusted by each unit's metric before the experiment (improvement.cuped).",
            ),
        ),
        migrations.AddField(
            model_name="variant", name="cuped_count", field=models.BigIntegerField(db_default=0, default=0)
        ),
        migrations.AddField(
            model_name="variant", name="cuped_y_sum", field=models.FloatField(db_default=0.0, default=0.0)
        ),
        migrations.AddField(
            model_name="variant", name="cuped_y_sum_sq", field=models.FloatField(db_default=0.0, default=0.0)
        ),
        migrations.AddField(
            model_name="variant", name="cuped_x_sum", field=models.FloatField(db_default=0.0, default=0.0)
        ),
        migrations.AddField(
            model_name="variant", name="cuped_x_sum_sq", field=models.FloatField(db_default=0.0, default=0.0)
        ),
        migrations.AddField(
            model_name="variant", name="cuped_xy_sum", field=models.FloatField(db_default=0.0, default=0.0)
        ),
        migrations.RunPython(stopped_variants_breached, migrations.RunPython.noop),
    ]
