from fractions import Fraction

from django.db import migrations, models


def number_existing_versions(apps, schema_editor):
    """Give the versions made before numbering was stored the numbers their sources imply: a plate
    the shot's first frame and its file's (else the shot's) timecode; a proposal or delivery its
    parent's numbers advanced to where its picture starts."""
    from answerprint.media.timecode import shift_timecode

    Version = apps.get_model("media", "Version")
    Proposal = apps.get_model("fixes", "Proposal")
    starts = dict(Proposal.objects.values_list("version_id", "first_frame"))
    numbered = {}
    for version in Version.objects.select_related("shot", "asset", "parent__asset").order_by("shot_id", "number"):
        parent = numbered.get(version.parent_id)
        if parent is None:
            asset = getattr(version, "asset", None)
            version.first_frame = version.shot.first_frame
            version.start_timecode = (asset.start_timecode if asset else "") or version.shot.source_timecode_in
        else:
            offset = starts.get(version.pk, 0)
            asset = getattr(parent, "asset", None)
            rate = Fraction(asset.fps_num, asset.fps_den) if asset and asset.fps_num and asset.fps_den else None
            version.first_frame = parent.first_frame + offset
            version.start_timecode = (shift_timecode(parent.start_timecode, offset, rate)
                                      if rate and parent.start_timecode else "")
        version.save(update_fields=["first_frame", "start_timecode"])
        numbered[version.pk] = version


class Migration(migrations.Migration):

    dependencies = [
        ("media", "0002_timeline_editorial_and_import_report"),
        ("fixes", "0002_client_op"),
    ]

    operations = [
        migrations.AddField(
            model_name="version",
            name="first_frame",
            field=models.IntegerField(default=1001),
        ),
        migrations.AddField(
            model_name="version",
            name="start_timecode",
            field=models.CharField(blank=True, max_length=16),
        ),
        migrations.RunPython(number_existing_versions, migrations.RunPython.noop),
    ]
