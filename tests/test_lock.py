"""The lock files are what every install uses (make, CI, the Dockerfile): they must satisfy
pyproject.toml, pin every package with hashes, and agree with each other."""
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def read_lock(name):
    """{package: version} and the packages that carry at least one hash."""
    pins, hashed, current = {}, set(), None
    for line in (ROOT / "requirements" / name).read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = match.group(2)
        if current and "--hash=sha256:" in line:
            hashed.add(current)
    return pins, hashed


def declared(*extras):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


@pytest.mark.parametrize("lock, extras", [("app.lock", ("worker",)), ("test.lock", ("worker", "test"))])
def test_each_lock_satisfies_every_declared_dependency(lock, extras):
    # given a lock file and the dependencies pyproject.toml declares for it
    pins, _ = read_lock(lock)

    # when each requirement is looked up in the lock
    unmet = [str(req) for req in declared(*extras)
             if req.marker is None or req.marker.evaluate()
             if canonicalize_name(req.name) not in pins
             or not req.specifier.contains(pins[canonicalize_name(req.name)], prereleases=True)]

    # then every one is pinned to a version it allows (else: run `make lock`)
    assert unmet == []


@pytest.mark.parametrize("lock", ["app.lock", "test.lock"])
def test_every_pin_carries_a_hash(lock):
    pins, hashed = read_lock(lock)
    assert pins and set(pins) == hashed


def test_the_locks_agree_and_torch_is_the_cpu_build():
    app, _ = read_lock("app.lock")
    test, _ = read_lock("test.lock")
    assert {name: version for name, version in test.items() if name in app} == app
    assert app["torch"].startswith("2.13.0")
