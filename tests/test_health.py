"""/healthz answers whenever the process does; /readyz checks what a request here needs."""
import pytest
from django.test import Client


@pytest.mark.django_db
def test_liveness_answers_without_a_host_check_or_https_redirect(settings):
    # given a production configuration, probed by address over plain HTTP
    settings.DEBUG, settings.SECURE_SSL_REDIRECT, settings.ALLOWED_HOSTS = False, True, ["review.example.com"]

    # when the orchestrator asks
    response = Client(HTTP_HOST="10.0.0.7:8001").get("/healthz")

    # then it is told the process is alive
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readiness_reports_each_dependency(settings):
    # given the embedded default's private Redis
    assert settings.REDIS_URL

    # when the load balancer asks
    response = Client().get("/readyz")

    # then every check answered, with the queues' depth
    body = response.json()
    assert response.status_code == 200 and body["status"] == "ready", body
    assert set(body["checks"]) == {"database", "redis", "storage", "outbox", "audit"}
    assert set(body["checks"]["redis"]["queue_depth"]) == {"default", "media", "gpu"}


@pytest.mark.django_db
def test_readiness_fails_when_redis_cannot_be_reached(settings):
    # given a Redis that is not there
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    # when the load balancer asks
    response = Client().get("/readyz")

    # then the process is not ready, and the answer names why
    body = response.json()
    assert response.status_code == 503 and body["status"] == "not ready"
    assert body["checks"]["redis"]["ok"] is False and "Connection" in body["checks"]["redis"]["error"]
    assert body["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_recorded_work_gone_missing_degrades_readiness_without_failing_it(settings):
    # given a recorded task nobody started, long past the bound
    from answerprint.outbox.services import record_task

    settings.OUTBOX_QUEUED_SECONDS = -1
    record_task("answerprint.review.tasks.expire_presence", [])

    # when the load balancer asks
    body = Client().get("/readyz").json()

    # then traffic still comes here, but the report says the outbox is behind
    assert body["status"] == "ready" and body["degraded"] == ["outbox"]
    assert body["checks"]["outbox"]["stale_tasks"] == 1
