"""A live ASGI server (daphne, with Channels and Redis) over a file database, and Debian's
chromium driven by Playwright, for the end-to-end tests.

pytest-django's live_server is WSGI and has no WebSockets, so the server is a real daphne
process; the world it serves is built once per run by tests/e2e/world.py in its own SQLite file,
apart from pytest-django's test database.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-quic", "--autoplay-policy=no-user-gesture-required"]
VIEWPORT = {"width": 1280, "height": 800}


def pytest_collection_modifyitems(config, items):
    if shutil.which(CHROMIUM) is None:
        skip = pytest.mark.skip(reason=f"no browser at {CHROMIUM}: run `make browser` to install Debian's chromium")
        for item in items:
            if "e2e" in item.keywords:
                item.add_marker(skip)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(folder):
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "CELERY_TASK_ALWAYS_EAGER")}
    env.update({
        "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}",
        "DJANGO_SETTINGS_MODULE": "answerprint.settings",
        "DATABASE_URL": f"sqlite:///{folder / 'e2e.sqlite3'}",
        "MEDIA_ROOT": str(folder / "media"),
        "ANSWERPRINT_VAR_DIR": str(folder / "var"),
        "DEBUG": "true",
        "LOG_LEVEL": "WARNING",
    })
    return env


@pytest.fixture(scope="package")
def e2e_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="package")
def world(e2e_folder):
    """The ids of what the tests review (see world.py)."""
    env = _server_env(e2e_folder)
    env.pop("REDIS_URL", None)  # built in one process: ingest runs here, nothing is broadcast
    env.setdefault("E2E_FOOTAGE_DIR", str(ROOT / "var" / "e2e-footage"))
    done = subprocess.run([sys.executable, "-m", "tests.e2e.world", str(e2e_folder)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)
    line = next((line for line in done.stdout.splitlines() if line.startswith("WORLD ")), None)
    if done.returncode or line is None:
        raise RuntimeError(f"building the e2e world failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}")
    return json.loads(line[len("WORLD "):])


@pytest.fixture(scope="package")
def server(world, e2e_folder):
    """The base URL of a daphne serving the world, stopped at the end of the run."""
    if not os.environ.get("REDIS_URL"):
        pytest.skip("the review rooms need Redis: set REDIS_URL (the test command provides one)")
    port = _free_port()
    log = (e2e_folder / "daphne.log").open("w")
    daphne = ROOT / ".venv" / "bin" / "daphne"
    command = [str(daphne) if daphne.exists() else "daphne", "-b", "127.0.0.1", "-p", str(port),
               "answerprint.asgi:application"]
    process = subprocess.Popen(command, cwd=ROOT, env=_server_env(e2e_folder), stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/login/", timeout=2)
                break
            except urllib.error.HTTPError:
                break  # it answers
            except Exception:  # noqa: BLE001 - not listening yet
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"daphne did not start:\n{(e2e_folder / 'daphne.log').read_text()[-3000:]}")
                time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@pytest.fixture(scope="package")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread, so the test's own ORM calls
    # would trip Django's async guard; lift it only while the browser is open, so later
    # tests (and the processes they spawn) keep the guard.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            try:
                yield chromium
            finally:
                chromium.close()


class Reviewer:
    """One person's browser context, logged in."""

    def __init__(self, browser, server, world, username):
        self.server, self.world, self.username = server, world, username
        self.context = browser.new_context(viewport=VIEWPORT, base_url=server)
        self.page = self.context.new_page()
        self.errors = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto("/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", world["password"])
        self.page.click("button[type=submit]")
        self.page.wait_for_url(lambda url: "/login/" not in url)

    def shot_url(self, **query):
        from urllib.parse import urlencode

        base = f"/p/{self.world['production']}/shots/{self.world['shot']}/"
        return base + ("?" + urlencode(query) if query else "")

    def open_shot(self, **query):
        self.page.goto(self.shot_url(**query))
        self.page.wait_for_function("() => document.querySelector('ap-player')?.ready === true", timeout=15000)
        return self.page

    def screenshot(self, name):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

    def close(self):
        self.context.close()


@pytest.fixture
def reviewers(browser, server, world):
    """Log people in: reviewers('producer', 'supervisor') -> their Reviewer objects."""
    opened = []

    def open_(*usernames):
        made = [Reviewer(browser, server, world, name) for name in usernames]
        opened.extend(made)
        return made if len(made) > 1 else made[0]

    yield open_
    for reviewer in opened:
        reviewer.close()
