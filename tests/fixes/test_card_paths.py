"""Model cards name inputs by their place in the production's media, never by a server path."""
import json

from answerprint.fixes import job_tasks
from answerprint.fixes.models import Proposal
from tests.fixes.test_runner import real_world  # noqa: F401  (the fixture)


def test_a_proposals_card_names_its_inputs_relative_to_the_production(real_world, tmp_path, settings):  # noqa: F811
    world = real_world
    # given a removal run by the gpu task on media stored under a server folder
    fix = world.removal(frame_in=1, frame_out=4, params={"iterations": 0})
    job = fix.jobs.get()

    # when the task runs it
    job_tasks.run_fix_job.apply(args=[job.pk], task_id=job.task_id)

    # then the card names the source and the mask by their stored names, and no server folder anywhere
    card = Proposal.objects.get(request=fix).model_card
    assert card["inputs"]["source"]["path"] == world.plate.asset.original.name.removeprefix(
        f"productions/{world.production.code}/")
    assert card["inputs"]["mask_path"] == fix.mask.name.removeprefix(f"productions/{world.production.code}/")
    text = json.dumps(card)
    assert str(settings.MEDIA_ROOT) not in text and "/tmp" not in text and str(tmp_path) not in text
