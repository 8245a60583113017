"""Reading ffmpeg's output, rates and timecodes, and storage paths: small, exact, no database."""
from collections import Counter
from fractions import Fraction

import pytest
from django.core.exceptions import ValidationError

from answerprint.media import ffmpeg
from answerprint.media.ffmpeg import (FFmpegCrashed, MediaError, PacketScan, StreamInfo, bit_depth, classify_failure,
                                      filmstrip_plan, frame_rate, looks_like_text, parse_final_stats, parse_header,
                                      proxy_size, split_top_level)
from answerprint.media.storage import check_relative_path, sequence_pattern
from answerprint.media.timecode import frames_to_timecode, parse_rate, snap_rate, timecode_to_frames

from .conftest import KINDS

H264_WITH_TIMECODE_TRACK = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'h264.mp4':
  Metadata:
    major_brand     : isom
    minor_version   : 512
    compatible_brands: isomiso2avc1mp41
    encoder         : Lavf63.1.102
  Duration: 00:00:00.50, start: 0.000000, bitrate: 52 kb/s
  Stream group #0:0[0x2]: Track Reference:
    Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 64x48 [SAR 1:1 DAR 4:3], \
29 kb/s, 23.98 fps, 23.98 tbr, 24k tbn (default)
      Metadata:
        handler_name    : VideoHandler
        encoder         : Lavc63.1.102 libx264
        timecode        : 01:00:00:00
    Stream #0:1[0x2](eng): Data: none (tmcd / 0x64636D74), 0 kb/s
      Metadata:
        handler_name    : TimeCodeHandler
        timecode        : 01:00:00:00
Stream mapping:
  Stream #0:0 -> #0:0 (copy)
Output #0, framecrc, to 'pipe:':
  Stream #0:0(und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 1x1, q=2-31
"""

PRORES_HQ = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'prores.mov':
  Duration: 00:00:00.50, start: 0.000000, bitrate: 486 kb/s
    Stream #0:0[0x1]: Video: prores (HQ) (apch / 0x68637061), yuv422p10le(tv, bt709, progressive), 3840x2160, \
464 kb/s, SAR 1:1 DAR 16:9, 24 fps, 24 tbr, 24 tbn (default)
"""

MXF_WITH_FORMAT_TIMECODE = """\
Input #0, mxf, from 'dnx10.mxf':
  Metadata:
    operational_pattern_ul: 060e2b34.04010101.0d010201.01010900
    timecode        : 10:00:00:00
  Duration: 00:00:00.48, start: 0.000000, bitrate: 3584 kb/s
  Stream #0:0: Video: dnxhd (DNXHR HQX), yuv422p10le(tv, bt709/unknown/unknown, progressive), 256x144, SAR 1:1 \
DAR 16:9, 25 fps, 25 tbr, 25 tbn
    Metadata:
      file_package_umid: 0x060A2B340101010501010D00
  Stream #0:1: Audio: pcm_s24le, 48000 Hz, mono, s32 (24 bit), 1152 kb/s
"""

EXR_SEQUENCE = """\
Input #0, image2, from 'exr.%04d.exr':
  Duration: 00:00:00.48, start: 0.000000, bitrate: N/A
  Stream #0:0: Video: exr, gbrpf32le(unknown/unknown/linear), 2048x858 [SAR 1:1 DAR 1024:429], 25 fps, 25 tbr, 25 tbn
"""

HDR_HEVC = """\
Input #0, matroska,webm, from 'hdr.mkv':
  Stream #0:0: Video: hevc (Main 10), yuv420p10le(tv, bt2020nc/bt2020/smpte2084), 3840x2160 [SAR 1:1 DAR 16:9], \
23.98 fps, 23.98 tbr, 1k tbn
"""

ANAMORPHIC_DNXHD = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'ana.mov':
  Stream #0:0[0x1]: Video: dnxhd (DNXHD) (AVdn / 0x6E645641), yuv422p(tv, bt709/unknown/unknown), 1440x1080, \
SAR 4:3 DAR 16:9, 29.97 fps, 29.97 tbr, 30k tbn (default)
"""

AUDIO_WITH_COVER_ART = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'cover.m4a':
  Duration: 00:00:01.00, start: 0.000000, bitrate: 90 kb/s
  Stream #0:0[0x1](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, mono, fltp, 70 kb/s (default)
  Stream #0:1[0x0]: Video: mjpeg (Baseline), yuvj420p(pc, bt470bg/unknown/unknown), 1920x1080 [SAR 1:1 DAR 16:9], \
90k tbr, 90k tbn (attached pic)
"""

UNKNOWN_CODEC = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'braw.mov':
  Duration: 00:00:00.50, start: 0.000000, bitrate: 52 kb/s
    Stream #0:0[0x1](und): Video: none (brxq / 0x71787262), none, 64x48, 29 kb/s, SAR 1:1 DAR 4:3, 23.98 fps, \
23.98 tbr, 24k tbn (default)
[vist#0:0/none @ 0x5610cdcad480] Decoding requested, but no decoder found for: none
"""


def test_the_stream_dump_gives_codec_pixels_size_and_the_video_streams_timecode():
    info = parse_header(H264_WITH_TIMECODE_TRACK)
    video = info.video
    assert info.container == "mov,mp4,m4a,3gp,3g2,mj2" and info.duration == "00:00:00.50"
    assert (video.index, video.codec, video.profile, video.fourcc) == (0, "h264", "High", "avc1")
    assert (video.pixel_format, video.width, video.height, video.sar) == ("yuv420p", 64, 48, "1:1")
    assert (video.field_order, video.color_range, video.color_space) == ("progressive", "", "")
    assert (video.fps_text, video.tbr_text, video.tbn_text) == ("23.98", "23.98", "24k")
    assert info.timecode == "01:00:00:00"
    assert [s.kind for s in info.streams] == ["video", "data"]  # the output dump is not read
    assert info.metadata["major_brand"] == "isom" and video.metadata["encoder"] == "Lavc63.1.102 libx264"


@pytest.mark.parametrize("dump, expected", [
    (PRORES_HQ, {"codec": "prores", "profile": "HQ", "pixel_format": "yuv422p10le", "color_range": "tv",
                 "color_space": "bt709", "color_primaries": "bt709", "color_transfer": "bt709", "width": 3840,
                 "sar": "1:1", "fps_text": "24"}),
    (MXF_WITH_FORMAT_TIMECODE, {"codec": "dnxhd", "profile": "DNXHR HQX", "color_space": "bt709",
                                "color_primaries": "", "color_transfer": "", "height": 144}),
    (EXR_SEQUENCE, {"codec": "exr", "pixel_format": "gbrpf32le", "color_transfer": "linear", "color_space": "",
                    "width": 2048, "height": 858}),
    (HDR_HEVC, {"profile": "Main 10", "color_space": "bt2020nc", "color_primaries": "bt2020",
                "color_transfer": "smpte2084", "tbn_text": "1k"}),
    (ANAMORPHIC_DNXHD, {"width": 1440, "sar": "4:3", "fps_text": "29.97", "fourcc": "AVdn"}),
])
def test_colour_tags_and_geometry_are_read_from_each_layout(dump, expected):
    video = parse_header(dump).video
    assert {name: getattr(video, name) for name in expected} == expected


def test_format_level_timecode_is_used_when_the_stream_has_none():
    info = parse_header(MXF_WITH_FORMAT_TIMECODE)
    assert info.timecode == "10:00:00:00" and len(info.of_kind("audio")) == 1


def test_cover_art_is_not_the_picture():
    info = parse_header(AUDIO_WITH_COVER_ART)
    assert info.streams[1].attached_pic and info.video is None


def test_top_level_split_keeps_bracketed_commas():
    assert split_top_level("yuv420p(tv, bt709, progressive), 64x48 [SAR 1:1 DAR 4:3], 25 fps") == [
        "yuv420p(tv, bt709, progressive)", "64x48 [SAR 1:1 DAR 4:3]", "25 fps"]


@pytest.mark.parametrize("pixel_format, depth", [
    ("yuv420p", 8), ("yuvj422p", 8), ("yuv422p10le", 10), ("yuv444p12be", 12), ("yuva444p16le", 16),
    ("gbrp10le", 10), ("gbrpf32le", 32), ("gbrapf16le", 16), ("rgb24", 8), ("rgb48le", 16), ("rgba64be", 16),
    ("gray", 8), ("gray16le", 16), ("nv12", 8), ("p010le", 10), ("x2rgb10le", 10), ("", None), ("none", None),
])
def test_bit_depth_from_the_pixel_format(pixel_format, depth):
    assert bit_depth(pixel_format) == depth


def _scan(time_base, durations, step=None):
    scan = PacketScan()
    scan.feed(f"#tb 0: {time_base}")
    pts = 0
    for duration in durations:
        scan.feed(f"0, {pts}, {pts}, {duration}, 1000, 0x00000000")
        pts += step or duration
    return scan


@pytest.mark.parametrize("time_base, durations, rate", [
    ("1/24000", [1001] * 12, Fraction(24000, 1001)),
    ("1/12800", [512] * 12, Fraction(25)),
    ("1001/24000", [1] * 12, Fraction(24000, 1001)),  # an image sequence at 23.976
    ("1/90000", [3003] * 100, Fraction(30000, 1001)),
    ("1/1000", [40] * 12, Fraction(25)),
])
def test_the_frame_rate_comes_out_as_an_exact_ratio(time_base, durations, rate):
    scan = _scan(time_base, durations)
    assert frame_rate(scan, StreamInfo(index=0, kind="video")) == rate
    assert scan.count == len(durations)


def test_a_coarse_time_base_that_rounds_each_timestamp_still_gives_23_976():
    # Matroska keeps milliseconds: frame n of 24000/1001 is at round(n * 1001 / 24) ms
    scan = PacketScan()
    scan.feed("#tb 0: 1/1000")
    stamps = [round(Fraction(n * 1001, 24)) for n in range(121)]
    for pts, following in zip(stamps, stamps[1:]):
        scan.feed(f"0, {pts}, {pts}, {following - pts}, 1000, 0x00000000")
    assert set(scan.durations) == {41, 42}
    assert frame_rate(scan, StreamInfo(index=0, kind="video")) == Fraction(24000, 1001)


def test_without_packet_durations_the_printed_rate_is_snapped():
    assert frame_rate(PacketScan(), StreamInfo(index=0, kind="video", fps_text="23.98")) == Fraction(24000, 1001)
    assert frame_rate(PacketScan(), StreamInfo(index=0, kind="video", tbr_text="59.94")) == Fraction(60000, 1001)


def test_the_packet_scan_reads_framecrc_lines_in_any_order_of_pts():
    scan = PacketScan()
    for line in ["#tb 0: 1/24000", "0,      -2002,          0,     1001,     1602, 0x7394c442",
                 "0,      -1001,       4004,     1001,       69, 0xd4a61e3e, F=0x0",
                 "0,          0,       2002,     1001,       13, 0x139f03d9, F=0x0"]:
        scan.feed(line)
    assert (scan.count, scan.first_pts, scan.last_pts, scan.durations) == (3, 0, 4004, Counter({1001: 3}))


@pytest.mark.parametrize("value, rate", [(23.976, Fraction(24000, 1001)), (23.976023976, Fraction(24000, 1001)),
                                         (29.97, Fraction(30000, 1001)), (25.0, Fraction(25)),
                                         (59.94, Fraction(60000, 1001)), (Fraction(24), Fraction(24))])
def test_float_rates_snap_to_the_ratio_they_stand_for(value, rate):
    assert snap_rate(value) == rate


@pytest.mark.parametrize("value, rate", [("24000/1001", Fraction(24000, 1001)), ("25", Fraction(25)),
                                         ((30000, 1001), Fraction(30000, 1001)), (Fraction(48), Fraction(48))])
def test_rates_are_parsed_from_text_pairs_and_fractions(value, rate):
    assert parse_rate(value) == rate


@pytest.mark.parametrize("frames, rate, drop, timecode", [
    (86400, Fraction(24000, 1001), False, "01:00:00:00"),  # 23.976 counts 24 frames a timecode second
    (86400 + 240 + 12, Fraction(24), False, "01:00:10:12"),
    (90000, Fraction(25), False, "01:00:00:00"),
    (1800, Fraction(30000, 1001), True, "00:01:00;02"),  # frames 0 and 1 of minute 1 are skipped
    (17982, Fraction(30000, 1001), True, "00:10:00;00"),  # but not at each tenth minute
    (107892, Fraction(30000, 1001), True, "01:00:00;00"),
    (3600, Fraction(60000, 1001), True, "00:01:00;04"),  # 59.94 skips 0-3
])
def test_timecode_from_frames_and_back(frames, rate, drop, timecode):
    assert frames_to_timecode(frames, rate, drop) == timecode
    assert timecode_to_frames(timecode, rate) == frames


def test_every_drop_frame_timecode_round_trips_over_an_hour():
    rate = Fraction(30000, 1001)
    codes = [frames_to_timecode(n, rate, True) for n in range(0, 107892 + 1, 7)]
    assert [timecode_to_frames(code, rate) for code in codes] == list(range(0, 107892 + 1, 7))
    assert not any(code.endswith((":00;00", ":00;01")) and not code[3:5].endswith("0") for code in codes)


@pytest.mark.parametrize("width, height, sar, size", [
    (64, 48, "1:1", (64, 48)),
    (3840, 2160, "1:1", (1920, 1080)),
    (4096, 1716, "1:1", (1920, 804)),
    (1440, 1080, "4:3", (1920, 1080)),  # anamorphic: square pixels in the proxy
    (2880, 2160, "2:1", (1920, 720)),
    (1919, 1079, "1:1", (1918, 1078)),  # even sides for 4:2:0
    (720, 576, "64:45", (1024, 576)),
])
def test_the_proxy_is_at_most_1920_wide_with_square_pixels_and_even_sides(width, height, sar, size):
    assert proxy_size(width, height, sar) == size


@pytest.mark.parametrize("frames, tiles, step", [(12, 12, 1), (40, 40, 1), (41, 21, 2), (239, 40, 6),
                                                 (1000, 40, 25), (1, 1, 1)])
def test_the_filmstrip_has_at_most_40_tiles_evenly_spaced(frames, tiles, step):
    plan = filmstrip_plan(frames, 1920, 1080)
    assert (plan.tiles, plan.step, plan.tile_width, plan.tile_height) == (tiles, step, 160, 90)
    assert (plan.tiles - 1) * plan.step < frames


def test_the_closing_statistics_give_decoded_and_encoded_counts():
    stderr = (
        "[out#0/mp4 @ 0x1] [verbose]   Output stream #0:0 (video): 239 frames encoded; 239 packets muxed (1 bytes); \n"
        "[out#1/image2 @ 0x2] [verbose]   Output stream #1:0 (video): 1 frames encoded; 1 packets muxed (8 bytes); \n"
        "[in#0/mov @ 0x3] [verbose]   Input stream #0:0 (video): 240 packets read (6089094 bytes); 238 frames "
        "decoded; 2 decode errors; \n"
        "[in#0/mov @ 0x3] [verbose]   Input stream #0:1 (audio): 432 packets read (86766 bytes); 431 frames decoded; "
        "0 decode errors (441000 samples); \n")
    assert parse_final_stats(stderr, 0) == (238, 2, 239)


@pytest.mark.parametrize("stderr, head, code", [
    ("[in#0 @ 0x1] moov atom not found\nError opening input: Invalid data found when processing input",
     b"\x00\x00\x00\x20ftypisom", "truncated"),
    ("moov atom not found\nInvalid data found when processing input", b"hello, this is a script\n", "not_media"),
    ("Invalid data found when processing input", b"\x00\x01\x02\x03\xff\xfe", "not_media"),
    ("[in#0/mov @ 0x2] stream 0, offset 0xc9a: partial file", b"\x00\x00\x00\x20ftypisom", "truncated"),
    (UNKNOWN_CODEC, b"\x00\x00\x00\x20ftypqt  ", "unsupported_codec"),
    (AUDIO_WITH_COVER_ART + "Output file does not contain any stream", b"\x00\x00\x00\x20ftypM4A ", "no_video"),
    ("Decode error rate 1 exceeds maximum 0.666667", b"\x00\x00\x00\x20ftypisom", "damaged"),
    ("Could find no file with path 'x.%04d.png' and index in the range 0-4", b"", "missing"),
])
def test_failures_are_classified_by_what_ffmpeg_said(stderr, head, code):
    error = classify_failure(stderr, head=head, header=parse_header(stderr), file_name="x.mov")
    assert isinstance(error, MediaError) and error.code == code and error.reason


def test_an_unsupported_codec_is_named_with_its_camera_format():
    error = classify_failure(UNKNOWN_CODEC, header=parse_header(UNKNOWN_CODEC))
    assert error.reason.startswith("Unsupported video codec 'brxq' (Blackmagic RAW)")


@pytest.mark.parametrize("stderr, returncode", [("anything", -9), ("av_interleaved_write_frame(): No space left on "
                                                                   "device", 1), ("Cannot allocate memory", 1)])
def test_failures_outside_the_media_are_crashes_to_retry(stderr, returncode):
    with pytest.raises(FFmpegCrashed):
        classify_failure(stderr, returncode=returncode)


@pytest.mark.parametrize("head, text", [(b"Call sheet\nUnit call 06:30\n", True), (b"\xef\xbb\xbfUTF-8 notes", True),
                                        (b"\x00\x00\x00\x18ftypmp42", False), (b"", False),
                                        (b"caf\xc3", True)])
def test_text_is_told_from_binary(head, text):
    assert looks_like_text(head) is text


def test_the_ffmpeg_binary_is_the_setting_then_path_then_imageio(settings, monkeypatch):
    settings.FFMPEG_BINARY = "/opt/ffmpeg/bin/ffmpeg"
    assert ffmpeg.ffmpeg_binary() == "/opt/ffmpeg/bin/ffmpeg"
    settings.FFMPEG_BINARY = ""
    monkeypatch.setattr(ffmpeg.shutil, "which", lambda name: None)
    import imageio_ffmpeg

    assert ffmpeg.ffmpeg_binary() == imageio_ffmpeg.get_ffmpeg_exe()


@pytest.mark.parametrize("kind", ["h264", "prores", "dnxhr", "exr"])
def test_probing_real_files_matches_what_was_made(kind, sources):
    source = sources.get(kind)
    made = KINDS[kind]
    sequence = {"sequence_start": 1001, "sequence_rate": made.fraction} if made.sequence else {}
    probe = ffmpeg.probe(str(source), **sequence)
    assert (probe.rate, probe.packet_count, probe.timecode) == (made.fraction, made.frames, made.timecode or "")
    assert f"{probe.width}x{probe.height}" == made.size


@pytest.mark.parametrize("path, expected", [
    ("plates/a.mov", "plates/a.mov"), ("./plates//a.mov", "plates/a.mov"), (" plates/a.mov ", "plates/a.mov")])
def test_relative_storage_paths_are_normalised(path, expected):
    assert check_relative_path(path) == expected


@pytest.mark.parametrize("path", ["../a.mov", "a/../../b.mov", "/abs/a.mov", "C:/a.mov", "a\\b.mov", "", ".",
                                  "a/\x00b"])
def test_paths_that_could_leave_the_storage_root_are_refused(path):
    with pytest.raises(ValidationError):
        check_relative_path(path)


@pytest.mark.parametrize("path, pattern, matches, rejects", [
    ("p/frame.%04d.exr", "p/frame.%04d.exr", ["frame.1001.exr", "frame.10001.exr"],
     ["frame.101.exr", "frame.1001.tif"]),
    ("p/frame.####.exr", "p/frame.%04d.exr", ["frame.0001.exr"], ["frame.x001.exr"]),
    ("p/f_%d.dpx", "p/f_%d.dpx", ["f_7.dpx", "f_1001.dpx"], ["f_.dpx"]),
])
def test_sequence_patterns_in_printf_or_hash_form(path, pattern, matches, rejects):
    found, regex = sequence_pattern(path)
    assert found == pattern
    assert all(regex.match(name) for name in matches) and not any(regex.match(name) for name in rejects)
    assert sequence_pattern("p/plain.mov") is None
