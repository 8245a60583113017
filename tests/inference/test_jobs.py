"""Running a fix from media paths, as the gpu worker does: files in, files and a card out."""
import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from inference import probe, read_clip, synthetic, write_clip, write_frames
from inference.colour import read_cube
from inference.jobs import run_fix
from tests.inference.conftest import FAST, SIZE


@pytest.fixture
def media(tmp_path):
    """A colour-graded shot and its reference, a green-screen shot and its plate, as files."""
    colour = synthetic.colour_case(**SIZE)
    screen = synthetic.green_screen_case(**SIZE)
    removal = synthetic.removal_case(**SIZE)
    rate = Fraction(24000, 1001)
    paths = {
        "graded": write_clip(tmp_path / "graded.mkv", colour.clip.frames, rate),
        "reference": write_clip(tmp_path / "reference.mkv", colour.reference.frames, rate),
        "screen": write_clip(tmp_path / "screen.mkv", screen.clip.frames, rate),
        "plate": write_clip(tmp_path / "plate.mkv", screen.plate, rate),
        "rigged": write_clip(tmp_path / "rigged.mkv", removal.clip.frames, rate),
    }
    write_frames(tmp_path / "holes", removal.mask.float(), grey=True)
    paths["holes"] = str(tmp_path / "holes")
    return paths


def test_a_colour_match_writes_the_graded_clip_the_cube_and_the_card(media, tmp_path):
    # when the job runs from the media paths
    out = run_fix("colour_match", media["graded"], tmp_path / "out", FAST["colour_match"], seed=5,
                  reference_path=media["reference"])

    # then the clip keeps the source's size, length and exact rate
    info = probe(out["paths"]["clip"])
    assert (info.width, info.height, info.frame_count) == (96, 64, 6) and info.fps == Fraction(24000, 1001)
    # and the .cube is the fitted table, and the card on disk is the one returned
    assert read_cube(out["paths"]["cube"]).shape == (3, 17, 17, 17)
    card = json.loads(Path(out["paths"]["card"]).read_text())
    assert card == out["card"] and card["kind"] == "colour_match" and card["seed"] == 5
    assert card["inputs"]["source"]["sha256"] and card["inputs"]["reference_file_sha256"]
    assert len(card["fitted_on"]["sha256"]) == 6 and card["outputs"]["cube"] == "match.cube"


def test_a_background_replacement_writes_the_composite_and_the_matte(media, tmp_path):
    out = run_fix("background", media["screen"], tmp_path / "out", {"matte": "chroma"}, plate_path=media["plate"],
                  frames=True)
    mattes = sorted(Path(out["paths"]["matte"]).iterdir())
    assert len(mattes) == 6 and len(list(Path(out["paths"]["frames"]).iterdir())) == 6
    matte = read_clip(out["paths"]["matte"])
    assert 0.05 < float(matte.frames.mean()) < 0.8  # a subject, not an empty or a full matte


def test_a_removal_reads_its_mask_folder_and_a_frame_range(media, tmp_path):
    out = run_fix("removal", media["rigged"], tmp_path / "out", FAST["removal"], mask_path=media["holes"],
                  start=0, count=5)
    assert probe(out["paths"]["clip"]).frame_count == 5
    assert out["card"]["details"]["hole_pixels"] > 0


def test_the_celery_task_runs_the_same_job_and_the_web_side_never_loads_torch(media, tmp_path):
    from answerprint.fixes.tasks import run_fix as task

    result = task.apply(args=("deflicker", media["graded"], str(tmp_path / "out")),
                        kwargs={"params": {"iterations": 20}, "seed": 1}).get()
    assert result["kind"] == "deflicker" and Path(result["paths"]["clip"]).exists()
    assert task.name == "answerprint.fixes.tasks.run_fix"

    code = ("import sys; sys.path[:0] = ['platform', '.']; import answerprint.fixes.tasks; "
            "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], timeout=60)
    assert done.stdout.strip() == "False", done.stderr[-1000:]
