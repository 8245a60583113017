"""The run command's process supervisor: start every Procfile process, prefix and forward their
output, and restart one that exits (a crashed worker or beat) instead of stopping the others.

A process that keeps dying at once (MAX_QUICK_EXITS exits within QUICK_EXIT_SECONDS each, say
a port already taken) stops everything with its reason, rather than restarting for ever.
"""
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

RESTART_DELAYS = (0.5, 1.0, 2.0, 5.0)  # seconds before the n-th restart in a row; the last repeats
QUICK_EXIT_SECONDS = 10.0
MAX_QUICK_EXITS = 5
STOP_GRACE_SECONDS = 10.0

_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")


def read_procfile(path: Path) -> dict[str, str]:
    processes = {}
    for line in Path(path).read_text().splitlines():
        match = _LINE.match(line.strip())
        if match and not line.lstrip().startswith("#"):
            processes[match.group(1)] = match.group(2)
    return processes


@dataclass
class _Child:
    name: str
    command: str
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    quick_exits: int = 0
    restarts: int = 0
    readers: list = field(default_factory=list)


class Supervisor:
    def __init__(self, commands: dict[str, str], *, env: dict, cwd: Path, out=None):
        self.env, self.cwd = env, cwd
        self.out = out or sys.stdout
        self.children = [_Child(name, command) for name, command in commands.items()]
        self.width = max(len(name) for name in commands)
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def say(self, name: str, text: str) -> None:
        with self.lock:
            self.out.write(f"{time.strftime('%H:%M:%S')} {name:<{self.width}} | {text}\n")
            self.out.flush()

    def _start(self, child: _Child) -> None:
        # Its own process group, so that stopping it stops what its shell started too.
        child.process = subprocess.Popen(["/bin/sh", "-c", f"exec {child.command}"], cwd=self.cwd, env=self.env,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                                         text=True, bufsize=1, errors="replace")
        child.started_at = time.monotonic()
        reader = threading.Thread(target=self._forward, args=(child.name, child.process.stdout), daemon=True)
        reader.start()
        child.readers.append(reader)
        self.say("system", f"{child.name} started (pid {child.process.pid})")

    def _forward(self, name: str, stream) -> None:
        for line in stream:
            self.say(name, line.rstrip("\n"))

    def start(self, name: str) -> None:
        """Start one process ahead of the others (Redis, before the demo is seeded through it)."""
        self._start(next(child for child in self.children if child.name == name))

    def run(self) -> int:
        """Run until stopped (returns 0) or until a process cannot be kept up (returns 1)."""
        for child in self.children:
            if child.process is None:
                self._start(child)
        try:
            while not self.stopping.is_set():
                for child in self.children:
                    code = child.process.poll()
                    if code is None:
                        continue
                    if not self._restart(child, code):
                        self.stop()
                        return 1
                self.stopping.wait(0.2)
        except KeyboardInterrupt:
            pass
        self.stop()
        return 0

    def _restart(self, child: _Child, code: int) -> bool:
        # What it started and left behind (a Celery worker's pool children) goes with it: the
        # restarted one starts clean, and work they held is sent again by the outbox sweep.
        _signal_group(child.process, signal.SIGKILL)
        lived = time.monotonic() - child.started_at
        child.quick_exits = child.quick_exits + 1 if lived < QUICK_EXIT_SECONDS else 0
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        if child.quick_exits >= MAX_QUICK_EXITS:
            self.say("system", f"{child.name} {how} {child.quick_exits} times in a row within "
                               f"{QUICK_EXIT_SECONDS:.0f} s of starting; stopping everything")
            return False
        delay = RESTART_DELAYS[min(child.quick_exits, len(RESTART_DELAYS) - 1)]
        child.restarts += 1
        self.say("system", f"{child.name} {how} after {lived:.1f} s; restarting it in {delay} s "
                           f"(restart {child.restarts})")
        if self.stopping.wait(delay):
            return True
        self._start(child)
        return True

    def stop(self) -> None:
        """Stop every process: SIGTERM to each group, SIGKILL to what is left after the grace."""
        self.stopping.set()
        running = [child for child in self.children if child.process and child.process.poll() is None]
        for child in running:
            _signal_group(child.process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in running:
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(child.process, signal.SIGKILL)
                child.process.wait()
        for child in self.children:
            for reader in child.readers:
                reader.join(timeout=1)


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass
