"""The gpu task end to end in this process: a real (tiny) removal from media storage to proposal."""
import subprocess

import numpy as np
import pytest
from django.core.files.storage import default_storage

from answerprint.fixes import job_tasks, services
from answerprint.fixes.models import Job, JobState, Proposal, RequestState
from tests.fixes.conftest import polygon

WIDTH, HEIGHT, FRAMES = 96, 54, 8


def plate_clip(path, frames=FRAMES, width=WIDTH, height=HEIGHT):
    """A textured pan with a dark bar near the top-left corner: something to remove."""
    from answerprint.media.ffmpeg import ffmpeg_binary

    rng = np.random.default_rng(7)
    scene = (rng.random((height, width * 2, 3)) * 255).astype(np.uint8)
    pictures = []
    for index in range(frames):
        frame = scene[:, index * 3:index * 3 + width].copy()
        frame[4:16, 6:30] = 20
        pictures.append(frame)
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt",
                    "rgb24", "-s", f"{width}x{height}", "-framerate", "24", "-i", "-", "-c:v", "libx264", "-qp", "0",
                    "-pix_fmt", "yuv444p", str(path)], input=b"".join(p.tobytes() for p in pictures), check=True)
    return str(path)


def put_real_plate(world, tmp_path):
    asset = world.plate.asset
    default_storage.delete(asset.original.name)
    with open(plate_clip(tmp_path / "plate.mp4"), "rb") as stream:
        default_storage.save(asset.original.name, stream)
    type(asset).objects.filter(pk=asset.pk).update(width=WIDTH, height=HEIGHT, frame_count=FRAMES)
    world.plate.asset.refresh_from_db()
    # the bar, drawn a little larger than it is
    world.boom = polygon(world.plate, world.supervisor, points=((0.04, 0.04), (0.34, 0.04), (0.34, 0.33),
                                                                 (0.04, 0.33)))


@pytest.fixture
def real_world(world, tmp_path, monkeypatch):
    monkeypatch.setattr("answerprint.fixes.services._enqueue_ingest", lambda asset_id: None)  # no media worker
    put_real_plate(world, tmp_path)
    return world


def test_the_gpu_task_turns_a_job_into_a_proposal(real_world):
    world = real_world
    # given a queued removal of a few frames
    fix = world.removal(frame_in=1, frame_out=6, params={"iterations": 0})
    job = fix.jobs.get()

    # when the gpu task runs it
    job_tasks.run_fix_job.apply(args=[job.pk], task_id=job.task_id)

    # then the job made one proposal of the requested frames, with the model's card and metrics
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.error
    proposal = Proposal.objects.get(request=fix)
    assert proposal.first_frame == 1 and proposal.version.parent == world.plate
    assert proposal.model_card["kind"] == "removal" and proposal.model_card["inputs"]["source"]["count"] == 6
    assert proposal.model_card["platform"]["frames"] == [1, 6] and "warp_error" in str(proposal.metrics)
    assert proposal.version.asset.original.name.endswith(".mov") and proposal.preview
    # and the bar is gone from the result: the fixed corner no longer reads as the dark bar
    from inference.clip import read_clip

    with default_storage.open(proposal.version.asset.original.name) as stored:
        path = stored.name
    result = read_clip(path).frames.numpy()
    assert result.shape[0] == 6 and result[:, 6:14, 10:26].mean() > 0.2


def test_bad_input_fails_the_job_with_the_models_reason(real_world):
    world = real_world
    # given a removal whose mask covers the whole frame: the platform refuses it at once
    everything = polygon(world.plate, world.supervisor, points=((0, 0), (1, 1)), shape="rectangle")
    with pytest.raises(Exception, match="covers the whole frame"):
        world.removal(mask_annotation=everything)
    # and one the platform accepts but the model cannot read: the plate's bytes are broken on storage
    fix = world.removal(params={"iterations": 0})
    job = fix.jobs.get()
    default_storage.delete(world.plate.asset.original.name)
    with default_storage.open(world.plate.asset.original.name, "wb") as broken:
        broken.write(b"not a movie")

    # when the task runs it
    job_tasks.run_fix_job.apply(args=[job.pk], task_id=job.task_id)

    # then the job fails with the model's own message, and nothing is proposed
    job.refresh_from_db()
    assert job.state == JobState.FAILED and "MediaError" in job.error
    assert job.request.state == RequestState.FAILED and not Proposal.objects.exists()


def test_a_job_cancelled_while_running_stops_without_a_proposal(real_world, monkeypatch):
    world = real_world
    fix = world.removal(params={"iterations": 0})
    job = fix.jobs.get()
    original = services.report_job_progress

    def cancel_on_first_report(job_id, fraction, stage=""):
        if Job.objects.get(pk=job_id).state == JobState.RUNNING and fraction > 0:
            services.cancel_fix_request(actor=world.supervisor, fix=fix)
        return original(job_id, fraction, stage)

    monkeypatch.setattr(services, "report_job_progress", cancel_on_first_report)
    job_tasks.run_fix_job.apply(args=[job.pk], task_id=job.task_id)
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED and not Proposal.objects.exists()
