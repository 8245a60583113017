"""The gpu queue's side of a fix: run it from media paths, write the result files and the
model card into a folder, and return where they are.

Thin on purpose: the fix-workflow issue turns jobs and proposals into these arguments and the
returned paths into a proposal. torch is imported inside the task, never when the web process
imports this module, and only in the worker that runs it (CUDA must not be initialised in a
forked parent: run the gpu worker with --pool solo or -c 1)."""
from celery import shared_task


@shared_task(name="answerprint.fixes.tasks.run_fix")
def run_fix(kind, source_path, output_dir, params=None, seed=0, reference_path=None, mask_path=None,
            plate_path=None, keyframes=None, start=0, count=None, max_side=1280, frames=False):
    """Returns {"kind", "paths": {"clip", "card", ... "cube" / "matte" / "frames"}, "card"}."""
    from inference.jobs import run_fix as run

    return run(kind, source_path, output_dir, params, seed, reference_path=reference_path, mask_path=mask_path,
               plate_path=plate_path, keyframes=keyframes, start=start, count=count, max_side=max_side,
               frames=frames)
