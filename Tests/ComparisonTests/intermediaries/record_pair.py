#!/usr/bin/env python3
"""Record both legs of real WebSocket traffic through a real intermediary, for
`wsdoctor compare` tests.

    .venv/bin/python Tests/ComparisonTests/intermediaries/record_pair.py SCENARIO OUTDIR [IDLE]

Writes OUTDIR/near-client.pcap (client <-> intermediary, on the front port) and
OUTDIR/near-server.pcap (intermediary <-> server, on the back port), one tcpdump
on lo for each, then prints one JSON line with the ports. Root, like
Fixtures/record/record.py, whose Tcpdump, Relay and helpers this reuses. Every
wait is bounded; the intermediary is stopped and reaped before exit.

Scenarios: socat (plain TCP relay), nginx-idle (nginx reverse proxy with
proxy_read_timeout IDLE seconds, 1 by default; the README's example used 60),
nginx-reload (three connections exchanging messages while nginx is reloaded with
SIGHUP; worker_shutdown_timeout 1s makes the old worker close them), haproxy-tunnel
(HAProxy in http mode with timeout tunnel 1s, traffic as nginx-idle), strip-extensions and close-rewrite (record.py's Relay
removing Sec-WebSocket-Extensions from the request, or turning the server's
close code 1012 into 1001), corrupt-utf8 (the Relay re-encoding the client's second
text message as Latin-1, so the server fails the connection with 1007),
pongs-itself (a Relay that answers the client's pings and never forwards them),
cut-large (a Relay that hangs up both legs, FIN and no close frame, when the
client sends a message over 1 KiB, as a message-size limit does), drop-close
(a Relay that drops the server's close frame, so the client only sees TCP end),
mitmproxy (mitmdump in reverse mode, from .venv; traffic as socat), flip-bytes (a
Relay upper-casing the client's first text message in place: same length, same mask;
no compression), recompress (a Relay inflating the client's compressed messages and
deflating them again with its own zlib settings and a fresh context each time).
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT / "Fixtures" / "record"))

import record  # noqa: E402
from record import (HOST, LO, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, SETTLE, WS_COMMON, Output,  # noqa: E402
                    Relay, Tcpdump, echo_handler, encode_frame, free_port, header_hook, nth_data_frame, split_frame)
from websockets.asyncio.client import connect  # noqa: E402
from websockets.asyncio.server import serve  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

START_TIMEOUT = 15.0  # mitmdump imports a lot before it listens, slowly on a loaded machine
NGINX_IDLE_TIMEOUT = 1  # seconds: proxy_read_timeout of the nginx scenario, unless IDLE is given

NGINX_CONF = """
daemon off;
master_process {master};
user root;
worker_shutdown_timeout 1s;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen {host}:{front};
        location / {{
            proxy_pass http://{host}:{back};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout {idle:g}s;
        }}
    }}
}}
"""


HAPROXY_CONF = """
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout tunnel {idle:g}s
frontend front
    bind {host}:{front}
    default_backend back
backend back
    server server {host}:{back}
"""


def wait_port(port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {HOST}:{port} after {START_TIMEOUT} s")


def start_intermediary(scenario: str, front: int, back: int, tmp: Path, idle: float) -> subprocess.Popen | None:
    """The external intermediaries run as processes; the Relay ones run in the event loop."""
    if scenario == "socat":
        cmd = ["socat", f"TCP-LISTEN:{front},bind={HOST},reuseaddr,fork", f"TCP:{HOST}:{back}"]
    elif scenario in ("nginx-idle", "nginx-reload"):
        conf = tmp / "nginx.conf"
        reload = scenario == "nginx-reload"
        conf.write_text(NGINX_CONF.format(tmp=tmp, host=HOST, front=front, back=back, idle=60 if reload else idle,
                                          master="on" if reload else "off"))
        cmd = ["nginx", "-p", str(tmp), "-c", str(conf)]
    elif scenario == "mitmproxy":
        # Reverse mode: mitmproxy ends each leg's WebSocket itself (wsproto) and sends every
        # message again on the other leg, framed, masked and compressed anew.
        cmd = [str(ROOT / ".venv" / "bin" / "mitmdump"), "--mode", f"reverse:http://{HOST}:{back}",
               "--listen-host", HOST, "--listen-port", str(front), "--set", f"confdir={tmp}", "-q"]
    elif scenario == "haproxy-tunnel":
        conf = tmp / "haproxy.cfg"
        conf.write_text(HAPROXY_CONF.format(host=HOST, front=front, back=back, idle=idle))
        cmd = ["haproxy", "-db", "-f", str(conf)]
    else:
        return None
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(front)
    except RuntimeError:
        proc.kill()
        _, err = proc.communicate(timeout=5)
        raise RuntimeError(f"{cmd[0]} did not start: {err.decode(errors='replace')}")
    return proc


def rewrite_close(old: int, new: int):
    """A frame hook turning the server's close code `old` into `new` (server frames are unmasked)."""

    def hook(frame: bytes) -> bytes:
        if frame[0] & 0x0F == 0x8 and len(frame) >= 4 and struct.unpack("!H", frame[2:4])[0] == old:
            return frame[:2] + struct.pack("!H", new) + frame[4:]
        return frame

    return hook


def to_latin1(frame: bytes) -> bytes:
    """A "transcoding" intermediary: the text re-encoded as Latin-1, re-framed with the client's mask."""
    opcode, key, payload = split_frame(frame)
    return encode_frame(opcode, payload.decode("utf-8").encode("latin-1"), fin=bool(frame[0] & 0x80), mask=key)


def upper_case(frame: bytes) -> bytes:
    """Bytes changed in place: the text upper-cased, same length, sent with the client's mask."""
    opcode, key, payload = split_frame(frame)
    return encode_frame(opcode, payload.upper(), fin=bool(frame[0] & 0x80), mask=key)


RECOMPRESS_TEXT = "ba ba black sheep, have you any wool? yes sir, yes sir, three bags full"


def deflate(data: bytes, level: int, window_bits: int, mem_level: int, strategy: int) -> bytes:
    """One message compressed with a fresh context (which any receiver can inflate)."""
    deflater = zlib.compressobj(level, zlib.DEFLATED, -window_bits, mem_level, strategy)
    return (deflater.compress(data) + deflater.flush(zlib.Z_SYNC_FLUSH))[:-4]


def recompressing():
    """A c2s hook: each compressed message inflated (with the client's context) and deflated
    again by a compressor of the relay's own, as another zlib or other settings do: the
    first settings (level, window, memory, strategy) that give other bytes of the same
    size, else level 1 with a 512-byte window. The client's frames and mask keys are kept;
    only the compressed bytes differ."""
    inflater = zlib.decompressobj(-15)
    settings = [(level, window, memory, strategy) for level in range(1, 10) for window in range(9, 16)
                for memory in (1, 5, 8, 9) for strategy in (zlib.Z_DEFAULT_STRATEGY, zlib.Z_FILTERED)]

    def hook(frame: bytes) -> bytes:
        opcode, key, payload = split_frame(frame)
        if opcode not in (OP_TEXT, OP_BINARY) or not frame[0] & 0x40:
            return frame
        data = inflater.decompress(payload + b"\x00\x00\xff\xff")
        again = next((other for other in (deflate(data, *each) for each in settings)
                      if other != payload and len(other) == len(payload)), None) or deflate(data, 1, 9, 8, 0)
        raw = encode_frame(opcode, again, fin=bool(frame[0] & 0x80), mask=key)
        return bytes([raw[0] | 0x40]) + raw[1:]

    return hook


class ClientFacingRelay(Relay):
    """record.py's Relay, keeping the client's writer so a frame hook can answer or hang up
    on the client itself."""

    client_writer: asyncio.StreamWriter | None = None

    async def _handle(self, c_reader, c_writer) -> None:
        self.client_writer = c_writer
        await super()._handle(c_reader, c_writer)


def answer_pings(relay: ClientFacingRelay):
    """A c2s hook: a client ping is answered with a pong from the relay and not forwarded."""

    def hook(frame: bytes) -> bytes | None:
        opcode, _, payload = split_frame(frame)
        if opcode != OP_PING:
            return frame
        relay.client_writer.write(encode_frame(OP_PONG, payload, mask=None))
        return None

    return hook


def cut_large(relay: ClientFacingRelay, limit: int):
    """A c2s hook: a data frame over `limit` bytes ends both legs with a FIN (the server's
    leg through the Relay's own end of the direction)."""

    def hook(frame: bytes) -> bytes | None:
        opcode, _, payload = split_frame(frame)
        if opcode in (OP_TEXT, OP_BINARY) and len(payload) > limit:
            relay.client_writer.write_eof()
            raise ConnectionResetError("message over the relay's limit")
        return frame

    return hook


def drop_close(frame: bytes) -> bytes | None:
    """An s2c hook: the server's close frame is not forwarded."""
    return None if frame[0] & 0x0F == OP_CLOSE else frame


async def reloaded(front: int, nginx: subprocess.Popen) -> None:
    """Three chatty connections; nginx is reloaded while they talk, and its old worker ends them."""

    async def chat(ws) -> None:
        try:
            while True:
                await ws.send("tick")
                await ws.recv()
                await asyncio.sleep(0.2)
        except ConnectionClosed:
            pass

    async with asyncio.timeout(10):
        clients = [await connect(f"ws://{HOST}:{front}/chat", **WS_COMMON) for _ in range(3)]
        chats = [asyncio.create_task(chat(ws)) for ws in clients]
        await asyncio.sleep(0.5)
        nginx.send_signal(signal.SIGHUP)
        await asyncio.gather(*chats)


async def traffic(scenario: str, front: int, back: int, idle: float, intermediary: subprocess.Popen | None) -> None:
    async def restarting(ws) -> None:
        await ws.send(await ws.recv())
        await ws.close(1012, "restarting")

    handler = restarting if scenario in ("close-rewrite", "drop-close") else echo_handler
    if scenario == "nginx-reload":
        async with serve(handler, HOST, back, **WS_COMMON):
            await reloaded(front, intermediary)
        return
    relay = None
    if scenario == "strip-extensions":
        relay = Relay(front, back, c2s_head=header_hook(lambda _: None, "Sec-WebSocket-Extensions", lambda _: None))
    elif scenario == "close-rewrite":
        relay = Relay(front, back, s2c_frame=rewrite_close(1012, 1001))
    elif scenario == "corrupt-utf8":
        relay = Relay(front, back, c2s_frame=nth_data_frame(2, to_latin1))
    elif scenario in ("pongs-itself", "cut-large"):
        relay = ClientFacingRelay(front, back)
        relay.hooks["c2s"] = (None, answer_pings(relay) if scenario == "pongs-itself" else cut_large(relay, 1024))
    elif scenario == "drop-close":
        relay = Relay(front, back, s2c_frame=drop_close)
    elif scenario == "flip-bytes":
        relay = Relay(front, back, c2s_frame=nth_data_frame(1, upper_case))
    elif scenario == "recompress":
        relay = Relay(front, back, c2s_frame=recompressing())
    async with serve(handler, HOST, back, **WS_COMMON):
        if relay:
            await relay.__aenter__()
        try:
            async with asyncio.timeout(idle + 15):
                compression = None if scenario in ("corrupt-utf8", "cut-large", "flip-bytes") else "deflate"
                async with connect(f"ws://{HOST}:{front}/chat", compression=compression, **WS_COMMON) as ws:
                    if scenario == "recompress":
                        # First, so the client compresses it without history, as the relay does.
                        await ws.send(RECOMPRESS_TEXT)
                        await ws.recv()
                    await ws.send("hello through the intermediary")
                    await ws.recv()
                    if scenario == "corrupt-utf8":
                        await ws.send("café crème")
                        try:
                            await ws.recv()
                        except ConnectionClosed:
                            pass
                        return
                    if scenario in ("close-rewrite", "drop-close"):
                        try:
                            await ws.recv()
                        except ConnectionClosed:
                            pass
                        return
                    await ws.send(bytes(range(256)) * 12)
                    if scenario == "cut-large":
                        try:
                            await ws.recv()
                        except ConnectionClosed:
                            pass
                        return
                    await ws.recv()
                    pong = await ws.ping(b"are you there")
                    await asyncio.wait_for(pong, 5)
                    if scenario in ("nginx-idle", "haproxy-tunnel"):
                        # Say nothing; nginx cuts the connection after proxy_read_timeout.
                        try:
                            await asyncio.wait_for(ws.recv(), idle + 4)
                        except ConnectionClosed:
                            pass
                        return
                    await ws.close(1000, "done")
        finally:
            if relay:
                await relay.__aexit__(None, None, None)


def main() -> int:
    # Children of the Swift test runner start with every signal blocked; tcpdump must see SIGINT.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    scenario, outdir = sys.argv[1], Path(sys.argv[2])
    idle = float(sys.argv[3]) if len(sys.argv) > 3 else NGINX_IDLE_TIMEOUT
    front, back = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="wsdoctor-pair-") as tmp:
        dumps = [Tcpdump(Output("near-client.pcap", LO), front, outdir / "near-client.pcap"),
                 Tcpdump(Output("near-server.pcap", LO), back, outdir / "near-server.pcap")]
        intermediary = None
        try:
            for dump in dumps:
                dump.start()
            for dump in dumps:
                dump.wait_listening()
            intermediary = start_intermediary(scenario, front, back, Path(tmp), idle)
            asyncio.run(traffic(scenario, front, back, idle, intermediary))
            time.sleep(SETTLE)
        finally:
            if intermediary:
                intermediary.terminate()
                try:
                    intermediary.wait(5)
                except subprocess.TimeoutExpired:
                    intermediary.kill()
                    intermediary.wait(5)
            for dump in dumps:
                dump.stop()
        for dump in dumps:
            dump.check()
    print(json.dumps({"scenario": scenario, "front": front, "back": back}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
