"""The run command: one process tree with Redis, daphne, a Celery worker and beat; Ctrl-C stops all.

A process that exits is restarted with a log line (answerprint/processes.py): a crashed worker
or beat, or the private Redis, which comes back with its append-only file, so queued work and
room groups survive it.
"""
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import BaseCommand, call_command

from answerprint.audit.signing import ensure_signing_key
from answerprint.localredis import free_port, redis_server_args, wait_for_redis
from answerprint.processes import Supervisor, read_procfile


class Command(BaseCommand):
    help = "Migrate, seed the demo production and run the web server, a worker, beat and (if needed) Redis."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--no-demo", action="store_true", help="Do not create the demo production.")

    def handle(self, *args, port, host, no_demo, **options):
        root = settings.BASE_DIR
        commands = read_procfile(root / "Procfile")
        redis_url = os.environ.get("REDIS_URL", "")
        if not redis_url:
            redis_port = free_port()
            redis_url = f"redis://127.0.0.1:{redis_port}/0"
            args = redis_server_args(redis_port, settings.VAR_DIR / "redis")
            commands = {"redis": shlex.join(str(arg) for arg in args), **commands}
        if ensure_signing_key(settings.AUDIT_SIGNING_KEY_FILE):
            self.stdout.write(f"Made the audit signing key {settings.AUDIT_SIGNING_KEY_FILE} (keep it safe)")
        call_command("migrate", interactive=False, verbosity=0)
        if not settings.DEBUG:
            call_command("collectstatic", interactive=False, verbosity=0)

        env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "HOST": host,
            "PORT": str(port),
            "PYTHONPATH": os.pathsep.join([str(root / "platform"), str(root)]),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            "PYTHONUNBUFFERED": "1",
        }
        supervisor = Supervisor(commands, env=env, cwd=root)
        # systemd, a container runtime or `kill` stop us with SIGTERM: shut down as for Ctrl-C.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            if "redis" in commands:
                supervisor.start("redis")
                wait_for_redis(redis_port)
                self.stdout.write(f"Redis: {redis_url} (private server, append-only file in {settings.VAR_DIR / 'redis'})")
            else:
                self.stdout.write(f"Redis: {redis_url}")
            if not no_demo:
                # In a child process: this one read its settings before the private Redis existed,
                # and the demo's ingest tasks must reach the worker through that Redis.
                subprocess.run([sys.executable, str(root / "manage.py"), "seed_demo"], env=env, check=True)
            self.stdout.write(self.style.SUCCESS(f"\nAnswerprint is starting at http://{host}:{port}/"))
            self.stdout.write("Press Ctrl-C to stop everything.\n")
            code = supervisor.run()
        except KeyboardInterrupt:
            code = 0
        finally:
            supervisor.stop()
        if code:
            raise SystemExit(code)
