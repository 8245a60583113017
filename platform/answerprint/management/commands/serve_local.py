"""The run command: one process tree with Redis, daphne and a Celery worker; Ctrl-C stops all."""
import os
import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import BaseCommand, call_command

from answerprint.audit.signing import ensure_signing_key
from answerprint.localredis import ensure_redis_url


class Command(BaseCommand):
    help = "Migrate, seed the demo production and run the web server, a worker and (if needed) Redis."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--no-demo", action="store_true", help="Do not create the demo production.")

    def handle(self, *args, port, host, no_demo, **options):
        redis_url, redis_process = ensure_redis_url(settings.VAR_DIR / "redis")
        self.stdout.write(f"Redis: {redis_url}" + (" (private server)" if redis_process else ""))
        if ensure_signing_key(settings.AUDIT_SIGNING_KEY_FILE):
            self.stdout.write(f"Made the audit signing key {settings.AUDIT_SIGNING_KEY_FILE} (keep it safe)")
        call_command("migrate", interactive=False, verbosity=0)
        if not settings.DEBUG:
            call_command("collectstatic", interactive=False, verbosity=0)

        root = settings.BASE_DIR
        env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "HOST": host,
            "PYTHONPATH": os.pathsep.join([str(root / "platform"), str(root)]),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            "PYTHONUNBUFFERED": "1",
        }
        if not no_demo:
            # In a child process: this one read its settings before the private Redis existed, and
            # the demo's ingest tasks must reach the worker through that Redis.
            subprocess.run([sys.executable, str(root / "manage.py"), "seed_demo"], env=env, check=True)
        self.stdout.write(self.style.SUCCESS(f"\nAnswerprint is starting at http://{host}:{port}/"))
        self.stdout.write("Press Ctrl-C to stop everything.\n")
        # systemd, a container runtime or `kill` stop us with SIGTERM: shut down as for Ctrl-C.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        honcho = subprocess.Popen([sys.executable, "-m", "honcho", "-f", str(root / "Procfile"), "-d", str(root),
                                   "start", "-p", str(port)], env=env)
        try:
            honcho.wait()
        except KeyboardInterrupt:
            # A terminal's Ctrl-C reaches honcho too; a signal sent to this process alone does not.
            honcho.send_signal(signal.SIGINT)
            honcho.wait()
        finally:
            if redis_process is not None:
                redis_process.terminate()
                redis_process.wait(timeout=10)
