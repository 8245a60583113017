from django.db import migrations

from answerprint.audit import protection


def install(apps, schema_editor):
    protection.install(schema_editor.connection, tables=[protection.STORED_EXPORT_TABLE])


def remove(apps, schema_editor):
    protection.remove(schema_editor.connection, tables=[protection.STORED_EXPORT_TABLE])


class Migration(migrations.Migration):
    dependencies = [("audit", "0007_scheduled_exports")]
    operations = [migrations.RunPython(install, remove)]
