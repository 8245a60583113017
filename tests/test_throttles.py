"""API writes are rate-limited per user and per production; reads are not."""
import pytest

from answerprint.accounts.models import Role
from answerprint.audit.models import AuditEvent
from answerprint.throttles import ProductionWriteThrottle, UserWriteThrottle
from tests.factories import ProductionFactory, ShotFactory, member


@pytest.fixture
def rates(monkeypatch):
    rates = {"user_writes": "5/minute", "production_writes": "8/minute"}
    for throttle in (UserWriteThrottle, ProductionWriteThrottle):
        monkeypatch.setattr(throttle, "THROTTLE_RATES", rates)
    return rates


def _patch_shot(client, production, shot, n):
    return client.patch(f"/api/productions/{production.code}/shots/{shot.name}/",
                        {"description": f"take {n}", "reason": "notes"}, content_type="application/json")


@pytest.mark.django_db
def test_a_user_posting_in_a_burst_is_held_back_and_told_when_to_retry(client, rates):
    # given an editor
    production = ProductionFactory()
    shot = ShotFactory(production=production)
    client.force_login(member(production, Role.EDITOR))

    # when they make seven writes in a row, then read
    statuses = [_patch_shot(client, production, shot, n).status_code for n in range(7)]
    throttled = _patch_shot(client, production, shot, 99)
    read = client.get(f"/api/productions/{production.code}/shots/")

    # then five went through, the rest were refused with Retry-After and left no audit event; reads still work
    assert statuses == [200] * 5 + [429] * 2
    assert int(throttled["Retry-After"]) > 0
    assert AuditEvent.objects.filter(action="shot.updated").count() == 5
    assert read.status_code == 200


@pytest.mark.django_db
def test_a_production_has_one_budget_for_all_its_members_that_outsiders_cannot_spend(client, rates):
    # given a production with three editors, and the producer of another production
    production = ProductionFactory()
    shot = ShotFactory(production=production)
    editors = [member(production, Role.EDITOR) for _ in range(3)]
    outsider = member(ProductionFactory(), Role.PRODUCER)

    # when the outsider hammers its address, then the editors write three each
    client.force_login(outsider)
    assert {_patch_shot(client, production, shot, n).status_code for n in range(5)} == {404}
    statuses = []
    for editor in editors:
        client.force_login(editor)
        statuses += [_patch_shot(client, production, shot, n).status_code for n in range(3)]

    # then the production's eight writes went through and the ninth was held back
    assert statuses == [200] * 8 + [429]


@pytest.mark.django_db
def test_writes_go_through_while_the_shared_cache_is_down(client, rates, monkeypatch):
    # given an editor, and a cache that cannot be reached (Redis restarting)
    production = ProductionFactory()
    shot = ShotFactory(production=production)
    client.force_login(member(production, Role.EDITOR))

    def unreachable(*args, **kwargs):
        raise ConnectionError("Redis is restarting")

    from django.core.cache.backends.locmem import LocMemCache

    monkeypatch.setattr(LocMemCache, "get", unreachable)
    monkeypatch.setattr(LocMemCache, "add", unreachable)

    # when they write, then the write is not refused for want of a counter
    assert _patch_shot(client, production, shot, 1).status_code == 200
    from answerprint.throttles import review_ops_wait

    assert review_ops_wait(1) == 0.0
