"""Fit parameters: plain dataclasses read from a JSON-like dict, checked, and written back into
the model card as they were used."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from .errors import ParameterError


@dataclass
class Params:
    @classmethod
    def from_dict(cls, params: dict | None):
        params = dict(params or {})
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ParameterError(f"unknown parameter(s) {', '.join(unknown)} for this fix; "
                                 f"known: {', '.join(sorted(known))}")
        for name, value in params.items():
            default = known[name].default
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ParameterError(f"parameter {name} must be true or false, got {value!r}")
            elif isinstance(default, (int, float)):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
                    raise ParameterError(f"parameter {name} must be a non-negative number, got {value!r}")
                if isinstance(default, int) and not float(value).is_integer():
                    raise ParameterError(f"parameter {name} must be a whole number, got {value!r}")
                params[name] = type(default)(value)
            elif isinstance(default, str) and not isinstance(value, str):
                raise ParameterError(f"parameter {name} must be text, got {value!r}")
        out = cls(**params)
        out.check()
        return out

    def check(self) -> None:
        """Subclasses refuse values that are out of range."""

    def as_dict(self) -> dict:
        return asdict(self)

    def choice(self, name: str, allowed) -> None:
        value = getattr(self, name)
        if value not in allowed:
            raise ParameterError(f"parameter {name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
