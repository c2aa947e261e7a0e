#!/usr/bin/env python3
"""Record the WebSocket pcap fixtures in Fixtures/captures/.

Run as root (tcpdump needs it) with the project's virtual environment:

    bash scripts/install-deps.sh
    .venv/bin/python Fixtures/record/record.py            # every scenario
    .venv/bin/python Fixtures/record/record.py --only pings
    .venv/bin/python Fixtures/record/record.py --list

For each scenario the recorder picks a free port on 127.0.0.1, starts
`tcpdump -i lo -U --immediate-mode -w OUT 'tcp port PORT'`, waits until
tcpdump says it is listening, runs the scenario (server and client are
asyncio tasks in this process, all bounded by timeouts), waits a moment for
the last packets, stops tcpdump with SIGINT and moves the file into
Fixtures/captures/.  Nothing is overwritten when a scenario fails.

The peers are real: the `websockets` library on both sides, `aiohttp` for the
server that keeps one connection alive across HTTP requests and an upgrade.
Where a scenario needs a peer that breaks the protocol on purpose, a small
raw-socket client (RawClient below) plays that side and the real `websockets`
server detects the violation and closes with its code.

Messages are fixed, so every recording carries the same payloads; only ports,
timestamps and the client's masking keys / Sec-WebSocket-Key differ between
runs (the raw client uses a fixed key and fixed masks).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http
import logging
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable

import websockets
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)

HERE = Path(__file__).resolve().parent
CAPTURES = HERE.parent / "captures"

HOST = "127.0.0.1"
SCENARIO_TIMEOUT = 20.0  # seconds for one scenario's traffic
STEP_TIMEOUT = 5.0  # seconds for one read / one handshake
TCPDUMP_START_TIMEOUT = 10.0
TCPDUMP_STOP_TIMEOUT = 10.0
SETTLE = 0.5  # seconds to wait for the last packets before stopping tcpdump
# tcpdump -B (KiB). On lo a frame slot in the ring is sized for a 64 KiB
# packet, so the default 2 MiB holds only ~30 packets and a burst drops some.
TCPDUMP_BUFFER_KIB = 32768

# Keyword arguments shared by every websockets peer: no keepalive pings (they
# would add frames at random moments), short close timeout, no compression
# unless the scenario asks for it.
WS_COMMON = dict(ping_interval=None, close_timeout=3, open_timeout=STEP_TIMEOUT)

log = logging.getLogger("record")


# ---------------------------------------------------------------------------
# Helpers


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def ws_url(port: int, path: str = "/") -> str:
    return f"ws://{HOST}:{port}{path}"


async def echo_handler(ws) -> None:
    """Echo every message back, whole."""
    async for message in ws:
        await ws.send(message)


async def drain_until_closed(ws) -> None:
    """Read (and drop) messages until the peer closes; bounded."""
    try:
        async with asyncio.timeout(STEP_TIMEOUT):
            async for _ in ws:
                pass
    except ConnectionClosed:
        pass
    async with asyncio.timeout(STEP_TIMEOUT):
        await ws.wait_closed()


async def send_and_expect_echo(ws, message) -> None:
    await ws.send(message)
    async with asyncio.timeout(STEP_TIMEOUT):
        echoed = await ws.recv()
    if echoed != message:
        raise AssertionError(f"echo mismatch: sent {message!r}, got {echoed!r}")


# --- raw WebSocket client (the peer that breaks the protocol on purpose) ---

RAW_KEY = base64.b64encode(b"wsdoctor-fixture").decode()  # fixed Sec-WebSocket-Key
RAW_MASK = bytes([0x37, 0xFA, 0x21, 0x3D])  # fixed masking key

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def encode_frame(opcode: int, payload: bytes, *, fin: bool = True,
                 mask: bytes | None = RAW_MASK) -> bytes:
    """One WebSocket frame; masked with `mask` unless mask is None."""
    head = bytearray([(0x80 if fin else 0) | opcode])
    mask_bit = 0x80 if mask is not None else 0
    n = len(payload)
    if n < 126:
        head.append(mask_bit | n)
    elif n < 1 << 16:
        head.append(mask_bit | 126)
        head += struct.pack("!H", n)
    else:
        head.append(mask_bit | 127)
        head += struct.pack("!Q", n)
    if mask is None:
        return bytes(head) + payload
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes(head) + mask + masked


class RawClient:
    """A hand-written WebSocket client on asyncio streams."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, path: str = "/") -> "RawClient":
        async with asyncio.timeout(STEP_TIMEOUT):
            reader, writer = await asyncio.open_connection(HOST, port)
        client = cls(reader, writer)
        request = (
            f"GET {path} HTTP/1.1\r\n"
            f"Host: {HOST}:{port}\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {RAW_KEY}\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "User-Agent: wsdoctor-raw-client\r\n"
            "\r\n"
        )
        writer.write(request.encode())
        await writer.drain()
        async with asyncio.timeout(STEP_TIMEOUT):
            head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101 "):
            raise AssertionError(f"upgrade refused: {head!r}")
        return client

    async def send(self, frame: bytes) -> None:
        self.writer.write(frame)
        await self.writer.drain()

    async def recv_frame(self) -> tuple[int, bool, bytes]:
        async with asyncio.timeout(STEP_TIMEOUT):
            b0, b1 = await self.reader.readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
            if b1 & 0x80:
                raise AssertionError("server sent a masked frame")
            payload = await self.reader.readexactly(n)
        return b0 & 0x0F, bool(b0 & 0x80), payload

    async def finish_close(self) -> int:
        """Read frames until the server's close; echo its status code
        (masked); wait for the server to end TCP; close our side."""
        while True:
            opcode, _, payload = await self.recv_frame()
            if opcode == OP_CLOSE:
                break
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        echo = struct.pack("!H", code) if code is not None else b""
        try:
            await self.send(encode_frame(OP_CLOSE, echo))
        except ConnectionError:
            pass
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                rest = await self.reader.read()
            if rest:
                raise AssertionError(f"data after close: {rest!r}")
        except ConnectionError:
            pass
        await self.close()
        return code if code is not None else -1

    async def close(self) -> None:
        self.writer.close()
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                await self.writer.wait_closed()
        except (ConnectionError, TimeoutError):
            pass


# ---------------------------------------------------------------------------
# Scenarios. Each is an async function of the server port. The recorder stops
# tcpdump when it returns (see `Scenario.stop_capture_early` for still-open).


async def sc_normal_1000(port: int, ctx: "RunContext") -> None:
    async with serve(echo_handler, HOST, port, compression=None, **WS_COMMON):
        async with connect(ws_url(port, "/chat"), compression=None, **WS_COMMON) as ws:
            await send_and_expect_echo(ws, "hello")
            await send_and_expect_echo(ws, b"\x00\x01\x02\x03binary")
            await send_and_expect_echo(ws, "second text message")
            await send_and_expect_echo(ws, bytes(range(200)))
            await ws.close(1000, "bye")
        if ws.close_code != 1000:
            raise AssertionError(f"close code {ws.close_code}")


async def sc_going_away_1001(port: int, ctx: "RunContext") -> None:
    server = await serve(echo_handler, HOST, port, compression=None, **WS_COMMON)
    try:
        async with connect(ws_url(port), compression=None, **WS_COMMON) as ws:
            await send_and_expect_echo(ws, "hello")
            # The server shuts down: websockets closes open connections with 1001.
            server.close(code=1001, reason="server shutting down")
            await drain_until_closed(ws)
        async with asyncio.timeout(STEP_TIMEOUT):
            await server.wait_closed()
    finally:
        server.close()


async def _raw_violation(port: int, violation: bytes, expect_code: int) -> None:
    async with serve(echo_handler, HOST, port, compression=None, **WS_COMMON):
        raw = await RawClient.open(port)
        try:
            await raw.send(encode_frame(OP_TEXT, b"hello"))
            opcode, _, payload = await raw.recv_frame()
            if (opcode, payload) != (OP_TEXT, b"hello"):
                raise AssertionError(f"unexpected echo {opcode} {payload!r}")
            await raw.send(violation)
            code = await raw.finish_close()
        finally:
            await raw.close()
        if code != expect_code:
            raise AssertionError(f"server closed with {code}, expected {expect_code}")


async def sc_protocol_error_1002(port: int, ctx: "RunContext") -> None:
    # Client-to-server frames must be masked (RFC 6455 5.1): send one unmasked.
    await _raw_violation(port, encode_frame(OP_TEXT, b"unmasked", mask=None), 1002)


async def sc_reserved_opcode_1002(port: int, ctx: "RunContext") -> None:
    await _raw_violation(port, encode_frame(0x3, b"reserved"), 1002)


async def sc_invalid_utf8_1007(port: int, ctx: "RunContext") -> None:
    await _raw_violation(port, encode_frame(OP_TEXT, b"ok \xff\xfe"), 1007)


def closing_handler(trigger: Callable[[object], bool], code: int, reason: str):
    """Echo messages until `trigger(message)`; then close with code/reason."""

    async def handler(ws) -> None:
        async for message in ws:
            if trigger(message):
                await ws.close(code, reason)
                return
            await ws.send(message)

    return handler


async def _server_closes(port: int, handler, messages, expect_code: int,
                         **server_kwargs) -> None:
    """Client sends `messages`; all but the last are echoed; the server
    closes after the last one with `expect_code`."""
    kwargs = dict(compression=None, **WS_COMMON)
    kwargs.update(server_kwargs)
    async with serve(handler, HOST, port, **kwargs):
        async with connect(ws_url(port), compression=None, **WS_COMMON) as ws:
            for message in messages[:-1]:
                await send_and_expect_echo(ws, message)
            await ws.send(messages[-1])
            await drain_until_closed(ws)
        if ws.close_code != expect_code:
            raise AssertionError(f"close code {ws.close_code}, expected {expect_code}")


async def sc_unsupported_data_1003(port: int, ctx: "RunContext") -> None:
    handler = closing_handler(lambda m: isinstance(m, bytes), 1003, "binary not accepted")
    await _server_closes(port, handler, ["text is fine", b"\xde\xad\xbe\xef"], 1003)


async def sc_policy_1008(port: int, ctx: "RunContext") -> None:
    handler = closing_handler(lambda m: m == "forbidden word", 1008, "policy violation")
    await _server_closes(port, handler, ["hello", "forbidden word"], 1008)


async def sc_too_big_1009(port: int, ctx: "RunContext") -> None:
    await _server_closes(port, echo_handler, ["small message", "x" * 4096], 1009,
                         max_size=1024)


async def sc_internal_error_1011(port: int, ctx: "RunContext") -> None:
    async def handler(ws) -> None:
        async for message in ws:
            if message == "crash":
                raise RuntimeError("handler failed on purpose (fixture)")
            await ws.send(message)

    await _server_closes(port, handler, ["hello", "crash"], 1011)


async def sc_restart_1012(port: int, ctx: "RunContext") -> None:
    server = await serve(echo_handler, HOST, port, compression=None, **WS_COMMON)
    try:
        async with connect(ws_url(port), compression=None, **WS_COMMON) as ws:
            await send_and_expect_echo(ws, "hello")
            server.close(code=1012, reason="service restart")
            await drain_until_closed(ws)
        async with asyncio.timeout(STEP_TIMEOUT):
            await server.wait_closed()
        if ws.close_code != 1012:
            raise AssertionError(f"close code {ws.close_code}")
    finally:
        server.close()


async def sc_try_again_1013(port: int, ctx: "RunContext") -> None:
    handler = closing_handler(lambda m: m == "subscribe", 1013, "try again later")
    await _server_closes(port, handler, ["hello", "subscribe"], 1013)


DEFLATE_TEXT = '{"type":"tick","symbol":"WSDR","price":"101.25","note":"repetitive payload"}'


async def _deflate_exchange(ws) -> None:
    for i in range(5):
        await send_and_expect_echo(ws, DEFLATE_TEXT)
    await send_and_expect_echo(ws, DEFLATE_TEXT * 4)
    await send_and_expect_echo(ws, b"binary " * 20)
    await ws.close(1000, "done")


async def sc_deflate(port: int, ctx: "RunContext") -> None:
    # websockets' default compression="deflate" on both sides.
    async with serve(echo_handler, HOST, port, compression="deflate", **WS_COMMON):
        async with connect(ws_url(port), compression="deflate", **WS_COMMON) as ws:
            ext = ws.response.headers.get("Sec-WebSocket-Extensions", "")
            if "permessage-deflate" not in ext:
                raise AssertionError(f"deflate not negotiated: {ext!r}")
            await _deflate_exchange(ws)


async def sc_deflate_no_context_takeover(port: int, ctx: "RunContext") -> None:
    server_ext = ServerPerMessageDeflateFactory(
        server_no_context_takeover=True,
        client_no_context_takeover=True,
        server_max_window_bits=10,
        client_max_window_bits=10,
    )
    client_ext = ClientPerMessageDeflateFactory(
        server_no_context_takeover=True,
        client_no_context_takeover=True,
        server_max_window_bits=10,
        client_max_window_bits=10,
    )
    async with serve(echo_handler, HOST, port, compression=None,
                     extensions=[server_ext], **WS_COMMON):
        async with connect(ws_url(port), compression=None,
                           extensions=[client_ext], **WS_COMMON) as ws:
            ext = ws.response.headers.get("Sec-WebSocket-Extensions", "")
            if "no_context_takeover" not in ext:
                raise AssertionError(f"not negotiated: {ext!r}")
            await _deflate_exchange(ws)


async def sc_fragmented(port: int, ctx: "RunContext") -> None:
    async def handler(ws) -> None:
        # Echo each message with the fragmentation it arrived with (its
        # non-empty fragments; websockets ends a fragmented message with an
        # empty final frame of its own).
        while True:
            try:
                fragments = [f async for f in ws.recv_streaming()]
            except ConnectionClosed:
                return
            fragments = [f for f in fragments if f]
            await ws.send(fragments if len(fragments) > 1 else fragments[0])

    async with serve(handler, HOST, port, compression=None, **WS_COMMON):
        async with connect(ws_url(port), compression=None, **WS_COMMON) as ws:

            async def text_with_ping():
                yield "first fragment, "
                yield "second fragment, "
                # A ping between two fragments of the same message (allowed:
                # control frames may be interleaved, RFC 6455 5.4).
                await ws.ping(b"between fragments")
                yield "third fragment."

            await ws.send(text_with_ping())
            async with asyncio.timeout(STEP_TIMEOUT):
                echoed = [f async for f in ws.recv_streaming()]
            if "".join(echoed) != "first fragment, second fragment, third fragment.":
                raise AssertionError(f"echo {echoed!r}")
            await ws.send([b"\x01\x02", b"\x03\x04\x05", b"\x06"])
            async with asyncio.timeout(STEP_TIMEOUT):
                echoed = [f async for f in ws.recv_streaming()]
            if b"".join(echoed) != b"\x01\x02\x03\x04\x05\x06":
                raise AssertionError(f"echo {echoed!r}")
            await send_and_expect_echo(ws, "unfragmented")
            await ws.close(1000, "")


async def sc_pings(port: int, ctx: "RunContext") -> None:
    async with serve(echo_handler, HOST, port, compression=None, **WS_COMMON):
        async with connect(ws_url(port), compression=None, **WS_COMMON) as ws:
            await send_and_expect_echo(ws, "hello")
            for i in range(1, 4):
                pong = await ws.ping(f"ping-{i}".encode())
                async with asyncio.timeout(STEP_TIMEOUT):
                    await pong
            await ws.pong(b"unsolicited")
            await send_and_expect_echo(ws, "still here")
            await ws.close(1000, "")


async def sc_tcp_reset(port: int, ctx: "RunContext") -> None:
    server_done = asyncio.get_running_loop().create_future()

    async def handler(ws) -> None:
        try:
            await echo_handler(ws)
        except ConnectionClosed:
            pass
        finally:
            if not server_done.done():
                server_done.set_result(None)

    async with serve(handler, HOST, port, compression=None, **WS_COMMON):
        ws = await connect(ws_url(port), compression=None, **WS_COMMON)
        await send_and_expect_echo(ws, "hello")
        # Abort: SO_LINGER on with timeout 0, then close -> the kernel sends RST.
        sock = ws.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        ws.transport.abort()
        async with asyncio.timeout(STEP_TIMEOUT):
            await server_done


async def sc_still_open(port: int, ctx: "RunContext") -> None:
    async with serve(echo_handler, HOST, port, compression=None, **WS_COMMON):
        async with connect(ws_url(port), compression=None, **WS_COMMON) as ws:
            await send_and_expect_echo(ws, "hello")
            await send_and_expect_echo(ws, b"\x00\xff")
            await send_and_expect_echo(ws, "are you still there?")
            # Stop the capture while the connection is open; the closing
            # handshake that follows is not recorded.
            await ctx.stop_capture()
            await ws.close(1000, "")


def rejecting(status: int, body: str, headers: dict[str, str]):
    def process_request(connection, request):
        response = connection.respond(status, body)
        for name, value in headers.items():
            response.headers[name] = value
        return response

    return process_request


async def _rejected(port: int, status: int, body: str, headers: dict[str, str]) -> None:
    async with serve(echo_handler, HOST, port, compression=None,
                     process_request=rejecting(status, body, headers), **WS_COMMON):
        try:
            async with connect(ws_url(port), compression=None, **WS_COMMON):
                raise AssertionError("the upgrade was accepted")
        except InvalidStatus as exc:
            if exc.response.status_code != status:
                raise AssertionError(f"status {exc.response.status_code}")


async def sc_rejected_403(port: int, ctx: "RunContext") -> None:
    await _rejected(port, http.HTTPStatus.FORBIDDEN, "Forbidden: bad origin\n", {})


async def sc_rejected_429(port: int, ctx: "RunContext") -> None:
    await _rejected(port, http.HTTPStatus.TOO_MANY_REQUESTS, "Too many connections\n",
                    {"Retry-After": "30"})


def _blocking_http_exchanges(port: int) -> socket.socket:
    """On one blocking socket: GET /health (Content-Length answer), then a
    POST with a chunked body (chunked answer). Returns the socket, still open,
    with nothing unread on it."""
    sock = socket.create_connection((HOST, port), timeout=STEP_TIMEOUT)
    buf = bytearray()

    def fill() -> None:
        data = sock.recv(65536)
        if not data:
            raise AssertionError("server closed the connection")
        buf.extend(data)

    def read_head() -> tuple[str, dict[str, str]]:
        while b"\r\n\r\n" not in buf:
            fill()
        end = buf.index(b"\r\n\r\n")
        lines = bytes(buf[:end]).decode().split("\r\n")
        del buf[: end + 4]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return lines[0], headers

    def read_exact(n: int) -> bytes:
        while len(buf) < n:
            fill()
        data = bytes(buf[:n])
        del buf[:n]
        return data

    def read_line() -> bytes:
        while b"\r\n" not in buf:
            fill()
        end = buf.index(b"\r\n")
        line = bytes(buf[:end])
        del buf[: end + 2]
        return line

    try:
        sock.sendall(
            f"GET /health HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            "Connection: keep-alive\r\nUser-Agent: wsdoctor-raw-client\r\n\r\n".encode()
        )
        status, headers = read_head()
        if not status.startswith("HTTP/1.1 200") or "content-length" not in headers:
            raise AssertionError(f"/health: {status} {headers}")
        read_exact(int(headers["content-length"]))

        body_chunks = [b"hello ", b"chunked ", b"world"]
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in body_chunks) + b"0\r\n\r\n"
        sock.sendall(
            f"POST /echo HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            "Connection: keep-alive\r\nUser-Agent: wsdoctor-raw-client\r\n"
            "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
            + chunked
        )
        status, headers = read_head()
        if not status.startswith("HTTP/1.1 200") or headers.get("transfer-encoding") != "chunked":
            raise AssertionError(f"/echo: {status} {headers}")
        body = bytearray()
        while True:
            size = int(read_line().split(b";")[0], 16)
            if size == 0:
                while read_line() != b"":  # trailers, then the empty line
                    pass
                break
            body += read_exact(size)
            if read_line() != b"":
                raise AssertionError("bad chunk terminator")
        if body != b"echo: hello chunked world\n":
            raise AssertionError(f"/echo body {bytes(body)!r}")
        if buf:
            raise AssertionError(f"unread bytes {bytes(buf)!r}")
        return sock
    except BaseException:
        sock.close()
        raise


async def sc_http_before_upgrade(port: int, ctx: "RunContext") -> None:
    from aiohttp import WSMsgType, web

    async def health(request):
        return web.Response(text="ok\n")  # Content-Length body

    async def echo(request):
        body = await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b"echo: ")
        await response.write(body + b"\n")
        await response.write_eof()
        return response

    async def ws_endpoint(request):
        ws = web.WebSocketResponse(compress=False, autoping=True)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_post("/echo", echo)
    app.router.add_get("/ws", ws_endpoint)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, HOST, port)
        await site.start()
        sock = await asyncio.to_thread(_blocking_http_exchanges, port)
        # The same TCP connection now carries the WebSocket upgrade, done by a
        # real websockets client.
        async with connect(ws_url(port, "/ws"), sock=sock, compression=None,
                           **WS_COMMON) as ws:
            await send_and_expect_echo(ws, "hello over the reused connection")
            await send_and_expect_echo(ws, b"\xca\xfe")
            await ws.close(1000, "bye")
    finally:
        async with asyncio.timeout(STEP_TIMEOUT):
            await runner.cleanup()


async def sc_two_connections(port: int, ctx: "RunContext") -> None:
    async with serve(echo_handler, HOST, port, compression=None, **WS_COMMON):
        async with connect(ws_url(port, "/a"), compression=None, **WS_COMMON) as a:
            async with connect(ws_url(port, "/b"), compression=None, **WS_COMMON) as b:
                for i in range(1, 4):
                    await send_and_expect_echo(a, f"from A #{i}")
                    await send_and_expect_echo(b, f"from B #{i}")
                await a.close(1000, "A done")
                await send_and_expect_echo(b, "B after A closed")
                await b.close(1000, "B done")


# ---------------------------------------------------------------------------
# Capture machinery


@dataclass
class Output:
    """One tcpdump writing one file."""

    name: str  # file name in Fixtures/captures
    args: list[str]  # tcpdump arguments before -w


LO = ["-i", "lo"]
NORMAL_OUTPUTS = [
    Output("normal-1000.pcap", LO),
    Output("normal-1000-nanosecond.pcap", LO + ["--time-stamp-precision=nano"]),
    Output("normal-1000-sll2.pcap", ["-i", "any", "-y", "LINUX_SLL2"]),
]
# Files converted from another output after recording: (new name, source, editcap args).
NORMAL_CONVERSIONS = [("normal-1000.pcapng", "normal-1000.pcap", ["-F", "pcapng"])]


@dataclass
class Scenario:
    name: str
    run: Callable[[int, "RunContext"], Awaitable[None]]
    outputs: list[Output] = field(default_factory=list)
    conversions: list[tuple[str, str, list[str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.outputs:
            self.outputs = [Output(f"{self.name}.pcap", LO)]

    def files(self) -> list[str]:
        return [o.name for o in self.outputs] + [c[0] for c in self.conversions]


SCENARIOS = [
    Scenario("normal-1000", sc_normal_1000, NORMAL_OUTPUTS, NORMAL_CONVERSIONS),
    Scenario("going-away-1001", sc_going_away_1001),
    Scenario("protocol-error-1002", sc_protocol_error_1002),
    Scenario("reserved-opcode-1002", sc_reserved_opcode_1002),
    Scenario("unsupported-data-1003", sc_unsupported_data_1003),
    Scenario("invalid-utf8-1007", sc_invalid_utf8_1007),
    Scenario("policy-1008", sc_policy_1008),
    Scenario("too-big-1009", sc_too_big_1009),
    Scenario("internal-error-1011", sc_internal_error_1011),
    Scenario("restart-1012", sc_restart_1012),
    Scenario("try-again-1013", sc_try_again_1013),
    Scenario("deflate", sc_deflate),
    Scenario("deflate-no-context-takeover", sc_deflate_no_context_takeover),
    Scenario("fragmented", sc_fragmented),
    Scenario("pings", sc_pings),
    Scenario("tcp-reset", sc_tcp_reset),
    Scenario("still-open", sc_still_open),
    Scenario("rejected-403", sc_rejected_403),
    Scenario("rejected-429", sc_rejected_429),
    Scenario("http-before-upgrade", sc_http_before_upgrade),
    Scenario("two-connections", sc_two_connections),
]


class Tcpdump:
    def __init__(self, output: Output, port: int, path: Path):
        self.output = output
        self.path = path
        self.cmd = (
            ["tcpdump"] + output.args
            + ["-U", "--immediate-mode", "-B", str(TCPDUMP_BUFFER_KIB), "-Z", "root",
               "-n", "-w", str(path),
               f"tcp port {port}"]
        )
        self.proc: subprocess.Popen | None = None
        self.stderr_lines: list[str] = []
        self._listening = threading.Event()
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self) -> None:
        assert self.proc and self.proc.stderr
        for line in self.proc.stderr:
            self.stderr_lines.append(line.rstrip("\n"))
            if "listening on" in line:
                self._listening.set()
        self._listening.set()  # EOF: tcpdump exited; wait_listening checks why

    def wait_listening(self) -> None:
        if not self._listening.wait(TCPDUMP_START_TIMEOUT):
            raise RuntimeError(f"tcpdump did not start listening: {self.cmd}")
        if not any("listening on" in l for l in self.stderr_lines):
            raise RuntimeError(
                f"tcpdump failed: {self.cmd}\n" + "\n".join(self.stderr_lines))

    def stop(self) -> None:
        """SIGINT, bounded wait; SIGKILL as the last resort."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(TCPDUMP_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(TCPDUMP_STOP_TIMEOUT)
        if self._reader:
            self._reader.join(TCPDUMP_STOP_TIMEOUT)

    def check(self) -> str:
        if self.proc is None or self.proc.returncode != 0:
            raise RuntimeError(
                f"tcpdump exited with {self.proc and self.proc.returncode}: "
                + "\n".join(self.stderr_lines))
        summary = "; ".join(l for l in self.stderr_lines if "packets" in l)
        dropped = [l for l in self.stderr_lines if "dropped by kernel" in l]
        if dropped and not dropped[0].startswith("0 "):
            raise RuntimeError(f"tcpdump dropped packets: {summary}")
        return summary


class RunContext:
    """Handed to scenarios; lets still-open stop the capture mid-scenario."""

    def __init__(self, dumps: list[Tcpdump]):
        self.dumps = dumps
        self.stopped = False

    async def stop_capture(self) -> None:
        if self.stopped:
            return
        await asyncio.sleep(SETTLE)
        await asyncio.to_thread(lambda: [d.stop() for d in self.dumps])
        self.stopped = True


async def run_bounded(scenario: Scenario, port: int, ctx: RunContext) -> None:
    async with asyncio.timeout(SCENARIO_TIMEOUT):
        await scenario.run(port, ctx)


def record(scenario: Scenario, dest: Path) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="wsdoctor-record-") as tmp:
        tmpdir = Path(tmp)
        dumps = [Tcpdump(o, port, tmpdir / o.name) for o in scenario.outputs]
        try:
            for d in dumps:
                d.start()
            for d in dumps:
                d.wait_listening()
            ctx = RunContext(dumps)
            asyncio.run(run_bounded(scenario, port, ctx))
            if not ctx.stopped:
                time.sleep(SETTLE)
        finally:
            for d in dumps:
                d.stop()
        summaries = [f"{d.output.name}: {d.check()}" for d in dumps]
        for new, src, args in scenario.conversions:
            subprocess.run(["editcap", *args, str(tmpdir / src), str(tmpdir / new)],
                           check=True, timeout=30, stdin=subprocess.DEVNULL)
        dest.mkdir(parents=True, exist_ok=True)
        for name in scenario.files():
            size = (tmpdir / name).stat().st_size
            if size > 100_000:
                raise RuntimeError(f"{name} is {size} bytes, over 100 KB")
            shutil.copyfile(tmpdir / name, dest / name)
        print(f"{scenario.name}: port {port}; " + "; ".join(summaries))
        for name in scenario.files():
            print(f"  wrote {dest / name} ({(dest / name).stat().st_size} bytes)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="record only this scenario (repeatable); a file name "
                             "such as normal-1000.pcapng selects its scenario")
    parser.add_argument("--list", action="store_true", help="list scenarios and files")
    parser.add_argument("--out", type=Path, default=CAPTURES,
                        help=f"output directory (default {CAPTURES})")
    parser.add_argument("--verbose", action="store_true", help="show peer logs")
    args = parser.parse_args()

    if args.list:
        for s in SCENARIOS:
            print(f"{s.name}\t{' '.join(s.files())}")
        return 0

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.CRITICAL,
        format="%(name)s: %(message)s",
    )

    chosen = SCENARIOS
    if args.only:
        chosen = []
        for name in args.only:
            match = [s for s in SCENARIOS
                     if name == s.name or name in s.files()
                     or name in [f.rsplit(".", 1)[0] for f in s.files()]]
            if not match:
                parser.error(f"unknown scenario {name!r} (see --list)")
            if match[0] not in chosen:
                chosen.append(match[0])

    # Turn SIGTERM into an exception so the `finally` blocks stop tcpdump.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    if os.geteuid() != 0:
        print("record.py: tcpdump needs root; run as root", file=sys.stderr)
        return 2
    for tool in ("tcpdump", "editcap"):
        if shutil.which(tool) is None:
            print(f"record.py: {tool} not found; run scripts/install-deps.sh",
                  file=sys.stderr)
            return 2

    failed = []
    for scenario in chosen:
        try:
            record(scenario, args.out)
        except Exception as exc:  # report and go on with the next scenario
            failed.append(scenario.name)
            print(f"{scenario.name}: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
    if failed:
        print(f"failed: {' '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
