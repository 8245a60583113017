"""Build the world the end-to-end tests review, in a file database, through the services.

Run as a child process (`python -m tests.e2e.world <folder>`) with DATABASE_URL, MEDIA_ROOT and
ANSWERPRINT_VAR_DIR pointing into <folder>: it migrates, makes a production with a producer and
a supervisor, ingests a generated shot whose every frame carries its frame number, asks for a
removal of its boom and hands in the boom-free render of the same shot as the job's result, so
the proposal differs from the plate exactly where the fix changed it. Prints the ids as JSON.
"""
import dataclasses
import json
import os
import sys
from pathlib import Path

PASSWORD = "e2e-password-1234"
SIZE = dict(width=640, height=360, frames_scale=0.5)
SHOT = "SC010_SH030"
QC_WORSE = {
    "verdict": "not_recommended", "checked": True,
    "summary": "Not recommended: the result is probably worse than the source (estimated colour error (ΔE2000) "
               "14.5 against 11.6 for the source left alone).",
    "metrics": [{"name": "estimated colour error (ΔE2000)", "value": 14.5, "source_value": 11.6,
                 "lower_is_better": True, "explanation": "difference from the reference on held-out pixels; lower is "
                                                         "closer"}],
    "curve": {"frames": list(range(8)), "before": [31, 33, 30, 34, 31, 33, 30, 32],
              "after": [44, 44.5, 44, 44.2, 44.1, 44.4, 44, 44.3]}}
MODEL_CARD = {"name": "removal", "version": "1.0", "method": "flow-propagation+internal-cnn",
              "licence": "trained on this shot only", "code_version": "e2e"}


PARTIAL = (11, 29)  # source indexes: frames 1012-1030


def _frames_of(path, indexes, out_path):
    """Frames first..last (indexes) of a movie as a movie of their own, re-encoded."""
    import subprocess

    from answerprint.media.demo_footage import ffmpeg_exe

    first, last = indexes
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(path),
                    "-vf", f"select='between(n,{first},{last})',setpts=N/FRAME_RATE/TB", "-c:v", "libx264",
                    "-preset", "veryfast", "-crf", "16", "-pix_fmt", "yuv420p", str(out_path)], check=True)


def build(folder):
    import django

    django.setup()
    from django.core.files import File
    from django.core.management import call_command

    from answerprint.accounts.models import Role, User
    from answerprint.accounts.services import add_member, create_production
    from answerprint.celery import app
    from answerprint.fixes import services as fixes
    from answerprint.media import demo_footage
    from answerprint.media import services as media
    from answerprint.review.services import create_annotation
    from tests.factories import enrol_authenticator

    call_command("migrate", verbosity=0)
    app.conf.task_always_eager = True  # ingest runs here, as the media worker would run it
    # The GPU worker's part is played below by hand (start the job, hand in its result), so the
    # job is not sent to a queue that no worker in this test reads.
    fixes._enqueue_job = lambda job_id: None

    def person(username, full_name, superuser=False):
        make = User.objects.create_superuser if superuser else User.objects.create_user
        return make(username=username, email=f"{username}@e2e.example", password=PASSWORD, full_name=full_name)

    admin = person("admin", "Ada Adeyemi", superuser=True)
    production = create_production(actor=admin, code="e2e", title="The Answer Print", description="", fps_num=24,
                                   fps_den=1)
    people = {}
    for username, full_name, role in (("producer", "Priya Raman", Role.PRODUCER),
                                      ("supervisor", "Sam Okafor", Role.SUPERVISOR),
                                      ("editor", "Elena Petrova", Role.EDITOR),
                                      # Asks for the fix, so that neither signer is its requester.
                                      ("lead", "Lena Brandt", Role.SUPERVISOR)):
        people[username] = person(username, full_name)
        add_member(actor=admin, production=production, user=people[username], role=role, reason="e2e")
    # The signers set up an authenticator, as signing needs the password and a code.
    totp = {username: enrol_authenticator(people[username]) for username in ("producer", "supervisor")}

    size = demo_footage.FootageSize(**SIZE)
    spec = dataclasses.replace(demo_footage.spec_named(SHOT), container="mp4")
    footage = Path(os.environ.get("E2E_FOOTAGE_DIR", folder / "footage"))
    plate, = demo_footage.generate_demo_footage(footage / "plate", size, specs=(spec,))
    # The same shot rendered without its boom: what a perfect removal would hand in.
    clean = dataclasses.replace(spec, problems=())
    fixed, = demo_footage.generate_demo_footage(footage / "fixed", size, specs=(clean,))

    shot = media.create_shot(actor=people["editor"], production=production, name=plate.name,
                             sequence=plate.sequence, first_frame=plate.first_frame, last_frame=plate.last_frame,
                             description=plate.description)
    path = demo_footage.footage_folder(footage / "plate", size) / plate.path
    with path.open("rb") as handle:
        version = media.ingest_upload(actor=people["editor"], shot=shot, uploaded_file=File(handle, name=path.name),
                                      note="Plate from editorial")
    version.refresh_from_db()
    asset = version.asset
    asset.refresh_from_db()
    assert asset.status == "ready", asset.status_reason

    window = demo_footage.boom_window(spec, size)
    mask = create_annotation(actor=people["lead"], version=version, op="e2e-boom-mask", frame=0,
                             duration=plate.frame_count, shape="rectangle",
                             points=[[0.25, 0.0, 1.0], [0.75, 0.35, 1.0]], color="#ffb020", width=0.004, text="")
    # A removal of part of the take, frames 1012-1030: its result holds only those 19 frames.
    partial_fix = fixes.request_fix(actor=people["lead"], source_version=version, kind="object_removal",
                                    reason="Boom dips in mid-take", mask_annotation=mask.obj,
                                    params={"iterations": 0}, frame_in=PARTIAL[0], frame_out=PARTIAL[1])
    partial_spec = fixes.start_job(partial_fix.jobs.get().pk, worker="e2e-worker", device="cpu")
    partial_output = Path(folder) / "partial.mp4"
    _frames_of(demo_footage.footage_folder(footage / "fixed", size) / fixed.path, PARTIAL, partial_output)
    partial = fixes.ingest_job_result(partial_spec.job_id, output_path=str(partial_output),
                                      model_card=dict(MODEL_CARD), metrics={"psnr_outside_mask": 47.9})
    partial.version.asset.refresh_from_db()
    assert partial.version.asset.status == "ready", partial.version.asset.status_reason

    fix = fixes.request_fix(actor=people["lead"], source_version=version, kind="object_removal",
                            reason="Boom dips into frame", mask_annotation=mask.obj,
                            params={"iterations": 0})
    job = fix.jobs.get()
    spec_ = fixes.start_job(job.pk, worker="e2e-worker", device="cpu")
    output = demo_footage.footage_folder(footage / "fixed", size) / fixed.path
    proposal = fixes.ingest_job_result(spec_.job_id, output_path=str(output), model_card=dict(MODEL_CARD),
                                       metrics={"psnr_outside_mask": 48.2, "changed_pixels": 0.031})
    proposal.version.asset.refresh_from_db()
    assert proposal.version.asset.status == "ready", proposal.version.asset.status_reason

    # An exposure fix whose model estimated its result worse than the source: shown, marked,
    # signed only with the warning acknowledged.
    exposure = fixes.request_fix(actor=people["lead"], source_version=version, kind="exposure",
                                 reason="Too dark after the cloud", params={"iterations": 0})
    exposure_spec = fixes.start_job(exposure.jobs.get().pk, worker="e2e-worker", device="cpu")
    warned = fixes.ingest_job_result(exposure_spec.job_id, output_path=str(output),
                                     model_card={**MODEL_CARD, "method": "gain-field+tone-curve", "qc": QC_WORSE},
                                     metrics={})
    warned.version.asset.refresh_from_db()

    # An upload from editorial that is not a movie: it fails ingest and keeps its number until
    # its uploader deletes it.
    broken = Path(folder) / "SC010_SH030_conform.mov"
    broken.write_bytes(b"this is not a QuickTime movie" * 64)
    with broken.open("rb") as handle:
        failed = media.ingest_upload(actor=people["editor"], shot=shot, uploaded_file=File(handle, name=broken.name),
                                     note="Conform from the online")
    failed.refresh_from_db()
    assert failed.state == "failed", failed.state
    return {"failed_version_number": failed.number, "partial_fix": partial_fix.pk, "partial_version_number": partial.version.number,
            "partial_version": partial.version.pk,
            "partial_proposal": partial.pk, "mask_annotation": str(mask.obj.pk), "timecode": spec.timecode,
            "warned_fix": exposure.pk, "warned_proposal": warned.pk,
            "production": production.code, "shot": shot.name, "version": version.pk, "version_number": version.number,
            "proposal_version": proposal.version.pk, "proposal_version_number": proposal.version.number,
            "proposal": proposal.pk, "fix": fix.pk, "frames": asset.frame_count, "first_frame": shot.first_frame,
            "boom_window": list(window) if window else None, "password": PASSWORD, "totp": totp}


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    print("WORLD " + json.dumps(build(folder)))
