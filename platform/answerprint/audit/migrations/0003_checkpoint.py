from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0002_append_only'),
    ]

    operations = [
        migrations.CreateModel(
            name='Checkpoint',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('number', models.PositiveIntegerField(unique=True)),
                ('first_sequence', models.BigIntegerField()),
                ('last_sequence', models.BigIntegerField(unique=True)),
                ('leaf_count', models.PositiveIntegerField()),
                ('root', models.CharField(max_length=64)),
                ('previous_root', models.CharField(blank=True, max_length=64)),
                ('last_event_hash', models.CharField(max_length=64)),
                ('created_at', models.DateTimeField()),
                ('payload', models.TextField()),
                ('signature', models.CharField(max_length=128)),
                ('public_key', models.CharField(max_length=64)),
                ('key_id', models.CharField(max_length=16)),
            ],
            options={
                'ordering': ['number'],
            },
        ),
    ]
