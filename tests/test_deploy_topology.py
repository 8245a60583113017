"""The deployment files describe a topology that keeps work and rooms alive: Redis with its
append-only file, exactly one beat, health checks everywhere, and nginx passing the client's
address on."""
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def _compose():
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]


def test_compose_runs_redis_with_an_append_only_file_synced_every_second():
    command = _compose()["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "everysec"


def test_compose_runs_exactly_one_beat_and_every_long_running_service_has_a_health_check():
    services = _compose()
    beats = [name for name, service in services.items() if "beat" in service.get("command", [])]
    assert beats == ["beat"] and services["beat"]["deploy"]["replicas"] == 1
    for name, service in services.items():
        if name != "migrate":
            assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
    assert "/readyz" in " ".join(services["web1"]["healthcheck"]["test"])


def test_systemd_has_one_beat_unit_and_redis_keeps_its_append_only_file():
    beat = (DEPLOY / "systemd" / "answerprint-beat.service").read_text()
    assert "celery -A answerprint beat" in beat
    redis = (DEPLOY / "systemd" / "redis-server.service.d" / "answerprint.conf").read_text()
    assert "--appendonly yes --appendfsync everysec" in redis


def test_nginx_passes_the_client_address_and_scheme_to_every_location():
    conf = (DEPLOY / "nginx.conf").read_text()
    proxied = conf.count("proxy_pass http://answerprint_web;")
    # The client's own address, never appended to one the client sent: the log-in lock-out counts by it.
    assert proxied == conf.count("X-Forwarded-For $remote_addr;") == conf.count("X-Forwarded-Proto $scheme")
