"""Real processes for tests that need them: a Redis server of the test's own (which it may kill
and restart on the same port), daphne, the run command, and a database file they all share.

Nothing here touches a shared server: every Redis is started on a free port in the test's folder.
"""
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from answerprint.localredis import free_port, redis_server_binary, wait_for_redis

ROOT = Path(__file__).resolve().parents[1]
DAPHNE = Path(sys.executable).with_name("daphne")


def wait_until(predicate, timeout, what, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def stop(process, grace=10):
    """SIGTERM the process's group, SIGKILL what is left after `grace` seconds."""
    if process is None or process.poll() is not None:
        return
    for signum in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            return
        try:
            process.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


class RedisServer:
    """A redis-server of this test's own, on a fixed free port so clients find it again after a
    restart. `persistent`: with the append-only file, as the run command and compose run it;
    without, as a Redis that lost everything."""

    def __init__(self, folder: Path, *, persistent: bool):
        self.folder, self.persistent = Path(folder), persistent
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        persistence = ["--appendonly", "yes", "--appendfsync", "everysec"] if self.persistent \
            else ["--appendonly", "no"]
        self.process = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *persistence,
             "--dir", str(self.folder), "--logfile", str(self.folder / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for_redis(self.port, self.process)
        return self

    def kill(self):
        """As a crash: SIGKILL, no chance to write anything more."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self):
        stop(self.process)


def environment(tmp_path: Path, redis_url: str, **extra) -> dict:
    """The environment of every process of one test: one SQLite file, one media folder, one Redis."""
    return {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}", "REDIS_URL": redis_url,
            "ANSWERPRINT_VAR_DIR": str(tmp_path / "var"), "MEDIA_ROOT": str(tmp_path / "media"),
            "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}", "DJANGO_SETTINGS_MODULE": "answerprint.settings",
            "DEBUG": "1", "ALLOWED_HOSTS": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1",
            **extra}


def run_script(env: dict, script: str, *, timeout=240) -> dict:
    """Run Python in a fresh process with `env` (migrating first); its last line is JSON."""
    prelude = ("import django, json\ndjango.setup()\nfrom django.conf import settings\n"
               "from django.core.management import call_command\n"
               "from answerprint.audit.signing import ensure_signing_key\n"
               "ensure_signing_key(settings.AUDIT_SIGNING_KEY_FILE)\ncall_command('migrate', verbosity=0)\n")
    done = subprocess.run([sys.executable, "-c", prelude + script], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def manage(env: dict, *args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def start_daphne(env: dict, log_path: Path, port: int | None = None):
    """daphne on a free loopback port; returns (process, port) once it listens."""
    port = port or free_port()
    log = open(log_path, "a")
    process = subprocess.Popen([str(DAPHNE), "-b", "127.0.0.1", "-p", str(port), "answerprint.asgi:application"],
                               env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()

    def listening():
        if process.poll() is not None:
            raise AssertionError(f"daphne exited with {process.returncode}: {log_path.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    wait_until(listening, 120, f"daphne on port {port}")
    return process, port


def query(database: Path, sql: str, *params):
    """Read the shared SQLite file directly (the test's own Django uses its own test database)."""
    with sqlite3.connect(database, timeout=20) as connection:
        return connection.execute(sql, params).fetchall()


WORLD = """
from answerprint.accounts.tokens import create_token
from answerprint.accounts.models import Membership, Production, User
from answerprint.media.models import Shot, Version
production = Production.objects.create(code="faults", title="Faults")
versions = [Version.objects.create(shot=Shot.objects.create(production=production, name=f"SC001_SH0{n}0",
                                                            first_frame=1001, last_frame=1100), number=1)
            for n in (1, 2)]
tokens = []
for name, role in (("ana", "supervisor"), ("ben", "producer"), ("cy", "supervisor")):
    user = User.objects.create_user(username=name, password="not-used-here-1")
    Membership.objects.create(production=production, user=user, role=role)
    tokens.append(create_token(actor=user, name="fault tests")[1])
print(json.dumps({"versions": [v.pk for v in versions], "tokens": tokens}))
"""


class PostgresServer:
    """A PostgreSQL cluster of this test's own (initdb in the test's folder, a free port), which
    the test may stop and start; never the machine's shared one. Run as the `postgres` user when
    this process is root, as initdb refuses root."""

    def __init__(self):
        import glob
        import pwd
        import shutil
        import tempfile

        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        initdb = shutil.which("initdb") or (bins[-1] if bins else None)
        if initdb is None:
            raise RuntimeError("initdb is not installed")
        self.bin = Path(initdb).parent
        # Its own folder under the system's temporary directory: the postgres user must be able
        # to reach it, which it cannot inside pytest's private folders.
        self.folder = Path(tempfile.mkdtemp(prefix="answerprint-postgres-"))
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        self.as_user = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.data = self.folder / "data"
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _run(self, tool, *args):
        done = subprocess.run([*self.as_user, str(self.bin / tool), *args], capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stderr[-2000:]}")

    def start(self):
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "postgres.log"), "-w", "start", "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off")
        return self

    def stop(self, mode="fast"):
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self):
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)
