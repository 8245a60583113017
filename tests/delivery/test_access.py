"""The permission matrix for the delivery pages and API, as tests/test_permissions.py holds it
for the rest: an outsider gets 404, a role without the right 403, anonymous callers log in."""
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from answerprint.accounts.models import Membership, Role
from answerprint.accounts.permissions import CAPABILITIES
from answerprint.delivery import webhooks
from answerprint.delivery.models import DeliveryPackage, PackageState
from answerprint.fixes import services as fix_services
from tests.factories import ProductionFactory, member
from tests.test_permissions import ROLE_ORDER, Endpoint, _call

ENDPOINTS = [
    Endpoint("get", "/p/{code}/deliveries/", "view"),
    Endpoint("get", "/p/{code}/webhooks/", "edit_production"),
    Endpoint("post", "/p/{code}/webhooks/", "edit_production"),
    Endpoint("post", "/p/{code}/webhooks/{endpoint}/test/", "edit_production"),
    Endpoint("post", "/p/{code}/webhooks/{endpoint}/rotate/", "edit_production"),
    Endpoint("get", "/api/productions/{code}/deliveries/", "view"),
    Endpoint("get", "/api/productions/{code}/deliveries/{package}/files/clip.mov", "download_original"),
    Endpoint("get", "/api/productions/{code}/notes/export.edl", "view"),
]


@pytest.fixture
def matrix(world, tmp_path):
    proposal = world.propose(world.removal(), tmp_path)
    world.sign(proposal, world.producer)
    delivery = fix_services.promote_to_delivery(actor=world.editor, version=proposal.version)
    package = delivery.delivery_package
    default_storage.save(f"{package.folder}/clip.mov", ContentFile(b"delivered"))
    DeliveryPackage.objects.filter(pk=package.pk).update(
        state=PackageState.READY, files=[{"path": "clip.mov", "size": 9, "sha256": "0" * 64}])
    endpoint, _ = webhooks.create_endpoint(
        actor=world.producer, production=world.production,
        membership=Membership.objects.get(user=world.producer, production=world.production),
        url="http://127.0.0.1:9/nobody", events=["decision.made"])
    return {"production": world.production,
            "values": {"code": world.production.code, "package": package.pk, "endpoint": endpoint.pk}}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_an_outsider_gets_404_as_if_nothing_were_there(client, matrix, endpoint):
    client.force_login(member(ProductionFactory(code="elsewhere"), Role.PRODUCER))
    assert _call(client, endpoint, matrix["values"]).status_code == 404


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.capability != "view"], ids=str)
def test_a_role_without_the_right_gets_403(client, matrix, endpoint):
    lacking = next(role for role in ROLE_ORDER if role not in CAPABILITIES[endpoint.capability])
    client.force_login(member(matrix["production"], lacking))
    assert _call(client, endpoint, matrix["values"]).status_code == 403


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_a_role_with_the_right_is_let_through(client, matrix, endpoint):
    allowed = next(role for role in reversed(ROLE_ORDER) if role in CAPABILITIES[endpoint.capability])
    client.force_login(member(matrix["production"], allowed))
    response = _call(client, endpoint, matrix["values"])
    assert response.status_code not in (403, 404), response.content[:300]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_anonymous_callers_are_sent_to_log_in(client, matrix, endpoint):
    response = _call(client, endpoint, matrix["values"])
    if endpoint.path.startswith("/api/"):
        assert response.status_code == 401
    else:
        assert response.status_code == 302 and response["Location"].startswith("/login/")
