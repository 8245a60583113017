import csv
import io
import json

import pikepdf.pdfa
import pytest
from django.urls import reverse

from answerprint.audit.disclosure import DisclosureScope, start_disclosure
from answerprint.audit.models import AuditEvent
from answerprint.fixes import services
from answerprint.fixes.models import Proposal
from tests.audit.pdf_text import pdf_text
from tests.factories import PASSWORD, ShotFactory
from tests.fixes.conftest import World, consent_for, polygon, ready_version


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class Seeded:
    """A production where two AI changes were delivered, one approved but never delivered, one
    rejected; and another production with a delivery of its own."""

    def __init__(self, tmp_path):
        world = self.world = World()
        # a technical removal, approved and delivered
        self.delivered = world.propose(world.removal(reason="Boom dips into frame"), tmp_path, content=b"one")
        world.sign(self.delivered, world.producer)
        self.delivery = services.promote_to_delivery(actor=world.editor, version=self.delivered.version)
        # on a second shot, a removal the production puts under the lead's consent, delivered
        services.update_fix_policy(actor=world.producer, production=world.production,
                                   consent_kinds=["object_removal"], reason="Lead's contract")
        shot = ShotFactory(production=world.production, name="SC020_SH010")
        plate = ready_version(shot)
        self.consent = consent_for(world, kinds=["object_removal"], shots=[shot, world.shot])
        self.consented = world.propose(world.removal(source_version=plate, mask_annotation=polygon(plate, world.supervisor),
                                                     performer="Mara Quell", reason="Wire on the lead's sleeve"),
                                       tmp_path, content=b"two")
        world.sign(self.consented, world.second_producer)
        services.promote_to_delivery(actor=world.editor, version=self.consented.version)
        # approved, never delivered
        self.approved_only = world.propose(world.removal(performer="Mara Quell", reason="Approved, kept back"),
                                           tmp_path, content=b"three")
        world.sign(self.approved_only, world.producer)
        # rejected
        rejected = world.propose(world.removal(performer="Mara Quell", reason="Rejected one"), tmp_path,
                                 content=b"four")
        services.reject_proposal(actor=world.producer, proposal=rejected, reason="Smears")
        # another production's delivery
        self.other = _other_world(tmp_path)


def _other_world(tmp_path):
    world = World(code="elsewhere")
    proposal = world.propose(world.removal(reason="Other production's fix"), tmp_path, content=b"elsewhere")
    world.sign(proposal, world.producer)
    services.promote_to_delivery(actor=world.editor, version=proposal.version)
    return world


@pytest.fixture
def seeded(db, tmp_path):
    return Seeded(tmp_path)


def take(fmt, scope, actor):
    return b"".join(start_disclosure(actor=actor, fmt=fmt, scope=scope))


def test_the_disclosure_lists_exactly_the_ai_changes_that_reached_a_delivery(seeded):
    # given a production with two delivered changes, one approved but kept back, one rejected
    world = seeded.world

    # when compliance takes the JSON disclosure
    report = json.loads(take("json", DisclosureScope(world.production), world.compliance))

    # then it lists the two delivered changes and nothing else
    delivered = Proposal.objects.filter(request__production=world.production, delivery_version__isnull=False)
    assert sorted(c["model_card_sha256"] for c in report["changes"]) == \
        sorted(p.model_card_sha256 for p in delivered)
    assert [c["shot"] for c in report["changes"]] == ["SC010_SH030", "SC020_SH010"]
    assert "Approved, kept back" not in json.dumps(report) and "Rejected one" not in json.dumps(report)
    assert "Other production's fix" not in json.dumps(report)


def test_each_change_names_its_consent_approvers_model_and_training_footage(seeded):
    world = seeded.world
    technical, consented = json.loads(take("json", DisclosureScope(world.production), world.compliance))["changes"]

    # the technical change needed no consent; the one under the lead's contract names hers
    assert technical["change_category"] == "technical" and technical["consent"] is None
    assert consented["consent"]["performer"] == "Mara Quell"
    assert consented["consent"]["document_sha256"] == seeded.consent.document_sha256
    # who approved, with the meaning of their signature
    assert [a["printed_name"] for a in technical["approvers"]] == [world.producer.printed_name]
    assert [a["printed_name"] for a in consented["approvers"]] == [world.second_producer.printed_name]
    assert consented["approvers"][0]["meaning"] == "approval"
    # the model and what it learned from: this production's own footage, with the hashes given to it
    assert technical["model"]["method"] == "flow-propagation+internal-cnn"
    assert technical["training_sources"] == [{"role": "shot being fixed", "shot": "SC010_SH030", "version": world.plate.number,
                                              "sha256": "a" * 64, "frames": "1001–1012"}]
    assert technical["trained_on"] == "this shot's own frames only; no pretrained weights"


def test_the_disclosure_of_one_delivery_lists_only_it(seeded):
    world = seeded.world
    report = json.loads(take("json", DisclosureScope(world.production, seeded.delivery), world.compliance))
    assert [c["shot"] for c in report["changes"]] == ["SC010_SH030"]


def test_the_csv_and_pdf_say_the_same(seeded, tmp_path):
    world = seeded.world
    scope = DisclosureScope(world.production)
    rows = list(csv.DictReader(io.StringIO(take("csv", scope, world.compliance).decode())))
    assert [r["shot"] for r in rows] == ["SC010_SH030", "SC020_SH010"]
    assert rows[1]["consent"].startswith("Mara Quell: Digital alteration of a performance")
    assert rows[0]["consent"] == "not needed (technical change)"

    path = tmp_path / "disclosure.pdf"
    path.write_bytes(take("pdf", scope, world.compliance))
    pdf = " ".join(pdf_text(path).split())
    assert "SC010_SH030" in pdf and "SC020_SH010" in pdf and "Mara Quell" in pdf
    assert "Approved, kept back" not in pdf and "AI-made changes delivered 2" in pdf
    assert pikepdf.pdfa.validate_written(path, "2b").passed


def test_taking_the_disclosure_is_audited(seeded):
    world = seeded.world
    take("csv", DisclosureScope(world.production), world.compliance)
    event = AuditEvent.objects.get(action="audit.disclosure_exported")
    assert event.actor == world.compliance and event.after == {"format": "csv"}


def test_the_disclosure_page_is_scoped_to_the_production(client, seeded):
    world = seeded.world
    url = reverse("audit-disclosure", args=[world.production.code, "json"])
    # a viewer may not take it
    client.login(username=world.viewer.username, password=PASSWORD)
    assert client.post(url, {"reason": "check"}).status_code == 403
    # another production's producer gets nothing, as if it were not there
    client.login(username=seeded.other.producer.username, password=PASSWORD)
    assert client.post(url, {"reason": "check"}).status_code == 404
    # compliance gets it, with a typed reason; a delivery of another production is not found
    client.login(username=world.compliance.username, password=PASSWORD)
    assert json.loads(b"".join(client.post(url, {"reason": "check"})))["production"] == world.production.code
    foreign = Proposal.objects.get(request__production=seeded.other.production).delivery_version
    assert client.post(url, {"delivery": foreign.pk, "reason": "check"}).status_code == 404
    # and a followed link takes nothing
    assert client.get(url, {"reason": "words put in my mouth"}).status_code == 302
