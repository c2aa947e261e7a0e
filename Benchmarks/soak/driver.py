#!/usr/bin/env python3
"""The soak benchmark's load and its checks (started by Benchmarks/soak/run.sh).

Drives a mix of well-behaved and hostile clients through `wsdoctor proxy` in rounds of the
same load, samples the proxy every INTERVAL seconds, quiesces, prints a table and exits 1
when something drifted:

- descriptors (/proc/PID/fd) or CLOSE-WAIT sockets of the proxy not back to their baseline;
- RSS (VmRSS) after a later round's quiesce above the first round's by more than the
  tolerance (10 % of the first round's, or 8 MiB when that is more);
- `wsdoctor_connections_active` not 0 once the driver holds nothing;
- a connection made with no JSON report, or a report with no connection (paired by the
  client's port, and by the time it opened where the port was used again);
- a session that should have worked (holder, session, flood) failed;
- with --head-timeout, a slow-loris head not cut by the proxy in time.

Every connection is to 127.0.0.1 and every network step is bounded by STEP seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import datetime
import json
import os
import random
import socket
import sys
import time

from websockets.asyncio.client import connect

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "ProxyTests", "peers"))
from peers import set_rst_on_close, upgrade_request  # noqa: E402  (the proxy tests' peer helpers)

HOST = "127.0.0.1"
STEP = 30.0                     # bound on each connect, handshake, echo and close
MAX_MESSAGE = 4 * 1024 * 1024
BIG = 1024 * 1024               # the large messages, plain and compressed
SLOWLORIS_BYTE_EVERY = 0.5
SLOWLORIS_GIVE_UP = 15.0        # a slow-loris client stops on its own after this long
SLOWLORIS_SLACK = 5.0           # cut later than head timeout + this counts as not cut in time
SCRAPE_SETTLE = 0.5             # seconds for the proxy to close its end of a /metrics scrape
PAIRING_WINDOW = 30.0           # a report opens within this many seconds of its connection
TCP_STATES = {"01": "ESTABLISHED", "02": "SYN-SENT", "03": "SYN-RECV", "04": "FIN-WAIT-1", "05": "FIN-WAIT-2",
              "06": "TIME-WAIT", "07": "CLOSE", "08": "CLOSE-WAIT", "09": "LAST-ACK", "0B": "CLOSING"}
TCP_LISTEN = "0A"
SUCCEEDING_KINDS = ("holder", "session", "flood", "warm-up")


@dataclasses.dataclass(eq=False)
class Connection:
    kind: str
    port: int
    opened: float               # wall clock, as the proxy's reports have it
    closed: float | None = None
    category: str | None = None     # its report's diagnosis category, once paired


class Ledger:
    """Every connection the driver made, what it holds open now, and what went wrong."""

    def __init__(self) -> None:
        self.connections: list[Connection] = []
        self.unpaired: dict[int, list[Connection]] = collections.defaultdict(list)
        self.held = 0
        self.peak_held = 0
        self.round = 0
        self.by_round: collections.Counter[int] = collections.Counter()
        self.sessions_ok: collections.Counter[str] = collections.Counter()
        self.failures: collections.Counter[str] = collections.Counter()
        self.failures_by_round: collections.Counter[int] = collections.Counter()
        self.failure_examples: dict[str, str] = {}
        self.slowloris = collections.Counter()      # held, cut, cut-in-time, gave-up
        self.proxy_gone = False

    def opened(self, kind: str, port: int) -> Connection:
        connection = Connection(kind, port, time.time())
        self.connections.append(connection)
        self.unpaired[port].append(connection)
        self.by_round[self.round] += 1
        self.held += 1
        self.peak_held = max(self.peak_held, self.held)
        return connection

    def closed(self, connection: Connection) -> None:
        if connection.closed is None:
            connection.closed = time.time()
            self.held -= 1

    def failed(self, kind: str, error: BaseException | str) -> None:
        self.failures[kind] += 1
        self.failures_by_round[self.round] += 1
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        self.failure_examples.setdefault(kind, text[:160])


class Reports:
    """Reads the proxy's JSON lines as they are written and pairs each report with a connection."""

    def __init__(self, path: str, ledger: Ledger) -> None:
        self.path = path
        self.ledger = ledger
        self.offset = 0
        self.partial = b""
        self.count = 0
        self.orphans: list[tuple[str, float]] = []   # (client, opened) with no connection yet

    def read(self) -> None:
        with open(self.path, "rb") as file:
            file.seek(self.offset)
            data = file.read()
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            try:
                report = json.loads(line)
            except ValueError:
                continue
            if report.get("type") != "connection":
                continue
            self.count += 1
            category = (report.get("diagnosis") or {}).get("category", "none")
            self.orphans.append((report.get("client", ""), parse_time(report.get("opened")), category))
        self.orphans = [orphan for orphan in self.orphans if not self.pair(*orphan)]

    def pair(self, client: str, opened: float, category: str) -> bool:
        address, _, port = client.rpartition(":")
        if address != HOST or not port.isdigit():
            return False
        candidates = self.ledger.unpaired.get(int(port))
        if not candidates:
            return False
        best = min(candidates, key=lambda c: abs(c.opened - opened))
        if abs(best.opened - opened) > PAIRING_WINDOW:
            return False
        candidates.remove(best)
        best.category = category
        return True

    def late(self, now: float, after: float) -> list[Connection]:
        """Connections closed more than `after` seconds ago that still have no report."""
        return [c for candidates in self.ledger.unpaired.values() for c in candidates
                if c.closed is not None and now - c.closed > after]


def parse_time(text: str | None) -> float:
    if not text:
        return 0.0
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()


@dataclasses.dataclass
class Sample:
    fds: int
    sockets: collections.Counter[tuple[str, str]]     # (leg, state) -> count
    rss_kib: int
    active: float | None

    @property
    def close_wait_client(self) -> int:
        return self.sockets[("client", "CLOSE-WAIT")]

    @property
    def close_wait_upstream(self) -> int:
        return self.sockets[("upstream", "CLOSE-WAIT")]

    @property
    def close_wait(self) -> int:
        return sum(n for (_, state), n in self.sockets.items() if state == "CLOSE-WAIT")


class ProxyProbe:
    """What the proxy process holds, read from /proc and from its admin /metrics."""

    def __init__(self, pid: int, port: int, admin_port: int, server_port: int) -> None:
        self.pid, self.port, self.admin_port, self.server_port = pid, port, admin_port, server_port
        self.last_scrape = 0.0

    def alive(self) -> bool:
        try:
            with open(f"/proc/{self.pid}/status") as status:
                return not any(line.startswith("State:") and "Z" in line.split()[1] for line in status)
        except FileNotFoundError:
            return False

    def socket_inodes(self) -> tuple[int, set[str]]:
        directory = f"/proc/{self.pid}/fd"
        names = os.listdir(directory)
        inodes = set()
        for name in names:
            try:
                target = os.readlink(f"{directory}/{name}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        return len(names), inodes

    def sockets(self, inodes: set[str]) -> collections.Counter[tuple[str, str]]:
        """The proxy's TCP sockets by leg (client, upstream, other) and state."""
        found: collections.Counter[tuple[str, str]] = collections.Counter()
        with open("/proc/net/tcp") as table:
            next(table)
            for line in table:
                fields = line.split()
                if fields[9] not in inodes:
                    continue
                local_port = int(fields[1].split(":")[1], 16)
                remote_port = int(fields[2].split(":")[1], 16)
                if fields[3] == TCP_LISTEN:
                    continue
                leg = "client" if local_port == self.port else ("upstream" if remote_port == self.server_port else "other")
                found[(leg, TCP_STATES.get(fields[3], fields[3]))] += 1
        return found

    def rss_kib(self) -> int:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    async def active(self) -> float | None:
        """`wsdoctor_connections_active` from /metrics, None when the endpoint does not answer."""
        try:
            async with asyncio.timeout(5):
                reader, writer = await asyncio.open_connection(HOST, self.admin_port)
                try:
                    writer.write(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), None)
                    body = await (reader.readexactly(length) if length is not None else reader.read())
                finally:
                    writer.close()
                    await writer.wait_closed()
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return None
        finally:
            self.last_scrape = time.monotonic()
        for line in body.decode(errors="replace").splitlines():
            if line.startswith("wsdoctor_connections_active"):
                return float(line.split()[-1])
        return None

    async def sample(self) -> Sample:
        # Descriptors first, and a moment after the last scrape: the proxy's end of a scrape's
        # connection must not be counted.
        await asyncio.sleep(max(0.0, self.last_scrape + SCRAPE_SETTLE - time.monotonic()))
        fds, inodes = self.socket_inodes()
        sockets = self.sockets(inodes)
        rss = self.rss_kib()
        return Sample(fds, sockets, rss, await self.active())


def listen_overflows() -> int:
    """The kernel's count of connections dropped because a listen queue was full (whole host)."""
    with open("/proc/net/netstat") as netstat:
        lines = netstat.read().splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            return int(dict(zip(names.split()[1:], values.split()[1:])).get("ListenOverflows", 0))
    return 0


class Load:
    """One round's clients. Each kind is a bounded loop that ends by the round's deadline."""

    def __init__(self, args: argparse.Namespace, ledger: Ledger) -> None:
        self.args = args
        self.ledger = ledger
        self.port = args.proxy_port
        self.big_random = random.Random(1).randbytes(BIG)
        words = [b"wsdoctor", b"soak", b"frame", b"deflate", b"close", b"ping", b"relay", b"report"]
        rng = random.Random(2)
        text = bytearray()
        while len(text) < BIG:
            text += b'{"seq": %d, "word": "%s"}\n' % (len(text), rng.choice(words))
        self.big_text = text[:BIG].decode()

    def going(self, deadline: float, margin: float) -> bool:
        """Whether a client loop starts another client: the round has time left and the proxy runs."""
        return time.monotonic() < deadline - margin and not self.ledger.proxy_gone

    # -- connecting ------------------------------------------------------------

    async def tcp(self, kind: str) -> tuple[socket.socket, Connection] | None:
        """A connected non-blocking socket to the proxy, recorded in the ledger; None when refused."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            async with asyncio.timeout(STEP):
                await asyncio.get_running_loop().sock_connect(sock, (HOST, self.port))
        except (OSError, asyncio.TimeoutError) as error:
            sock.close()
            self.ledger.failed(kind, f"connect: {error!r}")
            return None
        return sock, self.ledger.opened(kind, sock.getsockname()[1])

    async def websocket_session(self, kind: str, rng: random.Random, *, deflate: bool, messages: list,
                                hold: float = 0.0) -> None:
        """A real `websockets` client over a socket of ours (so its port is known even if the
        handshake fails): every message echoed and checked, then a normal close (1000)."""
        made = await self.tcp(kind)
        if made is None:
            return
        sock, connection = made
        try:
            async with asyncio.timeout(STEP + hold + STEP * len(messages)):
                async with connect(f"ws://{HOST}:{self.port}/soak/{kind}", sock=sock, open_timeout=STEP,
                                   close_timeout=STEP, ping_interval=None, max_size=MAX_MESSAGE,
                                   compression="deflate" if deflate else None) as ws:
                    ends = time.monotonic() + hold
                    for message in messages:
                        await self.echo(ws, message)
                    while time.monotonic() < ends:
                        await asyncio.sleep(min(ends - time.monotonic(), rng.uniform(2.0, 5.0)))
                        await self.echo(ws, f"still here {time.time():.3f}")
            self.ledger.sessions_ok[kind] += 1
        except Exception as error:  # noqa: BLE001  (every failure is counted and shown)
            self.ledger.failed(kind, error)
        finally:
            sock.close()
            self.ledger.closed(connection)

    @staticmethod
    async def echo(ws, message) -> None:
        """Like the proxy tests' `echo_once`, bounded by STEP rather than their 5 s: on two cores
        shared with builds, the driver itself is sometimes starved for seconds."""
        await ws.send(message)
        async with asyncio.timeout(STEP):
            echoed = await ws.recv()
        if echoed != message:
            raise AssertionError(f"echo differs ({len(echoed)} bytes back for {len(message)})")

    # -- the kinds of client ---------------------------------------------------------

    async def holder(self, index: int, deadline: float) -> None:
        """Clients that come and go: connect, hold a few seconds with a message now and then, close."""
        rng = random.Random(f"holder-{index}")
        await asyncio.sleep(rng.uniform(0.0, self.args.ramp))
        while self.going(deadline, 1.0):
            hold = min(rng.uniform(3.0, 20.0), max(0.0, deadline - time.monotonic() - 1.0))
            await self.websocket_session("holder", rng, deflate=rng.random() < 0.3, messages=["hello"], hold=hold)

    async def sessions(self, worker: int, deadline: float) -> None:
        """Normal sessions back to back: small messages, some 1 MiB ones, some compressed."""
        rng = random.Random(f"session-{worker}")
        while self.going(deadline, 2.0):
            deflate = rng.random() < 0.4
            messages: list = [rng.randbytes(rng.randint(1, 2000)) if rng.random() < 0.5 else "x" * rng.randint(1, 2000)
                              for _ in range(rng.randint(1, 8))]
            draw = rng.random()
            if draw < 0.10:
                messages.append(self.big_random)
            elif draw < 0.25 and deflate:
                messages.append(self.big_text)
            await self.websocket_session("session", rng, deflate=deflate, messages=messages)

    async def flood(self, deadline: float) -> None:
        """Many upgrades at once, every FLOOD_EVERY seconds."""
        rng = random.Random("flood")
        while self.going(deadline, 2.0):
            await asyncio.gather(*(self.websocket_session("flood", rng, deflate=rng.random() < 0.5, messages=["flood"])
                                   for _ in range(self.args.flood)))
            await self.pause_until(deadline, self.args.flood_every)

    async def slowloris(self, deadline: float) -> None:
        """Heads sent one byte every 0.5 s, in waves; each client gives up on its own after a while."""
        rng = random.Random("slowloris")
        # A wave starts only when it can run its full course before the round ends: a head cut
        # short by the round could not tell whether the proxy would have cut it.
        while self.going(deadline, SLOWLORIS_GIVE_UP + 3.0):
            waves = [self.slowloris_one(rng.uniform(0.0, 2.0)) for _ in range(self.args.slowloris)]
            started = time.monotonic()
            await asyncio.gather(*waves)
            await self.pause_until(deadline, self.args.slowloris_every - (time.monotonic() - started))

    async def slowloris_one(self, delay: float) -> None:
        await asyncio.sleep(delay)
        made = await self.tcp("slowloris")
        if made is None:
            return
        sock, connection = made
        loop = asyncio.get_running_loop()
        head = upgrade_request(self.port, "/soak/slowloris")
        self.ledger.slowloris["held"] += 1
        started = time.monotonic()
        gives_up = started + SLOWLORIS_GIVE_UP

        async def trickle() -> None:
            for byte in head:
                await loop.sock_sendall(sock, bytes([byte]))
                await asyncio.sleep(SLOWLORIS_BYTE_EVERY)

        async def until_cut() -> None:
            while await loop.sock_recv(sock, 4096):
                pass

        sender = asyncio.ensure_future(trickle())
        watcher = asyncio.ensure_future(until_cut())
        try:
            done, _ = await asyncio.wait([sender, watcher], timeout=max(0.0, gives_up - time.monotonic()),
                                         return_when=asyncio.FIRST_COMPLETED)
            cut = bool(done) and (watcher in done or sender.exception() is not None)
            if cut:
                self.ledger.slowloris["cut"] += 1
                timeout = self.args.head_timeout
                if timeout is not None and time.monotonic() - started <= timeout + SLOWLORIS_SLACK:
                    self.ledger.slowloris["cut in time"] += 1
            else:
                self.ledger.slowloris["gave up"] += 1
        finally:
            for task in (sender, watcher):
                task.cancel()
            await asyncio.gather(sender, watcher, return_exceptions=True)
            sock.close()
            self.ledger.closed(connection)

    async def resets(self, deadline: float) -> None:
        """Clients that send a few bytes, a partial head or a full GET, then reset at once
        (SO_LINGER 0), before the proxy's upstream leg is up."""
        rng = random.Random("reset")
        head = upgrade_request(self.port, "/soak/reset")
        payloads = {"rst-bytes": lambda: rng.randbytes(rng.randint(1, 64)),
                    "rst-partial-head": lambda: head[:rng.randint(1, len(head) - 5)],
                    "rst-full-get": lambda: head}
        while self.going(deadline, 1.0):
            # One after another, as a client retrying would: a reset that lands while the proxy
            # is between accepting and reaching the upstream is the case that leaked; a burst
            # all at once mostly lands before the accept, or after.
            for kind, make in payloads.items():
                for _ in range(self.args.reset_each):
                    await self.reset_one(kind, make())
            await self.pause_until(deadline, self.args.reset_every)

    async def reset_one(self, kind: str, data: bytes) -> None:
        made = await self.tcp(kind)
        if made is None:
            return
        sock, connection = made
        try:
            sock.send(data)
        except OSError:
            pass
        set_rst_on_close(sock)
        sock.close()
        self.ledger.closed(connection)

    async def garbage(self, deadline: float) -> None:
        """Random bytes instead of HTTP, and random bytes after a successful upgrade."""
        rng = random.Random("garbage")
        while self.going(deadline, 1.0):
            jobs = [self.garbage_one("garbage-head", rng.randbytes(rng.randint(16, 4096))) for _ in range(self.args.garbage_each)]
            jobs += [self.garbage_one("garbage-after-upgrade", rng.randbytes(rng.randint(16, 1024)), upgrade=True)
                     for _ in range(self.args.garbage_each)]
            await asyncio.gather(*jobs)
            await self.pause_until(deadline, self.args.garbage_every)

    async def garbage_one(self, kind: str, junk: bytes, upgrade: bool = False) -> None:
        made = await self.tcp(kind)
        if made is None:
            return
        sock, connection = made
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(STEP):
                if upgrade:
                    await loop.sock_sendall(sock, upgrade_request(self.port, "/soak/garbage"))
                    answer = b""
                    while b"\r\n\r\n" not in answer:
                        chunk = await loop.sock_recv(sock, 4096)
                        if not chunk:
                            raise ConnectionError("closed before the upgrade was answered")
                        answer += chunk
                    status_line = answer.split(b"\r\n")[0]
                    if not status_line.startswith(b"HTTP/1.1 101"):
                        raise ConnectionError(f"upgrade answered {status_line!r}")
                await loop.sock_sendall(sock, junk)
            # The server gives up on the garbage and closes; a server still waiting for the rest
            # of a "frame" the junk announced is left by our own close after a few seconds.
            try:
                async with asyncio.timeout(5.0):
                    while await loop.sock_recv(sock, 65536):
                        pass
            except (OSError, asyncio.TimeoutError):
                pass
        except (OSError, asyncio.TimeoutError) as error:
            self.ledger.failed(kind, error)
        finally:
            sock.close()
            self.ledger.closed(connection)

    @staticmethod
    async def pause_until(deadline: float, seconds: float) -> None:
        await asyncio.sleep(max(0.0, min(seconds, deadline - time.monotonic())))

    async def round(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        jobs = [self.holder(index, deadline) for index in range(self.args.holders)]
        jobs += [self.sessions(worker, deadline) for worker in range(self.args.session_workers)]
        jobs += [self.flood(deadline), self.slowloris(deadline), self.resets(deadline), self.garbage(deadline)]
        tasks = [asyncio.ensure_future(job) for job in jobs]
        # Every step is bounded; this is the bound on the whole, in case one is not.
        _, stuck = await asyncio.wait(tasks, timeout=seconds + 4 * STEP)
        for task in stuck:
            task.cancel()
        if stuck:
            self.ledger.failed("driver", f"{len(stuck)} client loops still running {4 * STEP:.0f} s after the round")
            await asyncio.gather(*stuck, return_exceptions=True)


class Soak:
    """Runs the rounds, samples, quiesces and judges."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.ledger = Ledger()
        self.load = Load(args, self.ledger)
        self.probe = ProxyProbe(args.proxy_pid, args.proxy_port, args.admin_port, args.server_port)
        self.reports = Reports(args.reports, self.ledger)
        self.started = time.monotonic()
        self.overflows_at_start = listen_overflows()
        self.rounds: list[tuple[int, Sample]] = []

    def say(self, line: str = "") -> None:
        print(line, flush=True)

    async def row(self, label: str, lag: float = 0.0) -> Sample:
        sample = await self.probe.sample()
        self.reports.read()
        late = len(self.reports.late(time.time(), 10.0))
        active = "-" if sample.active is None else f"{sample.active:.0f}"
        self.say(f"{label:>7} {self.ledger.round:>5} {self.ledger.held:>6} {active:>7} {sample.fds:>6} "
                 f"{sample.close_wait:>6} {sample.rss_kib / 1024:>8.1f} {len(self.ledger.connections):>8} "
                 f"{self.reports.count:>8} {late:>9} {listen_overflows() - self.overflows_at_start:>6} {lag:>5.1f}")
        return sample

    async def sampler(self) -> None:
        while True:
            pause = self.args.interval - (time.monotonic() - self.started) % self.args.interval
            due = time.monotonic() + pause
            await asyncio.sleep(pause)
            if not self.probe.alive():
                self.ledger.proxy_gone = True
                return
            # How late the driver woke up: seconds it was starved, which slows every client too.
            await self.row(f"{time.monotonic() - self.started:.0f}", lag=time.monotonic() - due)

    async def settle(self, seconds: float) -> Sample:
        """Waits (at most `seconds`) for the proxy to hold nothing: the count of active
        connections at 0 and no CLOSE-WAIT socket; then 2 s more for its memory to settle."""
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            sample = await self.probe.sample()
            if sample.active == 0 and sample.close_wait == 0:
                break
            await asyncio.sleep(1.0)
        await asyncio.sleep(2.0)
        return await self.probe.sample()

    async def run(self) -> int:
        args = self.args
        # One session before the baseline, so what the proxy sets up on its first connection
        # (event loop resources, the metrics' series) is not counted as drift.
        self.ledger.round = 0
        await self.load.websocket_session("warm-up", random.Random(0), deflate=True, messages=["warm-up"])
        baseline = await self.settle(10.0)
        self.say(f"baseline (after one warm-up session): {baseline.fds} descriptors, {baseline.close_wait} CLOSE-WAIT, "
                 f"RSS {baseline.rss_kib / 1024:.1f} MiB, connections_active {baseline.active}")
        self.say("")
        self.say(f"{'t s':>7} {'round':>5} {'held':>6} {'active':>7} {'fds':>6} {'CW':>6} {'RSS MiB':>8} "
                 f"{'made':>8} {'reports':>8} {'late rep':>9} {'ovfl':>6} {'lag s':>5}")
        sampler = asyncio.ensure_future(self.sampler())
        round_seconds = args.duration / args.rounds
        for number in range(1, args.rounds + 1):
            self.ledger.round = number
            await self.load.round(round_seconds)
            if not self.probe.alive():
                break
            self.rounds.append((number, await self.settle(10.0)))
        sampler.cancel()
        if not self.probe.alive():
            self.say(f"FAIL: the proxy (pid {args.proxy_pid}) is gone")
            return 1
        final = await self.quiesce(baseline)
        return self.verdict(baseline, final)

    async def quiesce(self, baseline: Sample) -> Sample:
        """Up to QUIESCE seconds for everything to come back to the baseline."""
        ends = time.monotonic() + self.args.quiesce
        while True:
            sample = await self.probe.sample()
            self.reports.read()
            back = (sample.fds <= baseline.fds and sample.close_wait <= baseline.close_wait and sample.active == 0
                    and not self.reports.orphans and not self.reports.late(time.time(), -1.0))
            if back or time.monotonic() >= ends:
                break
            await asyncio.sleep(1.0)
        return await self.row("quiesce")

    def verdict(self, baseline: Sample, final: Sample) -> int:
        args, ledger = self.args, self.ledger
        checks: list[tuple[bool | None, str, str]] = []
        self.say("")
        self.say(f"{'round':>5} {'connections':>11} {'failures':>8} {'RSS MiB':>8} {'fds':>6} {'CW':>6}   (each after its quiesce)")
        for number, sample in self.rounds:
            self.say(f"{number:>5} {ledger.by_round[number]:>11} {ledger.failures_by_round[number]:>8} {sample.rss_kib / 1024:>8.1f} {sample.fds:>6} {sample.close_wait:>6}")
        self.say("")

        checks.append((final.fds <= baseline.fds, "descriptors",
                       f"{final.fds} open after quiesce, baseline {baseline.fds} ({final.fds - baseline.fds:+d})"))
        checks.append((final.close_wait <= baseline.close_wait, "CLOSE-WAIT",
                       f"{final.close_wait} after quiesce ({final.close_wait_client} client legs, "
                       f"{final.close_wait_upstream} upstream legs), baseline {baseline.close_wait}"))
        checks.append((final.active == 0 and ledger.held == 0, "connections_active",
                       f"{'-' if final.active is None else f'{final.active:.0f}'} after quiesce; the driver holds {ledger.held} (peak {ledger.peak_held})"))

        rss = [sample.rss_kib / 1024 for _, sample in self.rounds]
        if len(rss) >= 2:
            growth = max(rss[1:]) - rss[0]
            tolerance = max(args.rss_tolerance, rss[0] * args.rss_tolerance_percent / 100)
            checks.append((growth <= tolerance, "RSS round over round",
                           f"after each round {' '.join(f'{value:.1f}' for value in rss)} MiB; the highest after round 1 is "
                           f"{growth:+.1f} MiB over round 1 (tolerance {tolerance:.1f} MiB: {args.rss_tolerance_percent:g} % "
                           f"of round 1 or {args.rss_tolerance:g} MiB, the larger)"))
        else:
            checks.append((None, "RSS round over round", "fewer than 2 rounds: not compared"))

        missing = [c for candidates in ledger.unpaired.values() for c in candidates]
        by_kind = collections.Counter(c.kind for c in missing)
        checks.append((not missing, "connection, no report",
                       f"{len(missing)} of {len(ledger.connections)} connections"
                       + (f" ({', '.join(f'{k} {n}' for k, n in by_kind.most_common())})" if missing else "")))
        unknown = sum(1 for client, _, _ in self.reports.orphans if not client.startswith(HOST + ":"))
        checks.append((not self.reports.orphans, "report, no connection",
                       f"{len(self.reports.orphans)} of {self.reports.count} reports"
                       + (f" ({unknown} with a client other than {HOST}:PORT, e.g. "
                          f"{next((c for c, _, _ in self.reports.orphans if not c.startswith(HOST + ':')), '')!r})" if unknown else "")))

        worked = sum(ledger.sessions_ok[k] for k in SUCCEEDING_KINDS)
        failed = sum(ledger.failures[k] for k in (*SUCCEEDING_KINDS, "driver"))
        examples = "; ".join(f"{k}: {ledger.failure_examples[k]}" for k in (*SUCCEEDING_KINDS, "driver") if k in ledger.failure_examples)
        checks.append((failed == 0, "sessions completed",
                       f"{worked} holder/session/flood sessions echoed and closed, {failed} failed" + (f" ({examples})" if examples else "")))

        loris = ledger.slowloris
        if args.head_timeout is None:
            checks.append((None, "slow-loris", f"{loris['held']} heads; {loris['cut']} cut, {loris['gave up']} gave up after "
                                               f"{SLOWLORIS_GIVE_UP:g} s (no --head-timeout in this build: none expected cut)"))
        else:
            checks.append((loris["cut in time"] == loris["held"], "slow-loris",
                           f"{loris['held']} heads; {loris['cut in time']} cut within --head-timeout {args.head_timeout:g} s "
                           f"+ {SLOWLORIS_SLACK:g} s, {loris['cut'] - loris['cut in time']} later, {loris['gave up']} never"))

        hostile = {k: v for k, v in ledger.failures.items() if k not in (*SUCCEEDING_KINDS, "driver")}
        checks.append((None, "connections made", ", ".join(
            f"{k} {n}" for k, n in sorted(collections.Counter(c.kind for c in ledger.connections).items()))
            + (f"; errors of the hostile ones: {dict(hostile)}" if hostile else "")))
        checks.append((None, "memory given back", f"RSS {baseline.rss_kib / 1024:.1f} MiB at baseline, "
                                                  f"{final.rss_kib / 1024:.1f} MiB after quiesce"))
        diagnoses: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        for connection in ledger.connections:
            if connection.category is not None:
                diagnoses[connection.kind][connection.category] += 1
        for kind in sorted(diagnoses):
            checks.append((None, f"diagnosed {kind}", ", ".join(f"{k} {n}" for k, n in diagnoses[kind].most_common())))
        if final.sockets:
            checks.append((None, "proxy's sockets", ", ".join(f"{leg} {state} {n}" for (leg, state), n in
                                                              sorted(final.sockets.items()))))
        overflows = listen_overflows() - self.overflows_at_start
        if overflows:
            checks.append((None, "listen overflows", f"{overflows} (whole host; a connection the kernel dropped before "
                                                     f"the proxy accepted it cannot be reported)"))

        for passed, name, detail in checks:
            mark = "info" if passed is None else ("PASS" if passed else "FAIL")
            self.say(f"{mark:<5} {name:<22} {detail}")
        failures = [name for passed, name, _ in checks if passed is False]
        self.say("")
        self.say(f"verdict: {'FAIL (' + ', '.join(failures) + ')' if failures else 'PASS'}")
        return 1 if failures else 0


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proxy-port", type=int, required=True)
    parser.add_argument("--proxy-pid", type=int, required=True)
    parser.add_argument("--admin-port", type=int, required=True)
    parser.add_argument("--server-port", type=int, required=True)
    parser.add_argument("--reports", required=True, help="the proxy's standard output (JSON lines)")
    parser.add_argument("--head-timeout", type=float, help="the proxy's --head-timeout, when it has one")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load, over all rounds")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--quiesce", type=float, default=30.0, help="seconds allowed to come back to the baseline")
    parser.add_argument("--rss-tolerance", type=float, default=8.0,
                        help="MiB a later round's RSS may exceed the first's (or --rss-tolerance-percent, the larger)")
    parser.add_argument("--rss-tolerance-percent", type=float, default=10.0, help="the same as a percentage of the first round's")
    parser.add_argument("--holders", type=int, default=2000, help="clients that come and go (3-20 s each)")
    parser.add_argument("--ramp", type=float, default=10.0, help="seconds over which the holders start")
    parser.add_argument("--session-workers", type=int, default=6)
    parser.add_argument("--flood", type=int, default=200, help="upgrades at once in a flood")
    parser.add_argument("--flood-every", type=float, default=15.0)
    parser.add_argument("--slowloris", type=int, default=200, help="slow-loris heads in a wave")
    parser.add_argument("--slowloris-every", type=float, default=30.0)
    parser.add_argument("--reset-each", type=int, default=20, help="RST-before-upstream clients of each kind in a burst")
    parser.add_argument("--reset-every", type=float, default=5.0)
    parser.add_argument("--garbage-each", type=int, default=5, help="garbage clients of each kind in a burst")
    parser.add_argument("--garbage-every", type=float, default=5.0)
    return parser.parse_args()


def main() -> int:
    args = arguments()
    if args.rounds < 1 or args.duration <= 0:
        print("soak driver: --rounds must be at least 1 and --duration positive", file=sys.stderr)
        return 2
    return asyncio.run(Soak(args).run())


if __name__ == "__main__":
    sys.exit(main())
