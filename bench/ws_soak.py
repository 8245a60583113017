"""Review rooms under sustained load: two daphne processes behind one Redis, many clients across
many rooms for minutes, then a crowd joining one room at once.

    PYTHONPATH=platform:. .venv/bin/python bench/ws_soak.py [--clients 1000] [--rooms 10] [--minutes 10]
                                                            [--rate 1] [--join 500]

Soak: clients are spread over the rooms and over the two web processes; in every room a sender
(on the first process) draws a stored annotation `--rate` times a second. Every watcher pings
every 20 s, as browsers do. Counted: connections closed before the end (unexpected closes),
stored events a watcher never received (lost: its sequence numbers must run 1..n with no gap),
and fan-out latency from the sender's send() to each watcher reading the event (one clock: all
clients run in this process).

Join: `--join` clients open the same room at once (half on each process) and say hello; the
time is from the first connect to the last welcome.

Baseline, same run, same client code: a bare broadcast server written with the `websockets`
library (one process, per-path rooms, every message written straight to the room's other
sockets), for the soak and the join. The table gives each result and its ratio to the baseline.
The targets (issue): 0 unexpected closes, 0 lost, p99 fan-out <= 100 ms at 1,000 clients in 10
rooms for 10 minutes; 500 clients join one room in <= 5 s. Clients share this machine's CPUs
with the servers: on a small machine run fewer clients for fewer minutes and say so.
"""
import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

from bench.ws_fanout import DAPHNE, SEED, free_port, open_socket, wait_for_port  # noqa: E402

PING_SECONDS = 20
# As the Procfile and deploy/ run daphne: a crowd's handshakes may take longer than daphne's 5 s.
DAPHNE_OPTIONS = ["--websocket_connect_timeout", "30"]
OP = re.compile(r'"op":"s(\d+)-(\d+)"')
SEQ = re.compile(r'"seq":(\d+)')

FLOOR_ROOMS = """
import asyncio, collections, sys
from websockets.asyncio.server import broadcast, serve

rooms = collections.defaultdict(set)

async def handler(ws):
    room = rooms[ws.request.path]
    room.add(ws)
    try:
        async for message in ws:
            if message.startswith('{"type":"ping"'):
                continue
            broadcast([c for c in room if c is not ws], message)
    finally:
        room.discard(ws)

async def main():
    async with serve(handler, "127.0.0.1", int(sys.argv[1]), max_size=2**20):
        await asyncio.Future()

asyncio.run(main())
"""


class Watcher:
    def __init__(self, room, ws, first_seq):
        self.room, self.ws = room, ws
        self.seqs, self.latencies = [], []
        self.first_seq = first_seq
        self.closed_early = False

    async def read(self, sent, stopping):
        try:
            async for text in self.ws:
                found = OP.search(text)
                if found is None:
                    continue
                now = time.perf_counter()
                room, index = int(found.group(1)), int(found.group(2))
                if room != self.room:
                    continue
                seq = SEQ.search(text)
                self.seqs.append(int(seq.group(1)) if seq else index + 1)
                if (room, index) in sent:
                    self.latencies.append(now - sent[room, index])
        except Exception:  # noqa: BLE001 - counted below
            pass
        if not stopping.is_set():
            self.closed_early = True

    async def ping(self, stopping):
        while not stopping.is_set():
            try:
                await asyncio.wait_for(stopping.wait(), PING_SECONDS)
            except TimeoutError:
                try:
                    await self.ws.send('{"type":"ping"}')
                except Exception:  # noqa: BLE001 - the reader notices the close
                    return


def _draw(room, index, floor):
    frame = index % 100
    if floor:
        return json.dumps({"type": "event", "op": f"s{room}-{index}", "seq": index + 1}, separators=(",", ":"))
    return json.dumps({"type": "annotation.create", "op": f"s{room}-{index}",
                       "annotation": {"frame": frame, "shape": "line", "points": [[0, 0], [1, 1]]}})


async def soak(*, urls, origins, rooms, clients, seconds, rate, tokens, floor):
    """urls[p][r]: room r on process p. Returns the measures."""
    sent, stopping = {}, asyncio.Event()
    watchers, senders = [], []
    hello = not floor
    # Open in batches so the soak measures steady load, not a connect storm (that is the join case).
    for start in range(0, clients, 50):
        batch = []
        for i in range(start, min(start + 50, clients)):
            room, process = i % rooms, (i // rooms) % len(urls)
            batch.append((room, open_socket(urls[process][room], origin=origins[process],
                                            token=tokens.get("watcher"), hello=False)))
        sockets = await asyncio.gather(*(coroutine for _, coroutine in batch))
        for (room, _), ws in zip(batch, sockets):
            first = 0
            if hello:
                await ws.send(json.dumps({"type": "hello", "since": None, "presence_batches": True}))
                while True:
                    frame = json.loads(await ws.recv())
                    if frame["type"] == "welcome":
                        first = frame["seq"]
                        break
            watchers.append(Watcher(room, ws, first))
    for room in range(rooms):
        senders.append(await open_socket(urls[0][room], origin=origins[0], token=tokens.get("sender"), hello=hello))
    readers = [asyncio.ensure_future(w.read(sent, stopping)) for w in watchers]
    pingers = [asyncio.ensure_future(w.ping(stopping)) for w in watchers]

    async def send_loop(room, ws):
        index, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            sent[room, index] = time.perf_counter()
            await ws.send(_draw(room, index, floor))
            index += 1
            await asyncio.sleep(max(0.0, began + index / rate - time.perf_counter()))
        return index

    counts = await asyncio.gather(*(send_loop(room, ws) for room, ws in enumerate(senders)))
    await asyncio.sleep(3)  # the last events in flight
    stopping.set()
    for ws in [*senders, *(w.ws for w in watchers)]:
        await ws.close()
    await asyncio.gather(*readers, *pingers, return_exceptions=True)
    latencies = sorted(latency for w in watchers for latency in w.latencies)
    lost = 0
    for w in watchers:
        expected = set(range(w.first_seq + 1, w.first_seq + counts[w.room] + 1))
        lost += len(expected - set(w.seqs))
    return {"closes": sum(w.closed_early for w in watchers), "lost": lost, "events": sum(counts),
            "p50": statistics.median(latencies) * 1000 if latencies else None,
            "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else None}


async def join(*, urls, origins, clients, token, floor):
    """(seconds until the last one is in, how many could not join)."""
    began = time.perf_counter()
    sockets = await asyncio.gather(*(open_socket(urls[i % len(urls)], origin=origins[i % len(urls)], token=token,
                                                 hello=not floor) for i in range(clients)), return_exceptions=True)
    took = time.perf_counter() - began
    failed = [ws for ws in sockets if isinstance(ws, BaseException)]
    if failed:
        print(f"first failure to join: {failed[0]!r} (cause: {failed[0].__cause__!r})", file=sys.stderr)
    for ws in sockets:
        if not isinstance(ws, BaseException):
            await ws.close()
    return took, len(failed)


def _soak_row(case, server, result, floor):
    return (f"| {case} | {server} | {result['closes']} | {result['lost']} | {result['events']} | "
            f"{_cell(result['p50'])} | {_cell(result['p99'])} | {_ratio(result['p99'], floor['p99'])} |")


def _cell(value, digits=1):
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio(value, baseline):
    return "-" if value is None or not baseline else f"{value / baseline:.1f}x"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1.0, help="stored annotations per second per room")
    parser.add_argument("--join", type=int, default=500)
    args = parser.parse_args()
    if args.rate * args.minutes * 60 > 100_000:
        sys.exit("too many events for one run")

    from answerprint.localredis import start_private_redis

    processes = []
    with tempfile.TemporaryDirectory(prefix="ws-soak-") as tmp:
        tmp = Path(tmp)
        redis_url, redis_process = start_private_redis(tmp / "redis")
        processes.append(redis_process)
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}", "REDIS_URL": redis_url,
               "ANSWERPRINT_VAR_DIR": str(tmp / "var"), "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}",
               "DJANGO_SETTINGS_MODULE": "answerprint.settings", "DEBUG": "0", "SECRET_KEY": os.urandom(24).hex(),
               "ALLOWED_HOSTS": "127.0.0.1,localhost", "SECURE_SSL_REDIRECT": "0", "LOG_LEVEL": "WARNING",
               "DB_CONN_MAX_AGE": "300"}
        seeded = subprocess.run([sys.executable, "-c", SEED, str(args.rooms + 1)], env=env, cwd=ROOT,
                                capture_output=True, text=True, timeout=300)
        if seeded.returncode != 0:
            sys.exit(seeded.stderr[-3000:])
        world = json.loads(seeded.stdout.strip().splitlines()[-1])
        try:
            ports = [free_port(), free_port()]
            logs = [open(tmp / f"daphne-{port}.log", "w") for port in ports]
            for port, log in zip(ports, logs):
                processes.append(subprocess.Popen([str(DAPHNE), "-v", "0", *DAPHNE_OPTIONS, "-b", "127.0.0.1", "-p", str(port),
                                                   "answerprint.asgi:application"], env=env, cwd=ROOT,
                                                  stdout=log, stderr=subprocess.STDOUT))
                wait_for_port(port, processes[-1])
            floor_port = free_port()
            processes.append(subprocess.Popen([sys.executable, "-c", FLOOR_ROOMS, str(floor_port)], cwd=ROOT))
            wait_for_port(floor_port, processes[-1])

            rooms, join_room = world["versions"][:args.rooms], world["versions"][args.rooms]
            daphne_urls = [[f"ws://127.0.0.1:{port}/ws/review/versions/{v}/" for v in rooms] for port in ports]
            daphne_origins = [f"http://127.0.0.1:{port}" for port in ports]
            floor_urls = [[f"ws://127.0.0.1:{floor_port}/room/{v}" for v in rooms]]
            seconds = args.minutes * 60
            print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at start; {args.clients} clients in "
                  f"{args.rooms} rooms for {args.minutes:g} min at {args.rate:g} annotations/s per room; "
                  f"join {args.join}", flush=True)
            print("\n| case | server | unexpected closes | lost stored events | events sent | p50 ms | p99 ms "
                  "| p99 vs floor |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |", flush=True)
            case = f"soak {args.clients} clients / {args.rooms} rooms / {args.minutes:g} min"
            floor = asyncio.run(soak(urls=floor_urls, origins=[None], rooms=args.rooms, clients=args.clients,
                                     seconds=seconds, rate=args.rate, tokens={}, floor=True))
            print(_soak_row(case, "floor (websockets broadcast)", floor, floor), flush=True)
            measured = asyncio.run(soak(urls=daphne_urls, origins=daphne_origins, rooms=args.rooms,
                                        clients=args.clients, seconds=seconds, rate=args.rate,
                                        tokens=world["tokens"], floor=False))
            print(_soak_row(case, "2 daphne + Redis", measured, floor), flush=True)
            print("\n| case | server | seconds until every client is in | could not join | vs floor |\n"
                  "| --- | --- | ---: | ---: | ---: |", flush=True)
            case = f"{args.join} clients join one room"
            floor_join, floor_failed = asyncio.run(join(urls=[f"ws://127.0.0.1:{floor_port}/join"], origins=[None],
                                                        clients=args.join, token=None, floor=True))
            print(f"| {case} | floor (connect only) | {floor_join:.2f} | {floor_failed} | 1.0x |", flush=True)
            took, failed = asyncio.run(join(urls=[f"ws://127.0.0.1:{port}/ws/review/versions/{join_room}/"
                                                  for port in ports], origins=daphne_origins, clients=args.join,
                                            token=world["tokens"]["watcher"], floor=False))
            print(f"| {case} | 2 daphne + Redis (connect, hello, welcome) | {took:.2f} | {failed} | "
                  f"{_ratio(took, floor_join)} |", flush=True)
        finally:
            for process in reversed(processes):
                process.terminate()
            for process in reversed(processes):
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
        logs = [(tmp / f"daphne-{port}.log").read_text(errors="replace") for port in ports]
        errors = sum(log.count("Traceback") for log in logs)
        if errors:
            print("daphne log tail:\n" + next(log for log in logs if "Traceback" in log)[-3000:], file=sys.stderr)

    print(f"\ntracebacks in the daphne logs: {errors}")


if __name__ == "__main__":
    main()
