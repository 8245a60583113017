from django.db import migrations, models

from answerprint.audit import protection


def install(apps, schema_editor):
    # SQLite rebuilds the table to add a column, dropping its triggers.
    protection.install(schema_editor.connection, tables=[protection.CHECKPOINT_TABLE])


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_seal_on_commit")]

    operations = [
        migrations.AddField(
            model_name="checkpoint",
            name="timestamp_token",
            field=models.BinaryField(blank=True, null=True),
        ),
        migrations.RunPython(install, migrations.RunPython.noop),
    ]
