from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("fixes", "0003_decision_acknowledged_warning"),
    ]

    operations = [
        migrations.AddField(
            model_name="fixrequest",
            name="matte_track",
            field=models.CharField(blank=True, max_length=500),
        ),
        migrations.AddField(
            model_name="fixrequest",
            name="matte_track_sha256",
            field=models.CharField(blank=True, max_length=64),
        ),
    ]
