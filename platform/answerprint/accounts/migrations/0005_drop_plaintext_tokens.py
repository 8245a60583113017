"""Drop the keys of the former plain-text API tokens (rest_framework.authtoken).

They sign nobody in any more (accounts/tokens.py replaced them), but a copy of the database would
still hand them out; their owners make new tokens at /api/tokens/.
"""
from django.db import migrations


def drop_plaintext_tokens(apps, schema_editor):
    if "authtoken_token" in schema_editor.connection.introspection.table_names():
        schema_editor.execute(f"DROP TABLE {schema_editor.quote_name('authtoken_token')}")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_api_tokens")]

    operations = [migrations.RunPython(drop_plaintext_tokens, migrations.RunPython.noop)]
