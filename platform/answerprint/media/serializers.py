from django.urls import reverse
from rest_framework import serializers

from .models import MediaAsset, NameCollision, Shot, ShotLocator, ShotNameRule, TimelineImport, Version


def media_url(asset, part):
    if part != "original" and not getattr(asset, part):
        return None
    return reverse("media-file", args=[asset.pk, part])


class MediaAssetSerializer(serializers.ModelSerializer):
    urls = serializers.SerializerMethodField()
    fps = serializers.SerializerMethodField()

    class Meta:
        model = MediaAsset
        fields = [
            "id", "original_name", "is_sequence", "sha256", "size_bytes", "status", "status_reason",
            "progress", "attempts", "fps", "fps_num", "fps_den", "frame_count", "start_timecode", "width",
            "height", "codec", "pixel_format", "bit_depth", "color_primaries", "color_transfer",
            "color_space", "color_range", "proxy_width", "proxy_height", "filmstrip_tiles",
            "filmstrip_tile_width", "filmstrip_tile_height", "urls", "created_at", "updated_at",
        ]
        read_only_fields = fields

    def get_fps(self, asset) -> str | None:
        return f"{asset.fps_num}/{asset.fps_den}" if asset.fps_num and asset.fps_den else None

    def get_urls(self, asset) -> dict:
        return {part: media_url(asset, part) for part in ("proxy", "poster", "filmstrip", "original")}


class VersionSerializer(serializers.ModelSerializer):
    shot = serializers.CharField(source="shot.name", read_only=True)
    created_by = serializers.CharField(source="created_by.printed_name", default=None, read_only=True)
    asset = MediaAssetSerializer(read_only=True, default=None)

    class Meta:
        model = Version
        fields = ["id", "shot", "number", "kind", "parent", "state", "note", "created_by", "created_at", "asset"]
        read_only_fields = fields


EDITORIAL = ["source_name", "reel", "clip_name", "source_timecode_in", "source_timecode_out", "record_timecode_in",
             "record_timecode_out", "handles", "time_scalar", "cdl", "editorial_notes", "timeline"]


class ShotSerializer(serializers.ModelSerializer):
    locators = serializers.SerializerMethodField()
    version_count = serializers.IntegerField(read_only=True, default=0)
    poster = serializers.SerializerMethodField()

    class Meta:
        model = Shot
        fields = [
            "id", "name", "sequence", "episode", "description", "first_frame", "last_frame", "status",
            *EDITORIAL, "locators", "version_count", "poster", "created_at",
        ]
        read_only_fields = ["id", *EDITORIAL, "locators", "version_count", "poster", "created_at"]

    def get_locators(self, shot) -> list:
        return ShotLocatorSerializer(shot.locators.all(), many=True).data

    def get_poster(self, shot) -> str | None:
        for version in getattr(shot, "versions_newest_first", []):
            asset = getattr(version, "asset", None)
            if asset is not None and asset.poster:
                return media_url(asset, "poster")
        return None


class ShotUpdateSerializer(serializers.Serializer):
    sequence = serializers.CharField(required=False, allow_blank=True, max_length=80)
    episode = serializers.CharField(required=False, allow_blank=True, max_length=80)
    description = serializers.CharField(required=False, allow_blank=True)
    first_frame = serializers.IntegerField(required=False)
    last_frame = serializers.IntegerField(required=False, allow_null=True)
    status = serializers.ChoiceField(choices=Shot._meta.get_field("status").choices, required=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    note = serializers.CharField(required=False, allow_blank=True, default="")


class RegisterSerializer(serializers.Serializer):
    path = serializers.CharField(
        max_length=500,
        help_text="Path relative to the production's media folder (productions/<code>/ on storage), e.g. "
                  "incoming/A001C003.mov; a sequence as incoming/SC010/frame.%04d.exr. Nothing outside that "
                  "folder can be named.")
    note = serializers.CharField(required=False, allow_blank=True, default="")


class TimelineImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A CMX3600 .edl, OpenTimelineIO .otio, Avid .aaf or Final Cut/Resolve/"
                                           "Premiere .fcpxml")
    fps = serializers.CharField(required=False, allow_blank=True, max_length=20,
                                help_text="Rate of an EDL: 24, 23.976 or 24000/1001; default: the production's")
    handles = serializers.IntegerField(required=False, default=8, help_text="Frames added each side of the cut")
    name_rule = serializers.ChoiceField(choices=ShotNameRule.choices, required=False, default=ShotNameRule.AUTO)
    on_collision = serializers.ChoiceField(choices=NameCollision.choices, required=False,
                                           default=NameCollision.REFUSE,
                                           help_text="A name held by a shot from another source: skip or rename")


class TimelineSerializer(serializers.ModelSerializer):
    """A timeline import and its report: every event's outcome, EDL event number and line."""

    imported_by = serializers.CharField(source="imported_by.printed_name", default=None, read_only=True)
    rate = serializers.SerializerMethodField()

    class Meta:
        model = TimelineImport
        fields = ["id", "name", "file_name", "format", "sha256", "rate", "handles", "name_rule", "on_collision",
                  "created", "updated", "unchanged", "skipped", "report", "imported_by", "imported_at"]
        read_only_fields = fields

    def get_rate(self, timeline) -> str:
        return f"{timeline.fps_num}/{timeline.fps_den}"


class ShotLocatorSerializer(serializers.ModelSerializer):
    class Meta:
        model = ShotLocator
        fields = ["frame", "timecode", "color", "text", "comment"]
        read_only_fields = fields
