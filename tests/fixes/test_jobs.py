"""The seam between the platform and the GPU task: claim, progress, result, failure. The broker's
at-least-once delivery is simulated here by calling the task's steps twice; test_worker.py runs a
real Celery worker and kills it."""
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.utils import timezone

from answerprint.audit.models import AuditEvent
from answerprint.fixes import services
from answerprint.fixes.errors import JobCancelled, JobTimedOut
from answerprint.fixes.models import Job, JobState, Proposal, ProposalState, RequestState
from answerprint.fixes.signatures import model_card_hash
from answerprint.media.models import MediaAsset, Version
from tests.fixes.conftest import MODEL_CARD


def _output(tmp_path, name="out.mov", content=b"fixed picture"):
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def _stored_files():
    found = []

    def walk(folder):
        dirs, files = default_storage.listdir(folder)
        found.extend(f"{folder}/{f}".lstrip("/") for f in files)
        for d in dirs:
            walk(f"{folder}/{d}".lstrip("/"))
    walk("")
    return sorted(found)


def test_a_worker_claims_the_job_and_gets_everything_it_must_read(world):
    # given a queued removal
    fix = world.removal(frame_in=1, frame_out=10)
    job = fix.jobs.get()

    # when a worker claims it
    spec = services.start_job(job.pk, worker="gpu-01", device="cuda:NVIDIA H100")

    # then the spec names the stored source, mask and model, and the job is running on that worker
    assert spec.model == "removal" and spec.params["iterations"] == 0
    assert spec.source.name == world.plate.asset.original.name and spec.source.fps == "24/1"
    assert (spec.frame_in, spec.frame_out) == (1, 10) and spec.mask == fix.mask.name
    assert spec.deliveries == 1 and spec.reference is None
    job.refresh_from_db()
    fix.refresh_from_db()
    assert (job.state, job.worker, job.device) == (JobState.RUNNING, "gpu-01", "cuda:NVIDIA H100")
    assert fix.state == RequestState.RUNNING
    started = AuditEvent.objects.get(action="fix_job.started")
    assert started.actor_name == "worker gpu-01" and started.after["deliveries"] == 1


def test_progress_is_recorded_and_a_cancelled_job_is_told_to_stop(world):
    # given a running job
    fix = world.removal()
    job = fix.jobs.get()
    services.start_job(job.pk, worker="w")

    # when it reports progress
    services.report_job_progress(job.pk, 0.42, "Training the per-shot network")

    # then people can see how far it is
    job.refresh_from_db()
    assert (job.progress, job.stage) == (42, "Training the per-shot network")

    # and once cancelled, its next report stops it
    services.cancel_fix_request(actor=world.supervisor, fix=fix)
    with pytest.raises(JobCancelled):
        services.report_job_progress(job.pk, 0.5)
    job.refresh_from_db()
    assert job.progress == 42 and job.state == JobState.CANCELLED


def test_a_job_past_its_time_limit_fails_with_the_reason(world):
    # given a job that started longer ago than its limit
    job = world.removal().jobs.get()
    services.start_job(job.pk, worker="w")
    Job.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(seconds=job.time_limit_s + 1))

    # when it next reports, then it is stopped and failed, visibly
    with pytest.raises(JobTimedOut):
        services.report_job_progress(job.pk, 0.9)
    job.refresh_from_db()
    assert job.state == JobState.FAILED and "time limit" in job.error
    assert job.request.state == RequestState.FAILED


def test_the_result_becomes_a_proposal_version_ingested_like_any_other(world, tmp_path, monkeypatch,
                                                                         django_capture_on_commit_callbacks):
    # given a running job and an ingest queue that records what it is sent
    ingests = []
    monkeypatch.setattr("answerprint.fixes.services._enqueue_ingest", ingests.append)
    fix = world.removal()
    job = fix.jobs.get()
    services.start_job(job.pk, worker="w", device="cpu")

    # when the worker hands in its output
    with django_capture_on_commit_callbacks(execute=True):
        proposal = services.ingest_job_result(job.pk, output_path=_output(tmp_path), model_card=dict(MODEL_CARD),
                                              metrics={"psnr_outside_mask": 51.0})

    # then a proposal version of the shot, child of the plate, holds the bytes under its own folder
    version = proposal.version
    assert version.kind == "proposal" and version.parent == world.plate
    assert version.number == world.plate.number + 1
    with default_storage.open(version.asset.original.name) as stored:
        assert stored.read() == b"fixed picture"
    # and its ingest (proxy, poster) was queued, like an upload's
    assert ingests == [version.asset.pk] and version.asset.status == "queued"
    # and the model card is the provenance: the model's own card plus exactly what it was given
    card = proposal.model_card
    assert card["kind"] == "removal" and card["inputs"] == {"mask_sha256": "f" * 64}
    assert card["platform"]["source"]["version"] == world.plate.pk
    assert card["platform"]["mask_sha256"] == fix.mask_sha256 and card["platform"]["seed"] == job.seed
    assert proposal.model_card_sha256 == model_card_hash(card)
    assert proposal.state == ProposalState.PENDING
    fix.refresh_from_db()
    job.refresh_from_db()
    assert fix.state == RequestState.PROPOSED and job.state == JobState.SUCCEEDED and job.progress == 100


def _worker_stopped_reporting(job):
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))


def test_a_duplicate_delivery_while_the_worker_still_reports_is_dropped(world):
    # given a job a worker claimed and still reports on
    job = world.removal().jobs.get()
    services.start_job(job.pk, worker="w1")

    # when the same job is delivered again (the outbox sweep and the broker may both send it)
    duplicate = services.start_job(job.pk, worker="w2")

    # then the second delivery runs nothing and the first keeps the job
    job.refresh_from_db()
    assert duplicate is None and job.worker == "w1" and job.deliveries == 1


def test_a_job_delivered_twice_makes_one_proposal(world, tmp_path):
    # given a job whose first worker died after claiming it, so the broker delivered it again
    job = world.removal().jobs.get()
    services.start_job(job.pk, worker="w1")
    _worker_stopped_reporting(job)
    second = services.start_job(job.pk, worker="w2")
    assert second.deliveries == 2
    assert AuditEvent.objects.filter(action="fix_job.taken_over").get().before["worker"] == "w1"
    # and the first worker in fact finished too
    first_output = _output(tmp_path, "a.mov", b"first run")
    second_output = _output(tmp_path, "b.mov", b"second run")

    # when both hand in results
    one = services.ingest_job_result(job.pk, output_path=first_output, model_card=dict(MODEL_CARD))
    files_after_first = _stored_files()
    other = services.ingest_job_result(job.pk, output_path=second_output, model_card=dict(MODEL_CARD))

    # then there is one proposal, one proposal version, and the second result stored nothing
    assert one == other and Proposal.objects.count() == 1
    assert Version.objects.filter(kind="proposal").count() == 1 and MediaAsset.objects.count() == 2
    assert _stored_files() == files_after_first
    # and a third delivery after success finds nothing to run
    assert services.start_job(job.pk, worker="w3") is None


def test_a_job_whose_worker_keeps_dying_fails_for_good(world):
    # given a job whose worker died on each of its allowed deliveries
    job = world.removal().jobs.get()
    for n in range(job.max_deliveries):
        assert services.start_job(job.pk, worker=f"w{n}") is not None
        _worker_stopped_reporting(job)

    # when it is delivered once more
    spec = services.start_job(job.pk, worker="w-last")

    # then it is not run again but failed, with a reason a person can read
    assert spec is None
    job.refresh_from_db()
    assert job.state == JobState.FAILED and "Given up after 3 attempts" in job.error
    assert job.request.state == RequestState.FAILED


def test_a_failure_keeps_its_reason_and_the_request_can_be_run_again(world):
    # given a job that failed
    fix = world.removal()
    job = fix.jobs.get()
    services.start_job(job.pk, worker="w")
    services.fail_job(job.pk, "The mask covers a whole frame: nothing is left to fill it from")

    # then the reason is on the job, and the request is failed
    fix.refresh_from_db()
    assert fix.state == RequestState.FAILED
    assert fix.jobs.get().error.startswith("The mask covers a whole frame")

    # when the requester runs it again, then a new job is queued and the old one keeps its reason
    services.retry_fix_request(actor=world.supervisor, fix=fix, reason="Redrew nothing, try again")
    fix.refresh_from_db()
    assert fix.state == RequestState.QUEUED
    assert [j.state for j in fix.jobs.order_by("pk")] == [JobState.FAILED, JobState.QUEUED]


def test_a_passing_problem_puts_the_job_back_in_the_queue_visibly(world):
    job = world.removal().jobs.get()
    services.start_job(job.pk, worker="w")
    services.requeue_job(job.pk, "CUDA out of memory")
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and "CUDA out of memory" in job.stage
    assert services.start_job(job.pk, worker="w").deliveries == 2


def test_the_late_result_of_a_cancelled_job_is_dropped(world, tmp_path):
    fix = world.removal()
    job = fix.jobs.get()
    services.start_job(job.pk, worker="w")
    services.cancel_fix_request(actor=world.supervisor, fix=fix)
    assert services.ingest_job_result(job.pk, output_path=_output(tmp_path), model_card=dict(MODEL_CARD)) is None
    assert not Proposal.objects.exists() and not Version.objects.filter(kind="proposal").exists()


def test_a_result_without_a_file_or_model_card_is_refused(world, tmp_path):
    job = world.removal().jobs.get()
    services.start_job(job.pk, worker="w")
    with pytest.raises(ValidationError, match="No result file"):
        services.ingest_job_result(job.pk, output_path=str(tmp_path / "missing.mov"), model_card=dict(MODEL_CARD))
    with pytest.raises(ValidationError, match="model card"):
        services.ingest_job_result(job.pk, output_path=_output(tmp_path), model_card={})
    assert not Proposal.objects.exists()


def _movie(path, frames):
    import subprocess

    import numpy as np

    from answerprint.media.ffmpeg import ffmpeg_binary

    height, width = frames[0].shape[:2]
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                    "-s", f"{width}x{height}", "-framerate", "24", "-i", "-", "-c:v", "libx264", "-qp", "0",
                    "-pix_fmt", "yuv444p", str(path)],
                   input=b"".join(np.ascontiguousarray(f, dtype=np.uint8).tobytes() for f in frames), check=True)
    return str(path)


def test_a_difference_preview_is_made_from_the_source_and_the_result(world, tmp_path):
    import io

    import numpy as np
    from PIL import Image

    # given a grey plate on storage, and a result that changed a block in the top-left corner
    plain = [np.full((36, 64, 3), 128, np.uint8) for _ in range(12)]
    changed = [frame.copy() for frame in plain]
    for frame in changed:
        frame[2:14, 4:20] = 250
    source_name = world.plate.asset.original.name
    default_storage.delete(source_name)
    with open(_movie(tmp_path / "plate.mp4", plain), "rb") as stream:
        default_storage.save(source_name, stream)
    job = world.removal().jobs.get()
    services.start_job(job.pk, worker="w")

    # when the result is ingested without a preview of its own
    proposal = services.ingest_job_result(job.pk, output_path=_movie(tmp_path / "out.mp4", changed),
                                          model_card=dict(MODEL_CARD))

    # then one is made: source | proposal | difference, bright where it changed and dark elsewhere
    with default_storage.open(proposal.preview.name) as stored:
        preview = np.asarray(Image.open(io.BytesIO(stored.read())).convert("RGB")).astype(int)
    assert preview.shape == (36, 64 * 3 + 8, 3)
    difference = preview[:, 2 * (64 + 4):]
    assert difference[4:12, 6:18].mean() > 200 and difference[20:34, 30:60].mean() < 10
    assert abs(preview[20:30, 30:60].mean() - 128) < 4  # the source panel is the plate
