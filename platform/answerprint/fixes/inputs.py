"""Ids and names from a client (the API, a page's form, a room message) turned into the rows a
service takes, always inside the caller's production: an id from elsewhere reads as not found."""
import uuid

from django.core.exceptions import ValidationError

from answerprint.media.models import Shot, Version
from answerprint.review.models import Annotation


def version_in(production, version_id, field):
    if version_id in (None, ""):
        return None
    try:
        version_id = int(version_id)
    except (TypeError, ValueError):
        raise ValidationError({field: f"{version_id!r} is not a version id."}) from None
    version = (Version.objects.select_related("shot__production", "asset")
               .filter(pk=version_id, shot__production=production).first())
    if version is None:
        raise ValidationError({field: f"No version {version_id} in this production."})
    return version


def annotation_in(production, annotation_id, field="mask_annotation"):
    if annotation_id in (None, ""):
        return None
    try:
        annotation_id = uuid.UUID(str(annotation_id))
    except ValueError:
        raise ValidationError({field: f"{annotation_id!r} is not an annotation id."}) from None
    annotation = (Annotation.objects.select_related("version__shot")
                  .filter(pk=annotation_id, version__shot__production=production).first())
    if annotation is None:
        raise ValidationError({field: "No such drawing in this production."})
    return annotation


def shot_in(production, name, field):
    if not name:
        return None
    shot = Shot.objects.filter(production=production, name=name).first()
    if shot is None:
        raise ValidationError({field: f"No shot named {name!r} in this production."})
    return shot


def _frame(value, field):
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise ValidationError({field: "A frame is a whole number."})
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError({field: f"{value!r} is not a whole number of frames."}) from None


def frame_index(version, number, field):
    """A frame number as the player and the forms show it (1001, or 1012 in a proposal that starts
    there) -> its index in `version`'s picture, which is what a request stores."""
    number = _frame(number, field)
    if number is None:
        return None
    count = getattr(getattr(version, "asset", None), "frame_count", None)
    first = version.first_frame
    if count and not first <= number <= first + count - 1:
        raise ValidationError({field: f"Frame {number} is outside {version}: its frames are {first}–"
                                      f"{first + count - 1}."})
    return number - first


def request_arguments(production, data):
    """Keyword arguments for services.request_fix from plain data (the keys of
    FixRequestInputSerializer)."""
    source = version_in(production, data.get("source_version"), "source_version")
    if source is None:
        raise ValidationError({"source_version": "Choose the version to fix."})
    params = data.get("params") or {}
    if not isinstance(params, dict):
        raise ValidationError({"params": "Parameters are an object of name: value."})
    return {
        "source_version": source,
        "kind": data.get("kind"),
        "params": params,
        "mask_annotation": annotation_in(production, data.get("mask_annotation")),
        "frame_in": _frame(data.get("frame_in"), "frame_in"),
        "frame_out": _frame(data.get("frame_out"), "frame_out"),
        "reference_shot": shot_in(production, data.get("reference_shot"), "reference_shot"),
        "replacement_version": version_in(production, data.get("replacement_version"), "replacement_version"),
        "performer": data.get("performer") or "",
        "reason": data.get("reason") or "",
        "client_op": data.get("op") or None,
        # a checkbox: the CDL itself is taken from the shot by the service, never from the client
        "start_from_cdl": data.get("start_from_cdl") in (True, "on", "true", "1"),
    }


def follow_up_arguments(production, data):
    if not data:
        return None
    out = {}
    if "params" in data:
        if not isinstance(data["params"], dict):
            raise ValidationError({"follow_up": "Parameters are an object of name: value."})
        out["params"] = data["params"]
    for name in ("frame_in", "frame_out"):
        if data.get(name) not in (None, ""):
            out[name] = _frame(data[name], name)
    if data.get("mask_annotation"):
        out["mask_annotation"] = annotation_in(production, data["mask_annotation"])
    return out
