"""Fan-out of a review room over real WebSockets: one sender, N watchers, on loopback.

    PYTHONPATH=platform:. .venv/bin/python bench/ws_fanout.py [--clients 50,200,500] [--messages 30]

For each N it measures, in the same run and with the same client code:

- floor: a bare broadcast server written with the `websockets` library (one process, every
  message written straight to every other socket) - the practical floor on this machine;
- daphne, stored: the review room on daphne + channels-redis, the sender drawing annotations
  (validated, audited, numbered in the room's sequence, written to the database, sent after
  commit) - what a note costs end to end;
- daphne, live: the same room, the sender moving the laser pointer (not stored) - the channel
  layer and the consumers alone.

Latency is from the sender's send() to each watcher reading the frame (one clock: every client
runs in this process, on one asyncio loop). Lost = frames a watcher never got. CPU is seconds of
CPU over the sending window, per process: the server (daphne, or the floor server), Redis (when
this run started it, or can see its pid), and this client process. The machine has 2 cores, so
the clients share the CPU with the server; the floor pays the same client cost.

Watchers say hello with presence_batches, as a large room's clients should (consumers.py).
Each case gets a fresh room. Servers run on free loopback ports against a migrated SQLite file in
a temporary folder; Redis is REDIS_URL, or a private redis-server this run starts and stops.
"""
import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
DAPHNE = Path(sys.executable).with_name("daphne")

SEED = """
import json, sys, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from rest_framework.authtoken.models import Token
from answerprint.accounts.models import Membership, Production, User
from answerprint.media.models import Shot, Version
production = Production.objects.create(code="fanout", title="Fan-out bench")
versions = [Version.objects.create(shot=Shot.objects.create(production=production, name=f"SC{i:03d}_SH010",
                                                            first_frame=1001, last_frame=1100), number=1).pk
            for i in range(int(sys.argv[1]))]
tokens = {}
for name, role in (("sender", "supervisor"), ("watcher", "viewer")):
    user = User.objects.create_user(username=name, password="bench-only-not-secret")
    Membership.objects.create(production=production, user=user, role=role)
    tokens[name] = Token.objects.create(user=user).key
print(json.dumps({"versions": versions, "tokens": tokens}))
"""

FLOOR_SERVER = """
import asyncio, sys
from websockets.asyncio.server import broadcast, serve

clients = set()

async def handler(ws):
    clients.add(ws)
    try:
        async for message in ws:
            broadcast([c for c in clients if c is not ws], message)
    finally:
        clients.discard(ws)

async def main():
    async with serve(handler, "127.0.0.1", int(sys.argv[1]), max_size=2**20):
        await asyncio.Future()

asyncio.run(main())
"""

STORED_OP = re.compile(r'"op":"b(\d+)"')
POINTER = re.compile(r'^\{"type":"pointer".*?"frame":(\d+)')


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, process, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"server on port {port} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"server on port {port} did not listen in {seconds} s")


def cpu_seconds(process):
    if process is None:
        return 0.0
    try:
        times = process.cpu_times()
        return times.user + times.system
    except psutil.Error:
        return 0.0


def wait_until_idle(process, seconds=60):
    """Let the server finish the previous case's disconnects before the next one starts."""
    deadline = time.monotonic() + seconds
    process.cpu_percent(None)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        if process.cpu_percent(None) < 10:
            return


def redis_process(url, started):
    if started is not None:
        return psutil.Process(started.pid)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
                return psutil.Process(conn.pid)
    except psutil.Error:
        pass
    return None


class Watcher:
    def __init__(self, pattern, sent):
        self.pattern, self.sent = pattern, sent
        self.latency, self.duplicates, self.frames = {}, 0, 0

    async def read(self, ws):
        try:
            async for text in ws:
                self.frames += 1
                found = self.pattern.search(text)
                if found:
                    now = time.perf_counter()
                    index = int(found.group(1))
                    if index in self.latency:
                        self.duplicates += 1
                    elif index in self.sent:
                        self.latency[index] = now - self.sent[index]
        except Exception:  # noqa: BLE001 - a closed socket ends the reader; losses are counted
            pass


async def open_socket(url, *, origin, token=None, hello=False):
    from websockets.asyncio.client import connect

    headers = {"Authorization": f"Token {token}"} if token else None
    ws = await connect(url, origin=origin, additional_headers=headers, open_timeout=120, max_queue=None,
                       ping_interval=None)
    if hello:
        await ws.send(json.dumps({"type": "hello", "since": None, "presence_batches": True}))
        while json.loads(await ws.recv())["type"] != "welcome":
            pass
    return ws


async def run_case(*, url, origin, tokens, clients, messages, rate, kind, server):
    """One load: `clients` watchers and one sender in a fresh room; returns the measurements."""
    sent = {}
    pattern = POINTER if kind == "live" else STORED_OP
    daphne = kind != "floor"
    gate = asyncio.Semaphore(20)
    watchers = [Watcher(pattern, sent) for _ in range(clients)]
    readers, sockets = [], []

    async def join(watcher):
        async with gate:
            try:
                ws = await open_socket(url, origin=origin, token=tokens.get("watcher"), hello=daphne)
            except Exception as exc:  # noqa: BLE001 - counted and reported, not fatal
                failures.append(repr(exc))
                return
        sockets.append(ws)
        readers.append(asyncio.create_task(watcher.read(ws)))

    failures = []
    started = time.perf_counter()
    await asyncio.gather(*(join(w) for w in watchers))
    if failures:
        print(f"  {len(failures)} of {clients} watchers could not join: {failures[0]}", file=sys.stderr)
    sender = await open_socket(url, origin=origin, token=tokens.get("sender"), hello=daphne)
    drain = asyncio.create_task(Watcher(re.compile("$^"), {}).read(sender))
    # Joins make presence traffic: wait for it to settle before measuring.
    previous, quiet_since = -1, time.monotonic()
    while time.monotonic() - quiet_since < 1.0 and time.perf_counter() - started < 120:
        await asyncio.sleep(0.25)
        total = sum(w.frames for w in watchers)
        if total != previous:
            previous, quiet_since = total, time.monotonic()
    connect_s = time.perf_counter() - started

    me = psutil.Process()
    cpu_before = [cpu_seconds(server["process"]), cpu_seconds(server["redis"]), cpu_seconds(me)]
    window_start = time.perf_counter()
    for index in range(messages):
        await asyncio.sleep(max(0.0, window_start + index / rate - time.perf_counter()))
        if kind == "stored":
            text = json.dumps({"type": "annotation.create", "op": f"b{index}", "annotation": {
                "frame": index % 100, "shape": "stroke", "color": "#ffcc00", "width": 0.004,
                "points": [[0.1 + i / 100, 0.2 + i / 200, 0.8] for i in range(8)]}})
        elif kind == "live":
            text = json.dumps({"type": "pointer", "x": 0.5, "y": 0.5, "frame": index})
        else:  # the floor carries a frame the size of a stored event
            text = json.dumps({"type": "event", "room": "version-1", "seq": index + 1, "event": "annotation.created",
                               "op": f"b{index}", "data": {"points": [[0.1, 0.2, 0.8]] * 8, "pad": "x" * 420}},
                              separators=(",", ":"))
        sent[index] = time.perf_counter()
        await sender.send(text)
    deadline = time.perf_counter() + 15
    while time.perf_counter() < deadline and any(len(w.latency) < messages for w in watchers):
        await asyncio.sleep(0.05)
    window = time.perf_counter() - window_start
    cpu_after = [cpu_seconds(server["process"]), cpu_seconds(server["redis"]), cpu_seconds(me)]

    for ws in [*sockets, sender]:
        await ws.close()
    await asyncio.gather(*readers, drain, return_exceptions=True)

    latencies = sorted(v * 1000 for w in watchers for v in w.latency.values())
    expected = clients * messages

    def percentile(p):
        return latencies[min(len(latencies) - 1, int(round(p / 100 * (len(latencies) - 1))))] if latencies else None

    return {
        "kind": kind, "clients": clients, "messages": messages, "p50": percentile(50), "p99": percentile(99),
        "max": latencies[-1] if latencies else None, "mean": statistics.fmean(latencies) if latencies else None,
        "lost": expected - len(latencies), "duplicates": sum(w.duplicates for w in watchers),
        "server_cpu": cpu_after[0] - cpu_before[0], "redis_cpu": cpu_after[1] - cpu_before[1],
        "client_cpu": cpu_after[2] - cpu_before[2], "window": window, "connect": connect_s,
        "join_failures": len(failures),
    }


def print_table(results, redis_seen):
    names = {"floor": "websockets floor", "stored": "daphne, stored", "live": "daphne, live"}
    header = (f"{'server':<18} {'N':>4} {'msgs':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'lost':>5} "
              f"{'dup':>4} {'server cpu s':>12} {'redis cpu s':>11} {'client cpu s':>12} {'window s':>8} "
              f"{'join s':>7} {'no join':>7} {'us/deliv':>8}")
    print(header)
    print("-" * len(header))

    def ms(value):
        return f"{value:8.1f}" if value is not None else f"{'-':>8}"

    for r in results:
        redis_cpu = f"{r['redis_cpu']:11.2f}" if r["kind"] != "floor" and redis_seen else f"{'-':>11}"
        print(f"{names[r['kind']]:<18} {r['clients']:>4} {r['messages']:>5} {ms(r['p50'])} {ms(r['p99'])} "
              f"{ms(r['max'])} {r['lost']:>5} {r['duplicates']:>4} {r['server_cpu']:12.2f} {redis_cpu} "
              f"{r['client_cpu']:12.2f} {r['window']:8.2f} {r['connect']:7.1f} {r['join_failures']:>7} "
              f"{r['server_cpu'] * 1e6 / max(1, r['clients'] * r['messages']):8.0f}")
    print("us/deliv: server CPU (daphne or the floor server, not Redis) per frame delivered; it does not")
    print("depend on how busy the rest of the machine is, unlike the latencies.")
    print()
    by = {(r["kind"], r["clients"]): r for r in results}
    for clients, target in ((200, 50), (500, 200)):
        for kind in ("stored", "live"):
            r, floor = by.get((kind, clients)), by.get(("floor", clients))
            if r is None or r["p99"] is None:
                continue
            ratio = r["p99"] / floor["p99"] if floor and floor["p99"] else float("nan")
            verdict = "met" if r["p99"] <= target and r["lost"] == 0 and ratio <= 3 else "MISSED"
            print(f"target {clients} clients ({names[kind]}): p99 {r['p99']:.1f} ms <= {target} ms, "
                  f"lost {r['lost']} = 0, {ratio:.1f}x floor p99 <= 3x: {verdict}")


async def bench(args, servers, world):
    results = []
    rooms = iter(world["versions"])
    for clients in args.clients:
        for kind in args.kinds:
            if kind == "floor":
                url, origin, tokens, server = (f"ws://127.0.0.1:{servers['floor_port']}/", None, {},
                                               servers["floor"])
            else:
                port = servers["daphne_port"]
                url = f"ws://127.0.0.1:{port}/ws/review/versions/{next(rooms)}/"
                origin, tokens, server = f"http://127.0.0.1:{port}", world["tokens"], servers["daphne"]
            wait_until_idle(server["process"])
            result = await run_case(url=url, origin=origin, tokens=tokens, clients=clients,
                                    messages=args.messages, rate=args.rate, kind=kind, server=server)
            results.append(result)
            print(f"  {kind:<6} N={clients:<4} p99={result['p99']} lost={result['lost']}", file=sys.stderr)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="50,200,500", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--messages", default=30, type=int, help="messages the sender sends per case")
    parser.add_argument("--rate", default=10.0, type=float, help="messages per second")
    parser.add_argument("--kinds", default="floor,stored,live", type=lambda s: s.split(","))
    args = parser.parse_args()
    if args.messages > 100:
        sys.exit("--messages is at most 100 (one per frame of the bench shot)")

    from answerprint.localredis import start_private_redis

    processes = []
    with tempfile.TemporaryDirectory(prefix="ws-fanout-") as tmp:
        tmp = Path(tmp)
        redis_url, redis_started = os.environ.get("REDIS_URL"), None
        if not redis_url:
            redis_url, redis_started = start_private_redis(tmp / "redis")
            processes.append(redis_started)
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}", "REDIS_URL": redis_url,
               "ANSWERPRINT_VAR_DIR": str(tmp / "var"), "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}",
               "DJANGO_SETTINGS_MODULE": "answerprint.settings", "DEBUG": "0", "SECRET_KEY": os.urandom(24).hex(),
               "ALLOWED_HOSTS": "127.0.0.1,localhost", "SECURE_SSL_REDIRECT": "0", "LOG_LEVEL": "WARNING",
               # Persistent connections, as in production: a room message must not pay for opening one.
               "DB_CONN_MAX_AGE": "300"}
        cases = len(args.clients) * sum(k != "floor" for k in args.kinds)
        seeded = subprocess.run([sys.executable, "-c", SEED, str(max(cases, 1))], env=env, cwd=ROOT,
                                capture_output=True, text=True, timeout=300)
        if seeded.returncode != 0:
            sys.exit(seeded.stderr[-3000:])
        world = json.loads(seeded.stdout.strip().splitlines()[-1])
        try:
            daphne_port, floor_port = free_port(), free_port()
            daphne = subprocess.Popen([str(DAPHNE), "-v", "0", "-b", "127.0.0.1", "-p", str(daphne_port),
                                       "answerprint.asgi:application"], env=env, cwd=ROOT,
                                      stdout=open(tmp / "daphne.log", "w"), stderr=subprocess.STDOUT)
            floor = subprocess.Popen([sys.executable, "-c", FLOOR_SERVER, str(floor_port)], env=env, cwd=ROOT)
            processes += [daphne, floor]
            wait_for_port(daphne_port, daphne)
            wait_for_port(floor_port, floor)
            redis = redis_process(redis_url, redis_started)
            servers = {
                "daphne_port": daphne_port, "floor_port": floor_port,
                "daphne": {"process": psutil.Process(daphne.pid), "redis": redis},
                "floor": {"process": psutil.Process(floor.pid), "redis": None},
            }
            print(f"load average {os.getloadavg()[0]:.1f} at start; {os.cpu_count()} CPUs; Redis {redis_url} ({'private' if redis_started else 'shared'}); "
                  f"{args.messages} messages at {args.rate:g}/s per case", flush=True)
            results = asyncio.run(bench(args, servers, world))
            if any(r["join_failures"] for r in results):
                print("daphne log tail:\n" + (tmp / "daphne.log").read_text()[-3000:], file=sys.stderr)
        finally:
            for process in reversed(processes):
                process.terminate()
            for process in reversed(processes):
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
        print_table(results, redis is not None)
        print(f"load average {os.getloadavg()[0]:.1f} at the end (2 cores: above 2, other work shared the CPUs)")


if __name__ == "__main__":
    main()
