from django.db import migrations, models
from django.db.models import F
from django.db.models.functions import Coalesce


def prepared_already(apps, schema_editor):
    """Campaigns sent before preparation existed wrote every message in their send/ request."""
    Campaign = apps.get_model("campaigns", "Campaign")
    Campaign.objects.exclude(status="draft").update(prepared_at=Coalesce(F("started_at"), F("created_at")))


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0003_campaign_callback_url"),
    ]

    operations = [
        migrations.AddField(
            model_name="campaign", name="expected_recipients", field=models.PositiveIntegerField(default=0)
        ),
        migrations.AddField(
            model_name="campaign", name="credits_reserved", field=models.PositiveIntegerField(default=0)
        ),
        migrations.AddField(
            model_name="campaign", name="prepared_through", field=models.UUIDField(blank=True, null=True)
        ),
        migrations.AddField(
            model_name="campaign", name="prepared_at", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.AddField(
            model_name="campaign", name="last_chunk_at", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.RunPython(prepared_already, migrations.RunPython.noop, elidable=False),
    ]
