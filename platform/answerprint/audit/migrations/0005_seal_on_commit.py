import django.db.models.deletion
from django.db import migrations, models

from answerprint.audit import protection, sealing


def install(apps, schema_editor):
    # The event table's UPDATE guard now allows the seal, once; SQLite rebuilt the table above,
    # which dropped its triggers. PostgreSQL also gets the sealing function.
    protection.install(schema_editor.connection, tables=[protection.TABLE])
    sealing.install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("audit", "0004_checkpoint_append_only")]

    operations = [
        migrations.AlterModelOptions(
            name="auditevent",
            options={"ordering": [models.F("sequence").asc(nulls_last=True), "id"]},
        ),
        # Chain version 2 (chain.py). A log written under version 1 does not verify under it.
        migrations.AddField(
            model_name="auditevent",
            name="content_hash",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="sequence",
            field=models.BigIntegerField(blank=True, null=True, unique=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="production",
            field=models.ForeignKey(blank=True, db_index=False, null=True,
                                    on_delete=django.db.models.deletion.PROTECT, related_name="+",
                                    to="accounts.production"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(condition=models.Q(("hash__isnull", True)), fields=["id"],
                               name="audit_event_unsealed"),
        ),
        migrations.RunPython(install, migrations.RunPython.noop),
    ]
