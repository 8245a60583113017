"""Errors the package raises for bad input. All are ValueErrors, so a caller that only knows
"the input was wrong" can catch one thing, and the message says what and how to fix it."""


class InferenceError(ValueError):
    """Base class: the request cannot be run as given."""


class UnknownKindError(InferenceError):
    pass


class EmptyClipError(InferenceError):
    pass


class NonFiniteError(InferenceError):
    pass


class MaskError(InferenceError):
    pass


class FrameRateMismatchError(InferenceError):
    pass


class ParameterError(InferenceError):
    pass


class MediaError(InferenceError):
    """ffmpeg could not read or write a file."""
