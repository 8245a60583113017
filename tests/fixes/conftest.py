import uuid
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from answerprint.accounts.models import Role
from answerprint.fixes import services
from answerprint.fixes.signatures import proposal_record_hash
from answerprint.media.models import AssetStatus, MediaAsset, VersionState
from answerprint.review.models import Annotation
from tests.factories import PASSWORD, ProductionFactory, ShotFactory, VersionFactory, authenticator_code, member

# The shape of inference.card.model_card, abridged.
MODEL_CARD = {"card_version": 1, "kind": "removal", "method": "flow-propagation+internal-cnn", "method_version": "1.0",
              "package": "inference 0.1", "parameters": {"iterations": 0}, "seed": 1, "device": "cpu (1 threads)",
              "trained_on": "this shot's own frames only; no pretrained weights", "inputs": {"mask_sha256": "f" * 64},
              "metrics": {"warp_error": 0.01}}


def ready_version(shot, *, frames=12, width=64, height=36, content=b"plate bytes", kind="plate", parent=None,
                  fps=(24, 1), start_timecode=""):
    """A version whose ingest finished: probed, with an original on media storage."""
    version = VersionFactory(shot=shot, kind=kind, parent=parent, state=VersionState.READY,
                             start_timecode=start_timecode)
    name = default_storage.save(f"tests/{uuid.uuid4().hex}/original.mov", ContentFile(content))
    MediaAsset.objects.create(version=version, original=name, original_name="original.mov", sha256="a" * 64,
                              size_bytes=len(content), status=AssetStatus.READY, fps_num=fps[0], fps_den=fps[1],
                              frame_count=frames, width=width, height=height, start_timecode=start_timecode)
    return version


def polygon(version, author, points=((0.1, 0.1), (0.4, 0.1), (0.4, 0.5), (0.1, 0.5)), shape="polygon"):
    return Annotation.objects.create(id=uuid.uuid4(), version=version, author=author, frame=0, duration=1,
                                     shape=shape, points=[[x, y, 1.0] for x, y in points], color="#ff3b30",
                                     width=0.01)


class World:
    """A production with a plate, a drawn region and one person in each role."""

    def __init__(self, code="the-answer"):
        self.production = ProductionFactory(code=code)
        self.shot = ShotFactory(production=self.production, name="SC010_SH030")
        self.plate = ready_version(self.shot)
        self.producer = member(self.production, Role.PRODUCER)
        self.second_producer = member(self.production, Role.PRODUCER)
        self.supervisor = member(self.production, Role.SUPERVISOR)
        self.second_supervisor = member(self.production, Role.SUPERVISOR)
        self.editor = member(self.production, Role.EDITOR)
        self.compliance = member(self.production, Role.COMPLIANCE)
        self.viewer = member(self.production, Role.VIEWER)
        self.boom = polygon(self.plate, self.supervisor)

    def removal(self, actor=None, **kwargs):
        options = {"actor": actor or self.supervisor, "source_version": self.plate, "kind": "object_removal",
                   "mask_annotation": self.boom, "reason": "Boom dips into frame", "params": {"iterations": 0}}
        options.update(kwargs)
        return services.request_fix(**options)

    def propose(self, fix, tmp_path, *, content=b"proposal bytes", card=None, ingested=True):
        """What the GPU task does: claim the job, then hand in its output."""
        job = fix.jobs.get()
        spec = services.start_job(job.pk, worker="test-worker", device="cpu")
        output = tmp_path / f"out-{job.pk}.mov"
        output.write_bytes(content)
        proposal = services.ingest_job_result(spec.job_id, output_path=str(output),
                                              model_card=card or dict(MODEL_CARD), metrics={"psnr_outside_mask": 48.2})
        if ingested:  # what the media worker does next: the picture becomes viewable
            MediaAsset.objects.filter(version=proposal.version).update(status=AssetStatus.READY)
            proposal.version.asset.refresh_from_db()
        return proposal

    def sign(self, proposal, signer, meaning="approval", **kwargs):
        options = {"actor": signer, "proposal": proposal, "password": PASSWORD, "meaning": meaning,
                   "record_hash": proposal_record_hash(proposal)}
        if "second_factor" not in kwargs:  # signers here have an authenticator: signing needs one
            options["second_factor"] = authenticator_code(signer)
        options.update(kwargs)
        return services.approve_proposal(**options)


@pytest.fixture
def world(db):
    return World()


def consent_for(world, performer="Mara Quell", *, kinds=("performance_alteration",), shots=None,
                consent_type="digital_alteration", **kwargs):
    options = dict(actor=world.compliance, production=world.production, performer=performer,
                   consent_type=consent_type, scope="Alter lip movement in SC010 for the re-recorded line.",
                   kinds=list(kinds), shots=shots or [world.shot], signed_by=performer,
                   signed_at=timezone.now() - timedelta(days=3), document_sha256="b" * 64)
    options.update(kwargs)
    return services.record_consent(**options)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Seven users per test: the production hasher's deliberate slowness is not what is tested here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
