#!/usr/bin/env python3
"""The streaming benchmark's driver (started by Benchmarks/stream/run.sh).

After a real WebSocket handshake one side sends pre-built frames as fast as loopback takes
them and the other only counts bytes: client to server (masked frames), server to client,
then both at once. Each cell runs directly, through `socat -b 262144` and through
`wsdoctor proxy`, one after the other in the same run, and the table shows MB/s (wire
bytes, 10^6 B/s) and frames/s for each, the ratio wsdoctor/socat, and the relay's CPU time
per GB relayed (utime+stime from /proc/PID/stat; socat's forked children are counted
through cutime+cstime once it has reaped them). wsdoctor's peak RSS (VmHWM) is printed at
the end.

Two processes share the work: this one (the client) and `stream.py serve` (the server), so
the two ends do not contend for one interpreter lock. Both stamp their measurement window
with CLOCK_MONOTONIC, which is the same clock in every process. Everything is on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import random
import socket
import subprocess
import sys
import threading
import time
import zlib
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
KEY = base64.b64encode(b"wsdoctor-stream!").decode()
BUFFER_TARGET = 1 << 20          # bytes of pre-built frames sent per sendall
RECEIVE_SIZE = 1 << 20
DEFLATE_OFFER = "permessage-deflate; client_no_context_takeover; server_no_context_takeover"
STEP = 30.0                      # bound on connecting, the handshake and the end of a cell
DIRECTIONS = [("client->server", "c2s"), ("server->client", "s2c"), ("both", "both")]
KINDS = [("binary 64 B", "binary", 64), ("binary 1 KiB", "binary", 1024), ("binary 64 KiB", "binary", 65536),
         ("text 1 KiB", "text", 1024)]
PATHS = ["direct", "socat", "wsdoctor"]


# --- frames -----------------------------------------------------------------------

def words_payload(rng: random.Random, size: int) -> bytes:
    """Text-like bytes that deflate compresses about 3:1 (valid UTF-8, some of it multi-byte)."""
    vocabulary = ["frame", "close", "ping", "pong", "über", "naïve", "socket", "relay", "€uro", "wire",
                  "message", "payload", "日本", "deflate", "mask", "opcode"]
    out = bytearray()
    while len(out) < size:
        out += (rng.choice(vocabulary) + " ").encode()
    return trim_utf8(bytes(out), size)


def trim_utf8(data: bytes, size: int) -> bytes:
    """`data` cut to exactly `size` bytes of valid UTF-8 (a cut sequence is padded with spaces)."""
    cut = data[:size]
    while True:
        try:
            cut.decode("utf-8")
            return cut
        except UnicodeDecodeError as error:
            cut = cut[:error.start] + b" " * (size - error.start)


def text_payload(rng: random.Random, size: int) -> bytes:
    """Mixed ASCII and multi-byte UTF-8 of exactly `size` bytes, poorly compressible."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 éüßøΩЖ€中😀"
    text = "".join(rng.choice(alphabet) for _ in range(size))
    return trim_utf8(text.encode(), size)


def frame(opcode: int, payload: bytes, masked: bool, rsv1: bool, rng: random.Random) -> bytes:
    header = bytearray([0x80 | (0x40 if rsv1 else 0) | opcode])
    length = len(payload)
    mask_bit = 0x80 if masked else 0
    if length < 126:
        header.append(mask_bit | length)
    elif length < 65536:
        header.append(mask_bit | 126)
        header += length.to_bytes(2, "big")
    else:
        header.append(mask_bit | 127)
        header += length.to_bytes(8, "big")
    if not masked:
        return bytes(header) + payload
    key = rng.randbytes(4)
    header += key
    repeated = (key * (length // 4 + 1))[:length]
    body = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(length, "big") if length else b""
    return bytes(header) + body


@dataclass
class Stream:
    data: bytes                  # frames, concatenated, sent again and again
    frames: int                  # frames in `data`


def build_stream(kind: str, size: int, deflate: bool, masked: bool, seed: int) -> Stream:
    rng = random.Random(seed)
    opcode = 0x1 if kind == "text" else 0x2
    distinct = 16
    if deflate:
        payloads = [words_payload(rng, size) for _ in range(distinct)]
    elif kind == "text":
        payloads = [text_payload(rng, size) for _ in range(distinct)]
    else:
        payloads = [rng.randbytes(size) for _ in range(distinct)]
    frames = []
    for payload in payloads:
        if deflate:
            # No context takeover both ways: every message is its own raw deflate stream.
            compressor = zlib.compressobj(wbits=-15)
            body = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
            assert body.endswith(b"\x00\x00\xff\xff")
            frames.append(frame(opcode, body[:-4], masked, True, rng))
        else:
            frames.append(frame(opcode, payload, masked, False, rng))
    data = bytearray()
    count = 0
    while len(data) < BUFFER_TARGET or count % distinct:
        data += frames[count % distinct]
        count += 1
    return Stream(bytes(data), count)


def inflate_floor(size: int, seed: int, cpu_seconds_wanted: float = 0.3) -> float:
    """CPU seconds per GB of wire (masked frames, as client->server) that zlib alone takes to
    inflate the deflate cells' messages (one raw stream per message, as with no context
    takeover): what no relay that checks the inflated bytes can go below."""
    rng = random.Random(seed)
    bodies = []
    for _ in range(16):
        compressor = zlib.compressobj(wbits=-15)
        bodies.append(compressor.compress(words_payload(rng, size)) + compressor.flush(zlib.Z_SYNC_FLUSH))
    wire = 0
    start = time.process_time()
    while time.process_time() - start < cpu_seconds_wanted:
        for body in bodies:
            zlib.decompressobj(wbits=-15).decompress(body)
            payload = len(body) - 4
            wire += payload + 6 + (2 if payload > 125 else 0) + (6 if payload > 65535 else 0)  # masked frame head
    return (time.process_time() - start) / (wire / 1e9)


# --- both ends ----------------------------------------------------------------------

@dataclass
class Count:
    total: int = 0               # every byte received
    counted: int = 0             # bytes received inside the measurement window
    first: float = 0.0
    last: float = 0.0

    def rate(self) -> float:
        return self.counted / (self.last - self.first) if self.last > self.first else 0.0


def receive(sock: socket.socket, start: float, end: float, count: Count) -> None:
    """Counts bytes until the peer's FIN; only those arriving in [start, end] are measured."""
    buffer = bytearray(RECEIVE_SIZE)
    view = memoryview(buffer)
    while True:
        n = sock.recv_into(view)
        if n == 0:
            return
        now = time.monotonic()
        count.total += n
        if start <= now <= end:
            if count.first == 0.0:
                count.first = now      # the window opens with this read; its bytes came before
            else:
                count.counted += n
                count.last = now


def send(sock: socket.socket, stream: Stream, end: float) -> None:
    view = memoryview(stream.data)
    while time.monotonic() < end:
        sock.sendall(view)
    sock.shutdown(socket.SHUT_WR)


def run_end(sock: socket.socket, sending: Stream | None, receiving: bool, start: float, end: float) -> Count:
    """One end of a cell: sends (in a thread) and/or counts, then half-closes and waits for the peer's FIN."""
    count = Count()
    sender = None
    if sending is not None:
        sender = threading.Thread(target=send, args=(sock, sending, end), daemon=True)
        sender.start()
    receive(sock, start if receiving else float("inf"), end, count)
    if sender is not None:
        sender.join()
    else:
        sock.shutdown(socket.SHUT_WR)
    sock.close()
    return count


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(4096)
        if not piece:
            raise ConnectionError("connection closed during the handshake")
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def accept_value(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def serve(port_file: str) -> None:
    """The server end: answers each upgrade, then sends and/or counts as the request path says."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, 0))
    listener.listen(64)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(listener.getsockname()[1]))
    os.rename(port_file + ".tmp", port_file)
    streams: dict[tuple[str, int, bool], Stream] = {}
    lock = threading.Lock()

    def handle(sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(STEP + 60)
        try:
            head, _ = read_head(sock)
        except (ConnectionError, OSError):
            return               # a probe (is it listening?) rather than a cell

        target = head.split(b"\r\n")[0].split(b" ")[1].decode()
        query = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
        mode, kind, size, deflate = query["mode"], query["kind"], int(query["size"]), query["deflate"] == "1"
        start, end = float(query["start"]), float(query["end"])
        key = [line.split(b":", 1)[1].strip().decode() for line in head.split(b"\r\n")
               if line.lower().startswith(b"sec-websocket-key:")][0]
        answer = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Accept: {accept_value(key)}\r\n")
        if deflate:
            answer += f"Sec-WebSocket-Extensions: {DEFLATE_OFFER}\r\n"
        sock.sendall((answer + "\r\n").encode())
        stream = None
        if mode in ("s2c", "both"):
            with lock:
                if (kind, size, deflate) not in streams:
                    streams[(kind, size, deflate)] = build_stream(kind, size, deflate, masked=False, seed=size + 7)
                stream = streams[(kind, size, deflate)]
        count = run_end(sock, stream, mode in ("c2s", "both"), start, end)
        with lock:
            print(f"RESULT cell={query['cell']} counted={count.counted} first={count.first!r} last={count.last!r} "
                  f"total={count.total}", flush=True)

    while True:
        sock, _ = listener.accept()
        threading.Thread(target=handle, args=(sock,), daemon=True).start()


# --- the client and the table -----------------------------------------------------------------

class Server:
    """The `serve` subprocess and the results it prints."""

    def __init__(self, tmp: str) -> None:
        port_file = os.path.join(tmp, "server.port")
        self.process = subprocess.Popen([sys.executable, os.path.abspath(__file__), "serve", "--port-file", port_file],
                                        stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + STEP
        while not os.path.exists(port_file):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit("stream benchmark: the server did not start")
            time.sleep(0.05)
        with open(port_file) as f:
            self.port = int(f.read())
        self.results: dict[str, Count] = {}
        self.arrived = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if not line.startswith("RESULT "):
                continue
            fields = dict(item.split("=", 1) for item in line.split()[1:])
            with self.arrived:
                self.results[fields["cell"]] = Count(int(fields["total"]), int(fields["counted"]),
                                                     float(fields["first"]), float(fields["last"]))
                self.arrived.notify_all()

    def result(self, cell: str) -> Count:
        with self.arrived:
            if not self.arrived.wait_for(lambda: cell in self.results, timeout=STEP):
                raise SystemExit(f"stream benchmark: no result from the server for cell {cell}")
            return self.results.pop(cell)


def cpu_seconds(pid: int) -> float:
    """utime+stime+cutime+cstime of `pid`, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def wait_listening(port: int, process: subprocess.Popen, name: str) -> None:
    """Until something accepts on HOST:`port` (STEP seconds at most), while `process` runs."""
    deadline = time.monotonic() + STEP
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited at start (status {process.returncode})")
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{name} is not listening on {HOST}:{port}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Cell:
    rate: float                  # wire bytes per second, both directions summed
    frames_per_s: float
    cpu_per_gb: float | None     # relay CPU seconds per 10^9 bytes relayed


def run_cell(port: int, server: Server, cell_id: str, mode: str, kind: str, size: int, deflate: bool,
             streams: dict, warmup: float, duration: float, relay_pid: int | None) -> Cell:
    cpu_before = cpu_seconds(relay_pid) if relay_pid else 0.0
    start = time.monotonic() + warmup
    end = start + duration
    sock, rest = upgrade(port, f"cell={cell_id}&mode={mode}&kind={kind}&size={size}&deflate={int(deflate)}"
                               f"&start={start!r}&end={end!r}", deflate)
    sock.settimeout(STEP + duration + warmup + 60)
    client_stream = streams[(kind, size, deflate, True)]
    count = run_end(sock, client_stream if mode in ("c2s", "both") else None, mode in ("s2c", "both"), start, end)
    count.total += len(rest)
    server_count = server.result(cell_id)
    rate = 0.0
    frames = 0.0
    server_stream = streams[(kind, size, deflate, False)]
    if mode in ("c2s", "both"):
        rate += server_count.rate()
        frames += server_count.rate() * client_stream.frames / len(client_stream.data)
    if mode in ("s2c", "both"):
        rate += count.rate()
        frames += count.rate() * server_stream.frames / len(server_stream.data)
    cpu = None
    if relay_pid:
        time.sleep(0.2)          # the relay's end of the connection (and socat's reaping of its child)
        relayed = count.total + server_count.total
        cpu = (cpu_seconds(relay_pid) - cpu_before) / relayed * 1e9 if relayed else None
    return Cell(rate, frames, cpu)


def upgrade(port: int, query: str, deflate: bool) -> tuple[socket.socket, bytes]:
    """A connection to `port` with its upgrade answered; returns it and bytes read past the head."""
    sock = socket.create_connection((HOST, port), timeout=STEP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    request = (f"GET /stream?{query} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n")
    if deflate:
        request += f"Sec-WebSocket-Extensions: {DEFLATE_OFFER}\r\n"
    sock.sendall((request + "\r\n").encode())
    head, rest = read_head(sock)
    if not head.startswith(b"HTTP/1.1 101"):
        raise SystemExit(f"stream benchmark: the upgrade through port {port} failed: {head[:80]!r}")
    return sock, rest


def send_fixed(args: argparse.Namespace) -> None:
    """Sends about `--megabytes` MB of frames client to server, half-closes and waits for the server's FIN."""
    stream = build_stream(args.kind, args.size, args.deflate, masked=True, seed=args.size)
    query = f"cell=fixed&mode=c2s&kind={args.kind}&size={args.size}&deflate={int(args.deflate)}&start=0&end=0"
    sock, _ = upgrade(args.port, query, args.deflate)
    sock.settimeout(600)
    rounds = max(1, args.megabytes * 1_000_000 // len(stream.data))
    began = time.monotonic()
    for _ in range(rounds):
        sock.sendall(stream.data)
    sock.shutdown(socket.SHUT_WR)
    while sock.recv(65536):
        pass
    sock.close()
    took = time.monotonic() - began
    print(f"sent {rounds * len(stream.data)} bytes, {rounds * stream.frames} frames, in {took:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port-file", required=True)
    r = sub.add_parser("run")
    r.add_argument("--wsdoctor", required=True)
    r.add_argument("--tmp", required=True)
    r.add_argument("--duration", type=float, default=2.0)
    r.add_argument("--warmup", type=float, default=0.5)
    r.add_argument("--rounds", type=int, default=1)
    r.add_argument("--only", default="", help="run only cells whose label contains this (e.g. '64 B')")
    f = sub.add_parser("send", help="a fixed stream, client to server, for profiling the relay (callgrind, perf)")
    f.add_argument("--port", type=int, required=True, help="the relay's port")
    f.add_argument("--kind", choices=["binary", "text"], default="binary")
    f.add_argument("--size", type=int, default=64)
    f.add_argument("--deflate", action="store_true")
    f.add_argument("--megabytes", type=int, default=20)
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.port_file)
        return
    if args.command == "send":
        send_fixed(args)
        return

    server = Server(args.tmp)
    processes = [server.process]
    try:
        socat_port, proxy_port = free_port(), free_port()
        socat = subprocess.Popen(["socat", "-b", "262144", f"TCP-LISTEN:{socat_port},fork,reuseaddr,bind={HOST}",
                                  f"TCP:{HOST}:{server.port}"], stderr=subprocess.DEVNULL)
        processes.append(socat)
        proxy = subprocess.Popen([args.wsdoctor, "proxy", "--listen", f"{HOST}:{proxy_port}",
                                  "--upstream", f"ws://{HOST}:{server.port}", "--format", "json"],
                                 stdout=subprocess.DEVNULL, stderr=open(os.path.join(args.tmp, "wsdoctor.err"), "w"))
        processes.append(proxy)
        wait_listening(socat_port, socat, "socat")
        wait_listening(proxy_port, proxy, "wsdoctor proxy")
        ports = {"direct": server.port, "socat": socat_port, "wsdoctor": proxy_port}
        pids = {"direct": None, "socat": socat.pid, "wsdoctor": proxy.pid}
        rss_start = status_kib(proxy.pid, "VmRSS")

        streams: dict = {}
        for _, kind, size in KINDS:
            for deflate in (False, True):
                for masked in (True, False):
                    streams[(kind, size, deflate, masked)] = build_stream(kind, size, deflate, masked,
                                                                         seed=size + (0 if masked else 7))

        print(f"machine:  {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
        print(f"wsdoctor: {args.wsdoctor} (pid {proxy.pid})")
        print(f"cells:    {args.warmup} s warm-up + {args.duration} s measured, best of {args.rounds} round(s); "
              "paths run one after the other, interleaved")
        print()
        best: dict[tuple, Cell] = {}
        cell_number = 0
        for round_index in range(args.rounds):
            for direction_label, mode in DIRECTIONS:
                for kind_label, kind, size in KINDS:
                    for deflate in (False, True):
                        label = f"{direction_label} {kind_label}{' deflate' if deflate else ''}"
                        if args.only and args.only not in label:
                            continue
                        for path in PATHS:
                            cell_number += 1
                            cell = run_cell(ports[path], server, str(cell_number), mode, kind, size, deflate, streams,
                                            args.warmup, args.duration, pids[path])
                            key = (mode, kind, size, deflate, path)
                            if key not in best or cell.rate > best[key].rate:
                                best[key] = cell
                            if proxy.poll() is not None:
                                raise SystemExit(f"stream benchmark: wsdoctor proxy ended (status {proxy.returncode})")
                            if socat.poll() is not None:
                                raise SystemExit(f"stream benchmark: socat ended (status {socat.returncode})")
                        print(f"  round {round_index + 1}: {label}: " + ", ".join(
                            f"{path} {best[(mode, kind, size, deflate, path)].rate / 1e6:.1f}" for path in PATHS) + " MB/s",
                              flush=True)

        print()
        print("MB/s = wire bytes per second (10^6 B/s; both directions summed for 'both'); cpu = the relay's CPU seconds per GB relayed")
        print(f"{'direction':<15} {'frames':<14} {'deflate':<7} | {'direct MB/s':>11} {'frames/s':>10} | "
              f"{'socat MB/s':>10} {'frames/s':>10} {'cpu s/GB':>8} | {'wsdoctor MB/s':>13} {'frames/s':>10} {'cpu s/GB':>8} | "
              f"{'/socat':>6}")
        for direction_label, mode in DIRECTIONS:
            for kind_label, kind, size in KINDS:
                for deflate in (False, True):
                    cells = [best.get((mode, kind, size, deflate, path)) for path in PATHS]
                    if any(c is None for c in cells):
                        continue
                    direct, via_socat, via_wsdoctor = cells
                    ratio = via_wsdoctor.rate / via_socat.rate if via_socat.rate else float("nan")
                    print(f"{direction_label:<15} {kind_label:<14} {'yes' if deflate else 'no':<7} | "
                          f"{direct.rate / 1e6:11.1f} {direct.frames_per_s:10.0f} | "
                          f"{via_socat.rate / 1e6:10.1f} {via_socat.frames_per_s:10.0f} {via_socat.cpu_per_gb or 0:8.2f} | "
                          f"{via_wsdoctor.rate / 1e6:13.1f} {via_wsdoctor.frames_per_s:10.0f} {via_wsdoctor.cpu_per_gb or 0:8.2f} | "
                          f"{ratio:6.2f}")
        print()
        print("the floor for the deflate cells: zlib alone (Python's zlib, the same messages, one stream each; "
              "Python adds about a microsecond a message), "
              "CPU s per GB of wire, beside wsdoctor's")
        for kind_label, kind, size in KINDS:
            cells = [best.get((mode, kind, size, True, "wsdoctor")) for _, mode in DIRECTIONS]
            measured = [c.cpu_per_gb for c in cells if c is not None and c.cpu_per_gb]
            if not measured:
                continue
            floor = inflate_floor(size, seed=7)
            print(f"  {kind_label:<14} zlib alone {floor:6.2f} s/GB | wsdoctor {min(measured):6.2f}-{max(measured):6.2f} s/GB "
                  f"({min(measured) / floor:.2f}-{max(measured) / floor:.2f}x zlib)")
        print()
        print(f"wsdoctor peak RSS (VmHWM): {status_kib(proxy.pid, 'VmHWM')} KiB; VmRSS at the start {rss_start} KiB, "
              f"at the end {status_kib(proxy.pid, 'VmRSS')} KiB")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
