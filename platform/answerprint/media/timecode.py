"""Frame rates as ratios and SMPTE timecode from integer frame counts — never float seconds."""
import re
from fractions import Fraction

# Rates with a /1001 denominator, and whole ones, that a measured or float rate snaps to.
COMMON_RATES = [Fraction(n, 1001) for n in (24000, 30000, 48000, 60000, 120000)] + [
    Fraction(n) for n in (12, 15, 16, 18, 20, 23, 24, 25, 30, 48, 50, 60, 72, 90, 96, 100, 120)]

_TIMECODE_RE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")


def snap_rate(value):
    """A measured or float rate as the ratio it stands for: 23.976 -> 24000/1001, 25.0 -> 25."""
    value = Fraction(value)
    for rate in COMMON_RATES:
        if abs(value - rate) / rate < Fraction(1, 1000):
            return rate
    return value.limit_denominator(1001)


# Decimal rates people write for the NTSC ratios: 23.976 and 23.98, 29.97, 47.952, 59.94, 119.88.
_NTSC_RATES = [Fraction(n, 1001) for n in (24000, 30000, 48000, 60000, 120000)]
_RATE_TEXT = re.compile(r"^\s*(?P<number>[-+]?\d+(\.\d+)?)\s*(/\s*(?P<denominator>[-+]?\d+)\s*)?$")


def _rate_from_text(text):
    match = _RATE_TEXT.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a frame rate like 24, 23.976 or 24000/1001")
    number, denominator = match["number"], match["denominator"]
    if denominator is not None:
        if "." in number:
            raise ValueError(f"{text!r} mixes a decimal and a ratio; write 23.976 or 24000/1001")
        if int(denominator) == 0:
            raise ValueError(f"{text!r} has a zero denominator; write a rate like 24 or 24000/1001")
        if int(denominator) < 0:
            raise ValueError(f"{text!r} has a negative denominator; write a rate like 24 or 24000/1001")
        return Fraction(int(number), int(denominator))
    value = Fraction(number)
    if "." in number:
        for rate in _NTSC_RATES:
            if abs(value - rate) < Fraction(6, 1000):
                return rate
    return value


def parse_rate(value):
    """24, "25", "24000/1001", "23.976", Fraction(30000, 1001) or 23.976 -> a positive Fraction.

    A decimal that stands for an NTSC rate (23.976, 23.98, 29.97, 59.94, ...) is that ratio;
    anything that is not a positive rate raises ValueError with a sentence saying why.
    """
    if isinstance(value, (tuple, list)) and len(value) == 2:
        if int(value[1]) <= 0:
            raise ValueError(f"{value[0]}/{value[1]} is not a frame rate: the denominator must be positive")
        value = Fraction(int(value[0]), int(value[1]))
    elif isinstance(value, float):
        value = snap_rate(value)
    else:
        value = _rate_from_text(value) if isinstance(value, str) else Fraction(value)
    if value <= 0 or value > 1000:
        raise ValueError(f"{value} is not a frame rate: it must be more than 0 and at most 1000")
    return value


def nominal_rate(rate):
    """The whole number of frames a timecode second counts: 24 for 24000/1001, 30 for 29.97."""
    return round(Fraction(rate))


def is_drop_frame_rate(rate):
    return Fraction(rate) in (Fraction(30000, 1001), Fraction(60000, 1001))


def frames_to_timecode(frames, rate, drop_frame=False):
    """Frame count since 00:00:00:00 -> "HH:MM:SS:FF" (";" before the frames when drop frame).

    Drop frame (29.97 and 59.94 only) skips frame numbers 0 and 1 (0-3 at 59.94) at the start of
    every minute except each tenth, so the timecode keeps to the wall clock.
    """
    nominal = nominal_rate(rate)
    frames = int(frames)
    sign = "-" if frames < 0 else ""
    frames = abs(frames)
    drop_frame = drop_frame and is_drop_frame_rate(rate)
    if drop_frame:
        dropped = 2 * nominal // 30
        per_ten_minutes = nominal * 600 - dropped * 9
        per_minute = nominal * 60 - dropped
        tens, rest = divmod(frames, per_ten_minutes)
        frames += dropped * 9 * tens
        if rest > dropped:
            frames += dropped * ((rest - dropped) // per_minute)
    ff = frames % nominal
    total_seconds = frames // nominal
    hh, mm, ss = total_seconds // 3600 % 24, total_seconds // 60 % 60, total_seconds % 60
    return f"{sign}{hh:02d}:{mm:02d}:{ss:02d}{';' if drop_frame else ':'}{ff:02d}"


def timecode_to_frames(timecode, rate):
    """"HH:MM:SS:FF" (or ";" for drop frame) -> frame count since 00:00:00:00."""
    match = _TIMECODE_RE.match(timecode.strip())
    if not match:
        raise ValueError(f"{timecode!r} is not a timecode like 01:00:00:00")
    hh, mm, ss, separator, ff = match.groups()
    hh, mm, ss, ff = int(hh), int(mm), int(ss), int(ff)
    nominal = nominal_rate(rate)
    if mm > 59 or ss > 59 or ff >= nominal:
        raise ValueError(f"{timecode!r} is not a valid timecode at {nominal} frames per second")
    frames = (hh * 3600 + mm * 60 + ss) * nominal + ff
    if separator in ";," and is_drop_frame_rate(rate):
        dropped = 2 * nominal // 30
        total_minutes = hh * 60 + mm
        frames -= dropped * (total_minutes - total_minutes // 10)
    return frames
