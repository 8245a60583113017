from django.db import migrations

from answerprint.audit import protection


def install(apps, schema_editor):
    protection.install(schema_editor.connection, tables=[protection.CHECKPOINT_TABLE])


def remove(apps, schema_editor):
    protection.remove(schema_editor.connection, tables=[protection.CHECKPOINT_TABLE])


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_checkpoint")]
    operations = [migrations.RunPython(install, remove)]
