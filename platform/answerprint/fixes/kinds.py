"""The fix kinds the platform knows: their change category, what each needs, and its parameters.

Pure Python on purpose: the web process validates a request without importing the inference
package (which imports torch). The parameter names and ranges mirror the models' own parameter
classes in `inference/`; a test holds the two together.

Change categories (DESIGN.md, rule 2). Technical kinds keep the work "substantially as scripted,
performed and/or recorded" (the SAG-AFTRA exemption covers visual effects, continuity,
cosmetics): they follow the production's approval policy. Kinds that alter a performance or
likeness, or make a digital replica, need a consent on file for that performer, production,
shot and kind before they are even queued, and again at approval.
"""
import math
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from answerprint.media.cdl import cdl_problem


class Category:
    TECHNICAL = "technical"
    DIGITAL_ALTERATION = "digital_alteration"
    DIGITAL_REPLICA = "digital_replica"

    LABELS = {
        TECHNICAL: "Technical (the work stays substantially as recorded)",
        DIGITAL_ALTERATION: "Alters a performance or likeness",
        DIGITAL_REPLICA: "Makes or uses a digital replica",
    }


class ConsentType:
    EMPLOYMENT_REPLICA = "employment_replica"
    INDEPENDENT_REPLICA = "independent_replica"
    DIGITAL_ALTERATION = "digital_alteration"

    CHOICES = [
        (EMPLOYMENT_REPLICA, "Employment-based digital replica"),
        (INDEPENDENT_REPLICA, "Independently created digital replica"),
        (DIGITAL_ALTERATION, "Digital alteration of a performance"),
    ]


# Which consent types can cover a kind of each category. A technical kind that a production's
# policy puts under consent is covered by a consent to digital alteration.
CONSENT_TYPES_FOR = {
    Category.TECHNICAL: (ConsentType.DIGITAL_ALTERATION,),
    Category.DIGITAL_ALTERATION: (ConsentType.DIGITAL_ALTERATION,),
    Category.DIGITAL_REPLICA: (ConsentType.EMPLOYMENT_REPLICA, ConsentType.INDEPENDENT_REPLICA),
}


@dataclass(frozen=True)
class Param:
    type: type  # int, float, str, bool, or dict for an ASC CDL (None when not used)
    default: object
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()
    help: str = ""

    def clean(self, name, value):
        if self.type is dict:
            if value is None:
                return None
            problem = cdl_problem(value)
            if problem:
                raise ValidationError({"params": f"{name} is not a usable ASC CDL: {problem}."})
            return {"slope": [float(v) for v in value["slope"]], "offset": [float(v) for v in value["offset"]],
                    "power": [float(v) for v in value["power"]], "saturation": float(value.get("saturation", 1.0))}
        if self.type is bool:
            if not isinstance(value, bool):
                raise ValidationError({"params": f"{name} is true or false, not {value!r}."})
            return value
        if self.type is str:
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                raise ValidationError({"params": f"{name} is one of {', '.join(self.choices)}, not {value!r}."})
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValidationError({"params": f"{name} is a number, not {value!r}."})
        if self.type is int:
            if int(value) != value:
                raise ValidationError({"params": f"{name} is a whole number, not {value!r}."})
            value = int(value)
        else:
            value = float(value)
        if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
            raise ValidationError({"params": f"{name} must be between {self.minimum:g} and {self.maximum:g}, "
                                             f"not {value:g}."})
        return value

    def describe(self):
        out = {"type": self.type.__name__, "default": self.default, "help": self.help}
        if self.minimum is not None:
            out["minimum"], out["maximum"] = self.minimum, self.maximum
        if self.choices:
            out["choices"] = list(self.choices)
        return out


@dataclass(frozen=True)
class Kind:
    name: str
    label: str
    category: str
    summary: str
    # The model's name in the inference package; None where the platform has no model for it.
    model: str | None
    params: dict = field(default_factory=dict)
    needs_mask: bool = False
    mask_optional: bool = False
    needs_reference: bool = False
    reference_optional: bool = False
    needs_replacement: bool = False

    @property
    def available(self):
        return self.model is not None

    @property
    def category_label(self):
        return Category.LABELS[self.category]

    def clean_params(self, params):
        """The parameters with defaults filled in, or a ValidationError naming the bad one."""
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise ValidationError({"params": "Parameters are an object of name: value."})
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            known = ", ".join(sorted(self.params)) or "none"
            raise ValidationError({"params": f"{self.label} takes no parameter {', '.join(unknown)} "
                                             f"(it takes: {known})."})
        return {name: spec.clean(name, params[name]) if name in params else spec.default
                for name, spec in self.params.items()}

    def describe(self):
        return {
            "name": self.name, "label": self.label, "category": self.category,
            "category_label": self.category_label, "summary": self.summary, "available": self.available,
            "needs_mask": self.needs_mask, "mask_optional": self.mask_optional,
            "needs_reference": self.needs_reference, "reference_optional": self.reference_optional,
            "needs_replacement": self.needs_replacement,
            "params": {name: spec.describe() for name, spec in self.params.items()},
        }


_FLOW_PRESETS = ("ultrafast", "fast", "medium")

KINDS = {kind.name: kind for kind in (
    Kind(
        name="object_removal", label="Rig / object removal", category=Category.TECHNICAL, model="removal",
        summary="Removes what the mask covers (boom, rig, marker) with background carried in from other "
                "frames along the optical flow, and a network fitted on this shot alone for the rest.",
        needs_mask=True,
        params={
            "grow": Param(int, 2, 0, 64, help="Pixels added around the mask (soft edges, motion blur)."),
            "flow_preset": Param(str, "medium", choices=_FLOW_PRESETS, help="Optical flow quality."),
            "max_distance": Param(int, 0, 0, 1000, help="Frames a pixel may travel; 0 for the whole clip."),
            "iterations": Param(int, 300, 0, 5000,
                                help="Training steps of the per-shot network; 0 for propagation only."),
            "smooth": Param(bool, True, help="Smooth the synthesised fill along the flow."),
        },
    ),
    Kind(
        name="colour_match", label="Colour match", category=Category.TECHNICAL, model="colour_match",
        summary="Fits a 3D LUT that matches this shot's colour to a reference shot.",
        needs_reference=True,
        params={
            "size": Param(int, 33, 5, 65, help="Points per axis of the fitted 3D LUT."),
            "iterations": Param(int, 500, 0, 5000, help="Fitting steps."),
            "mode": Param(str, "auto", choices=("auto", "correspondence", "statistics"),
                          help="Match corresponding pixels, colour statistics, or choose by overlap."),
            "keyframes": Param(int, 4, 1, 32, help="Frames of the shot the LUT is fitted on."),
            "start_cdl": Param(dict, None, help="The editor's ASC CDL from the timeline to start the fit from; "
                                                "filled from the shot's own CDL (start_from_cdl), never typed."),
        },
    ),
    Kind(
        name="exposure", label="Exposure / relight", category=Category.TECHNICAL, model="exposure",
        summary="Corrects exposure, white balance and uneven light with a tone curve and a smooth gain field "
                "per frame, matched to a reference shot when one is given; with a drawn region, only there.",
        reference_optional=True, mask_optional=True,
        params={
            "target": Param(str, "auto", choices=("auto", "reference", "median"),
                            help="Match the reference shot, the shot's own median, or the reference when given."),
            "grid": Param(int, 4, 1, 16, help="Gain cells along the short side of the frame."),
            "field": Param(str, "per_frame", choices=("per_frame", "per_shot"),
                           help="A gain field per frame, or one for the whole shot (a light wrong all take)."),
            "feather": Param(float, 0.04, 0, 0.5, help="Soft edge of a drawn region, as a fraction of the frame."),
            "knots": Param(int, 12, 2, 64, help="Tone curve points per channel."),
            "iterations": Param(int, 300, 0, 5000, help="Fitting steps."),
        },
    ),
    Kind(
        name="deflicker", label="Deflicker", category=Category.TECHNICAL, model="deflicker",
        summary="Takes frame-to-frame exposure flicker out while a deliberate slow change of light stays.",
        params={
            "anchor_frames": Param(float, 3.0, 0.5, 50, help="What counts as a slow change, in frames."),
            "grid": Param(int, 4, 1, 16, help="Gain cells along the short side of the frame."),
            "iterations": Param(int, 300, 0, 5000, help="Fitting steps."),
        },
    ),
    Kind(
        name="background_replacement", label="Background replacement", category=Category.TECHNICAL,
        model="background",
        summary="Pulls a matte (from the green or blue screen, or learnt from a region drawn on a keyframe) and "
                "composites the subject over a replacement plate.",
        needs_replacement=True, mask_optional=True,
        params={
            "matte": Param(str, "auto", choices=("auto", "chroma", "keyframes"),
                           help="Key the screen, learn from the drawn keyframe, or keyframes when one is drawn."),
            "screen": Param(str, "auto", choices=("auto", "green", "blue"), help="The screen's colour."),
            "iterations": Param(int, 200, 0, 5000, help="Training steps of the keyframe network."),
        },
    ),
    Kind(
        name="performance_alteration", label="Performance alteration", category=Category.DIGITAL_ALTERATION,
        model=None,
        summary="Changes what a performer does on screen (expression, lip movement, visual ADR).",
        needs_mask=True,
    ),
    Kind(
        name="digital_replica", label="Digital replica", category=Category.DIGITAL_REPLICA, model=None,
        summary="Puts a digital replica of a performer into the shot.",
        needs_mask=True,
    ),
)}


def kind_named(name):
    try:
        return KINDS[name]
    except (KeyError, TypeError):
        raise ValidationError({"kind": f"Unknown fix kind {name!r}; use one of {', '.join(KINDS)}."}) from None


def kind_choices():
    return [(kind.name, kind.label) for kind in KINDS.values()]
