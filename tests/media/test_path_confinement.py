"""A production's media never reaches another production (DESIGN rule 7).

Every input that names a stored file — a registered path, an uploaded or attached file name — is
tried with another production's paths, absolute paths, links out and encoded ways up. The answer
must be the same whether or not something exists at the place it names, and nothing is made.
Media views refuse to serve a file that is not the asset's production's own, whatever the asset
row says, so an asset registered before paths were confined serves nothing either.
"""
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from answerprint.accounts.models import Role
from answerprint.audit.models import AuditEvent
from answerprint.fixes.models import Consent
from answerprint.fixes.services import record_consent
from answerprint.media.models import AssetStatus, MediaAsset, Version
from answerprint.media.services import ingest_upload
from answerprint.media.storage import lies_in_production, production_root
from tests.factories import ProductionFactory, ShotFactory, VersionFactory, member

SECRET = b"the other production's original, byte for byte"


@pytest.fixture
def two_productions(db, settings):
    """'demo' with an original and a frame sequence on storage; 'rival' whose editor attacks it."""
    demo, rival = ProductionFactory(code="demo"), ProductionFactory(code="rival")
    original = default_storage.save("productions/demo/shots/SC010_SH010/v001/original/SC010_SH010.mp4",
                                    ContentFile(SECRET))
    for number in (1001, 1002):
        default_storage.save(f"productions/demo/incoming/SC010_SH010/frame.{number}.png", ContentFile(SECRET))
    shot = ShotFactory(production=rival, name="RV010")
    editor = member(rival, Role.EDITOR)
    return {"demo": demo, "rival": rival, "shot": shot, "editor": editor, "original": original,
            "media_root": Path(settings.MEDIA_ROOT)}


def _link(media_root, link, target):
    """A symbolic link in storage, as someone with access to a drop folder could leave one."""
    link_path = media_root / link
    link_path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, link_path)


# (what the attacker types, the same form naming nothing): the answers must not differ.
ATTACKS = {
    "other production's original": ("productions/demo/shots/SC010_SH010/v001/original/SC010_SH010.mp4",
                                    "productions/demo/shots/SC010_SH010/v001/original/NOTHING.mp4"),
    "other production's sequence": ("productions/demo/incoming/SC010_SH010/frame.%04d.png",
                                    "productions/demo/incoming/NOTHING/frame.%04d.png"),
    "way up to the sibling": ("../demo/shots/SC010_SH010/v001/original/SC010_SH010.mp4",
                              "../demo/shots/SC010_SH010/v001/original/NOTHING.mp4"),
    "way up to the root": ("incoming/../../../productions/demo/shots/SC010_SH010/v001/original/SC010_SH010.mp4",
                           "incoming/../../../productions/demo/shots/SC010_SH010/v001/original/NOTHING.mp4"),
    "absolute": ("{media_root}/productions/demo/shots/SC010_SH010/v001/original/SC010_SH010.mp4",
                 "{media_root}/productions/demo/shots/SC010_SH010/v001/original/NOTHING.mp4"),
    "percent-encoded way up": ("..%2fdemo%2fshots%2fSC010_SH010%2fv001%2foriginal%2fSC010_SH010.mp4",
                               "..%2fdemo%2fshots%2fSC010_SH010%2fv001%2foriginal%2fNOTHING.mp4"),
    "percent-encoded dots": ("%2e%2e/demo/shots/SC010_SH010/v001/original/SC010_SH010.mp4",
                             "%2e%2e/demo/shots/SC010_SH010/v001/original/NOTHING.mp4"),
    "double-encoded way up": ("..%252f..%252fproductions%252fdemo%252fshots%252fSC010_SH010%252fv001%252foriginal"
                              "%252fSC010_SH010.mp4",
                              "..%252f..%252fproductions%252fdemo%252fshots%252fSC010_SH010%252fv001%252foriginal"
                              "%252fNOTHING.mp4"),
    "full-width dots": ("\uff0e\uff0e/demo/shots/SC010_SH010/v001/original/SC010_SH010.mp4",
                        "\uff0e\uff0e/demo/shots/SC010_SH010/v001/original/NOTHING.mp4"),
    "backslashes": ("..\\demo\\shots\\SC010_SH010\\v001\\original\\SC010_SH010.mp4",
                    "..\\demo\\shots\\SC010_SH010\\v001\\original\\NOTHING.mp4"),
    "NUL byte": ("incoming/x.mp4\x00/../../demo/shots/SC010_SH010/v001/original/SC010_SH010.mp4",
                 "incoming/x.mp4\x00/../../demo/shots/SC010_SH010/v001/original/NOTHING.mp4"),
    "link to a file": ("incoming/linked.mp4", "incoming/unlinked.mp4"),
    "link to a folder": ("incoming/linked-folder/frame.%04d.png", "incoming/unlinked-folder/frame.%04d.png"),
    "link to a folder, one file": ("incoming/linked-folder/frame.1001.png", "incoming/unlinked-folder/frame.1001.png"),
}


def _plant_links(world):
    root = world["media_root"]
    _link(root, "productions/rival/incoming/linked.mp4", root / world["original"])
    _link(root, "productions/rival/incoming/linked-folder", root / "productions/demo/incoming/SC010_SH010")


def _register(client, world, path):
    response = client.post(f"/api/productions/rival/shots/{world['shot'].name}/register/", {"path": path},
                           content_type="application/json")
    return response.status_code, response.content.decode()


@pytest.mark.parametrize("attack", ATTACKS, ids=str)
def test_register_answers_a_path_outside_the_production_as_if_nothing_were_there(client, two_productions, attack):
    # given a rival editor, another production's media on the same storage, and links out of theirs
    world = two_productions
    _plant_links(world)
    client.force_login(world["editor"])
    aimed, nowhere = (path.format(media_root=world["media_root"]) for path in ATTACKS[attack])

    # when they register a path aimed at the other production's media, and the same form naming nothing
    aimed_status, aimed_body = _register(client, world, aimed)
    nowhere_status, nowhere_body = _register(client, world, nowhere)

    # then both are refused alike, and nothing is made or recorded
    assert aimed_status == nowhere_status == 400
    assert aimed_body.replace(aimed.replace("\\", "\\\\"), "PATH").replace("linked", "X") == \
        nowhere_body.replace(nowhere.replace("\\", "\\\\"), "PATH").replace("unlinked", "X")
    assert "demo" not in aimed_body.replace(aimed, "")
    assert not Version.objects.filter(shot=world["shot"]).exists()
    assert not AuditEvent.objects.filter(action="media.registered").exists()


def test_a_production_registers_its_own_delivery_relative_to_its_folder(client, two_productions):
    # given a file in the rival production's own incoming folder
    world = two_productions
    default_storage.save("productions/rival/incoming/A001.mp4", ContentFile(b"rival's own"))
    client.force_login(world["editor"])

    # when it is registered by its path relative to the production's folder
    status, body = _register(client, world, "incoming/A001.mp4")

    # then it becomes a version pointing at exactly that file
    assert status == 201, body
    asset = MediaAsset.objects.get(version__shot=world["shot"])
    assert asset.original.name == "productions/rival/incoming/A001.mp4"


def test_a_file_replaced_by_a_link_out_after_registering_fails_ingest_instead_of_being_read(
        two_productions, django_capture_on_commit_callbacks, settings):
    # given a registered file in the rival production that is then swapped for a link to demo's original
    world = two_productions
    settings.CELERY_TASK_ALWAYS_EAGER = True
    default_storage.save("productions/rival/incoming/swap.mp4", ContentFile(b"placeholder"))
    from answerprint.media.services import process_asset, register_media

    version = register_media(actor=world["editor"], shot=world["shot"], path="incoming/swap.mp4")
    os.unlink(world["media_root"] / "productions/rival/incoming/swap.mp4")
    _link(world["media_root"], "productions/rival/incoming/swap.mp4", world["media_root"] / world["original"])

    # when the media task runs
    asset = process_asset(version.asset.pk)

    # then the asset fails, saying the original is not the production's, and no proxy was made
    assert asset.status == AssetStatus.FAILED
    assert "not in this production's media" in asset.status_reason
    assert not asset.proxy


@pytest.mark.parametrize("part", ["original", "proxy", "poster"])
def test_an_asset_pointing_at_another_productions_file_serves_nothing(client, two_productions, part):
    # given a rival asset whose files name demo's original (as registered before paths were confined)
    world = two_productions
    version = VersionFactory(shot=world["shot"])
    asset = MediaAsset.objects.create(version=version, original=world["original"], original_name="x.mp4",
                                      proxy=world["original"], poster=world["original"], status=AssetStatus.READY)
    client.force_login(member(world["rival"], Role.PRODUCER))

    # when a rival member fetches it
    response = client.get(f"/m/{asset.pk}/{part}")

    # then it is not found, and no download of demo's bytes was recorded anywhere
    assert response.status_code == 404
    assert SECRET not in b"".join(getattr(response, "streaming_content", [response.content]))


def test_a_link_inside_the_production_that_points_out_serves_nothing(client, two_productions):
    # given a rival proxy file that is a link to demo's original
    world = two_productions
    _link(world["media_root"], "productions/rival/shots/RV010/v001/derived/proxy.mp4",
          world["media_root"] / world["original"])
    version = VersionFactory(shot=world["shot"])
    asset = MediaAsset.objects.create(version=version, original="productions/rival/shots/RV010/v001/derived/proxy.mp4",
                                      proxy="productions/rival/shots/RV010/v001/derived/proxy.mp4",
                                      status=AssetStatus.READY)
    client.force_login(member(world["rival"], Role.VIEWER))

    # when it is fetched, then it is not found
    assert client.get(f"/m/{asset.pk}/proxy").status_code == 404


@pytest.mark.parametrize("file_name", ["../../demo/shots/x.mp4", "..", "/etc/passwd", "..\\..\\demo\\x.mp4",
                                       "%2e%2e%2fdemo.mp4", "a/../../../b.mov"])
def test_an_uploaded_file_name_stays_a_name_inside_the_productions_folder(two_productions, file_name):
    # given a rival editor uploading a file whose name tries to climb out
    world = two_productions

    # when it is uploaded
    version = ingest_upload(actor=world["editor"], shot=world["shot"],
                            uploaded_file=ContentFile(b"rival bytes", name=file_name))

    # then it is stored inside the rival production's own folder
    stored = version.asset.original.name
    assert lies_in_production(world["rival"], stored), stored
    assert stored.startswith("productions/rival/shots/RV010/")


@pytest.mark.parametrize("file_name", ["..", "../../demo/consent.pdf", "..\\..\\demo\\consent.pdf"])
def test_a_consent_document_name_stays_a_name_inside_the_productions_folder(two_productions, file_name):
    # given the rival producer recording a consent with a document whose name tries to climb out
    world = two_productions
    producer = member(world["rival"], Role.PRODUCER)

    # when it is recorded
    consent = record_consent(actor=producer, production=world["rival"], performer="A. Performer",
                             consent_type="digital_alteration", scope="Alter lip movement in RV010.",
                             kinds=["performance_alteration"], signed_by="A. Performer",
                             signed_at=timezone.now() - timedelta(days=3),
                             document=ContentFile(b"%PDF-1.4", name=file_name), shots=[world["shot"]])

    # then the document is stored inside the rival production's own folder
    stored = Consent.objects.get(pk=consent.pk).document.name
    assert stored.startswith(production_root(world["rival"]) + "/consents/") and ".." not in stored
