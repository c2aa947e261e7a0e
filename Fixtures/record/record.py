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

The diagnosis scenarios (diag-*, see "Diagnosis scenarios" in MANIFEST.md)
add three hand-written parts, each playing only the misbehaving side while
the side that detects the problem and closes stays a real library: RawServer
(never answers a close frame), Relay (an intermediary between a websockets
client and a websockets server that rewrites a header or a frame, stalls,
or drops idle connections; only the client<->relay leg is captured: the
relay listens on the captured port and reaches the server on a port that is
not captured), and a websockets server run as a separate process so that it
can be killed (diag-server-crash). diag-idle-timeout waits 60 s on purpose;
a scenario may set its own time bound (Scenario.timeout). The failed-handshake
scenarios use a raw TCP server that never answers the upgrade
(diag-handshake-unanswered) and Python's own `python -m http.server` as a
subprocess in an empty directory (diag-handshake-refused-200);
diag-keepalive-no-close uses an aiohttp client (heartbeat) through a Relay.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import hashlib
import hmac
import http
import json
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
import urllib.parse
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
    async def open(cls, port: int, path: str = "/", extra_headers: str = "") -> "RawClient":
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
            + extra_headers
            + "\r\n"
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

    async def say_hello(self) -> None:
        """Sends a masked text "hello" and checks that it comes back as is."""
        await self.send(encode_frame(OP_TEXT, b"hello"))
        opcode, _, payload = await self.recv_frame()
        if (opcode, payload) != (OP_TEXT, b"hello"):
            raise AssertionError(f"unexpected echo {opcode} {payload!r}")

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
            await raw.say_hello()
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


async def silent_tcp_client(port: int) -> None:
    """Connects, as a health check does, waits 0.3 s and closes without sending a byte."""
    reader, writer = await asyncio.open_connection(HOST, port)
    await asyncio.sleep(0.3)
    writer.close()
    async with asyncio.timeout(STEP_TIMEOUT):
        await reader.read()  # the server's FIN in answer
    await writer.wait_closed()


async def sc_diag_client_sent_nothing(port: int, ctx: "RunContext") -> None:
    """A normal session, then a TCP client (as a health check does) that connects,
    waits 0.3 s and closes without sending a byte."""
    async with serve(echo_handler, HOST, port, compression=None, **WS_COMMON):
        async with connect(ws_url(port, "/chat"), compression=None, **WS_COMMON) as ws:
            await send_and_expect_echo(ws, "hello")
            await ws.close(1000, "bye")
        await silent_tcp_client(port)


async def sc_diag_client_sent_nothing_first(port: int, ctx: "RunContext") -> None:
    """The same two connections the other way round: the silent TCP client comes first,
    before the server has answered any upgrade, then the normal session."""
    async with serve(echo_handler, HOST, port, compression=None, **WS_COMMON):
        await silent_tcp_client(port)
        async with connect(ws_url(port, "/chat"), compression=None, **WS_COMMON) as ws:
            await send_and_expect_echo(ws, "hello")
            await ws.close(1000, "bye")


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


async def aiohttp_echo(request):
    """An aiohttp WebSocket endpoint (no compression, automatic pongs) that echoes
    text and binary messages."""
    from aiohttp import WSMsgType, web

    ws = web.WebSocketResponse(compress=False, autoping=True)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type == WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


async def sc_http_before_upgrade(port: int, ctx: "RunContext") -> None:
    from aiohttp import web

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

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_post("/echo", echo)
    app.router.add_get("/ws", aiohttp_echo)
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
# Diagnosis scenarios (files diag-*.pcap). Each makes one realistic cause of a
# close happen for real: the side that detects the problem and closes is
# always the real library (websockets, or aiohttp for the 404). Where the
# cause is misbehaviour, a hand-written part plays it: the raw-socket client
# above, RawServer below, or Relay below, a TCP relay between a websockets
# client and a websockets server. In relay scenarios the capture holds only
# the client<->relay leg: the relay listens on the captured port (the "server
# port" of the capture) and reaches the real server on another port that is
# not captured.


async def _read_ws_frame(reader: asyncio.StreamReader) -> bytes:
    """One whole WebSocket frame, as the bytes on the wire."""
    head = await reader.readexactly(2)
    n = head[1] & 0x7F
    ext = b""
    if n == 126:
        ext = await reader.readexactly(2)
        (n,) = struct.unpack("!H", ext)
    elif n == 127:
        ext = await reader.readexactly(8)
        (n,) = struct.unpack("!Q", ext)
    key = await reader.readexactly(4) if head[1] & 0x80 else b""
    return head + ext + key + await reader.readexactly(n)


def split_frame(raw: bytes) -> tuple[int, bytes | None, bytes]:
    """(opcode, masking key or None, unmasked payload) of a whole frame."""
    n = raw[1] & 0x7F
    pos = 2 + {126: 2, 127: 8}.get(n, 0)
    key = raw[pos:pos + 4] if raw[1] & 0x80 else None
    payload = raw[pos + 4:] if key else raw[pos:]
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return raw[0] & 0x0F, key, payload


FrameHook = Callable[[bytes], "bytes | None"]  # whole frame -> frame to send, None drops it
HeadHook = Callable[[bytes], bytes]  # HTTP head (with its \r\n\r\n) -> head to send


class Relay:
    """A TCP relay (an intermediary: proxy, load balancer) from
    HOST:listen_port to HOST:upstream_port, optionally misbehaving.

    Each direction first passes the HTTP head (request or response, up to the
    empty line) through `*_head`, then, after a 101, either copies bytes as
    they come or, when `*_frame` is set, parses WebSocket frames and passes
    each through it. When one side ends TCP (FIN) the relay half-closes the
    other side, unless `blackhole` is set for that direction. `idle_timeout`
    closes both TCP connections (FIN, no close frame) after that many seconds
    without a byte in either direction. `notes` records what it changed.
    """

    def __init__(self, listen_port: int, upstream_port: int, *,
                 c2s_head: HeadHook | None = None, s2c_head: HeadHook | None = None,
                 c2s_frame: FrameHook | None = None, s2c_frame: FrameHook | None = None,
                 idle_timeout: float | None = None):
        self.listen_port = listen_port
        self.upstream_port = upstream_port
        self.hooks = {"c2s": (c2s_head, c2s_frame), "s2c": (s2c_head, s2c_frame)}
        self.idle_timeout = idle_timeout
        self.blackhole = {"c2s": False, "s2c": False}  # drop bytes and EOF
        self.notes: list[str] = []
        self.idle_closed_after: float | None = None
        self.done = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task] = set()

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  relay: {text}")

    async def __aenter__(self) -> "Relay":
        self.server = await asyncio.start_server(self._handle, HOST, self.listen_port)
        return self

    async def __aexit__(self, *exc) -> None:
        assert self.server
        self.server.close()
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        async with asyncio.timeout(STEP_TIMEOUT):
            await self.server.wait_closed()

    async def _handle(self, c_reader, c_writer) -> None:
        self.tasks.add(asyncio.current_task())
        loop = asyncio.get_running_loop()
        self.last_activity = loop.time()
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                s_reader, s_writer = await asyncio.open_connection(HOST, self.upstream_port)
        except BaseException:
            c_writer.close()
            raise
        pumps = [
            asyncio.create_task(self._pump("c2s", c_reader, s_writer)),
            asyncio.create_task(self._pump("s2c", s_reader, c_writer)),
        ]
        waiters = list(pumps)
        if self.idle_timeout is not None:
            waiters.append(asyncio.create_task(self._idle_watch()))
        try:
            # Ends when both directions have ended, or when the idle watch fires.
            pending = set(waiters)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if any(t not in pumps for t in done):  # idle timeout
                    break
                if all(p.done() for p in pumps):
                    break
            for t in waiters:
                t.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        finally:
            for w in (c_writer, s_writer):
                w.close()
            for w in (c_writer, s_writer):
                try:
                    async with asyncio.timeout(STEP_TIMEOUT):
                        await w.wait_closed()
                except (ConnectionError, TimeoutError):
                    pass
            self.done.set()

    async def _idle_watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            idle = loop.time() - self.last_activity
            if idle >= self.idle_timeout:
                self.idle_closed_after = idle
                self.note(f"idle for {idle:.1f} s: closing both TCP connections")
                return
            await asyncio.sleep(self.idle_timeout - idle)

    async def _pump(self, direction: str, reader, writer) -> None:
        head_hook, frame_hook = self.hooks[direction]
        loop = asyncio.get_running_loop()

        def forward(data: bytes) -> None:
            self.last_activity = loop.time()
            if not self.blackhole[direction]:
                writer.write(data)

        try:
            head = await reader.readuntil(b"\r\n\r\n")
            forward(head_hook(head) if head_hook else head)
            await writer.drain()
            upgraded = head.startswith(b"GET ") or head.startswith(b"HTTP/1.1 101 ")
            if frame_hook is not None and upgraded:
                while True:
                    try:
                        frame = await _read_ws_frame(reader)
                    except asyncio.IncompleteReadError as exc:
                        if exc.partial:
                            forward(exc.partial)
                        break
                    self.last_activity = loop.time()
                    out = frame_hook(frame)
                    if out is not None:
                        forward(out)
                        await writer.drain()
            else:
                while data := await reader.read(65536):
                    forward(data)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        if not self.blackhole[direction]:
            try:
                writer.write_eof()
            except (OSError, RuntimeError):
                pass


def nth_data_frame(n: int, change: Callable[[bytes], bytes]) -> FrameHook:
    """A frame hook that applies `change` to the n-th data frame only."""
    seen = 0

    def hook(frame: bytes) -> bytes:
        nonlocal seen
        if frame[0] & 0x0F in (OP_CONT, OP_TEXT, OP_BINARY):
            seen += 1
            if seen == n:
                return change(frame)
        return frame

    return hook


def header_hook(relay_note: Callable[[str], None], name: str,
                change: Callable[[str], str | None]) -> HeadHook:
    """A head hook that rewrites the value of header `name` (None removes it)."""

    def hook(head: bytes) -> bytes:
        lines = head.decode("latin-1").split("\r\n")
        out = []
        for line in lines:
            field, sep, value = line.partition(":")
            if sep and field.strip().lower() == name.lower():
                new = change(value.strip())
                if new is None:
                    relay_note(f"removed header {line!r}")
                    continue
                relay_note(f"changed header {name}: {value.strip()!r} -> {new!r}")
                line = f"{field}: {new}"
            out.append(line)
        return "\r\n".join(out).encode("latin-1")

    return hook


class RawServer:
    """A hand-written WebSocket server: accepts the upgrade (no extension),
    echoes text and binary messages, answers pings, and never answers a close
    frame nor ends TCP until the client does."""

    def __init__(self, port: int):
        self.port = port
        self.close_received: bytes | None = None
        self.server: asyncio.Server | None = None
        self.handlers: set[asyncio.Task] = set()
        self.done = asyncio.Event()

    async def __aenter__(self) -> "RawServer":
        self.server = await asyncio.start_server(self._handle, HOST, self.port)
        return self

    async def __aexit__(self, *exc) -> None:
        assert self.server
        self.server.close()
        for t in list(self.handlers):
            t.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)

    @staticmethod
    async def accept_upgrade(reader, writer) -> None:
        """Reads an upgrade request and answers 101 Switching Protocols (no extension)."""
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(l.split(":", 1)[1].strip() for l in head.decode().split("\r\n")
                   if l.lower().startswith("sec-websocket-key:"))
        accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
                      "Server: wsdoctor-raw-server\r\n\r\n").encode())

    async def _handle(self, reader, writer) -> None:
        self.handlers.add(asyncio.current_task())
        try:
            await self.accept_upgrade(reader, writer)
            while True:
                frame = await _read_ws_frame(reader)
                opcode, _, payload = split_frame(frame)
                if opcode in (OP_TEXT, OP_BINARY):
                    writer.write(encode_frame(opcode, payload, mask=None))
                elif opcode == OP_PING:
                    writer.write(encode_frame(OP_PONG, payload, mask=None))
                elif opcode == OP_CLOSE:
                    self.close_received = payload  # and say nothing
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self.done.set()


# --- JSON Web Tokens (HS256, made and checked here) -------------------------

JWT_SECRET = b"wsdoctor-fixture-secret"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_jwt(claims: dict) -> str:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(JWT_SECRET, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


def check_jwt(token: str) -> dict | None:
    """The claims of a token with a valid HS256 signature that has not
    expired yet; None otherwise."""
    try:
        header, payload, signature = token.split(".")
        expected = hmac.new(JWT_SECRET, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _b64url_decode(signature)):
            return None
        claims = json.loads(_b64url_decode(payload))
    except ValueError:
        return None
    return claims if claims.get("exp", 0) > time.time() else None


def bearer_token(request) -> str | None:
    value = request.headers.get("Authorization", "")
    return value[len("Bearer "):] if value.startswith("Bearer ") else None


def query_token(request) -> str | None:
    values = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query).get("access_token")
    return values[0] if values else None


def jwt_server(get_token: Callable[[object], str | None], code: int, reason: str):
    """(process_request, handler) of a server that needs a valid JWT to
    upgrade (401 otherwise) and closes the connection with `code` / `reason`
    when the token's `exp` is reached; until then it echoes."""

    def process_request(connection, request):
        if check_jwt(get_token(request) or "") is None:
            response = connection.respond(http.HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return None

    async def handler(ws) -> None:
        claims = check_jwt(get_token(ws.request) or "")
        if claims is None:  # expired between the upgrade and here
            await ws.close(code, reason)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (claims["exp"] - time.time())
        try:
            async with asyncio.timeout_at(deadline):
                await echo_handler(ws)
        except TimeoutError:
            await ws.close(code, reason)

    return process_request, handler


# --- the scenarios ----------------------------------------------------------


async def sc_diag_rate_limit_1008(port: int, ctx: "RunContext") -> None:
    limit = 20  # messages in any 1-second window

    async def handler(ws) -> None:
        loop = asyncio.get_running_loop()
        window: collections.deque[float] = collections.deque()
        async for message in ws:
            now = loop.time()
            window.append(now)
            while window[0] <= now - 1.0:
                window.popleft()
            if len(window) > limit:
                await ws.close(1008, "rate limit exceeded")
                return
            await ws.send(message)

    async with serve(handler, HOST, port, compression=None, **WS_COMMON):
        async with connect(ws_url(port, "/feed"), compression=None, **WS_COMMON) as ws:
            echoes = []

            async def read_all() -> None:
                try:
                    async for m in ws:
                        echoes.append(m)
                except ConnectionClosed:
                    pass

            reader = asyncio.create_task(read_all())
            for i in range(1, 9):  # 2 messages per second for 4 s
                await ws.send(f"tick {i}")
                await asyncio.sleep(0.5)
            # Let every tick leave the server's 1 s window (tick 8 is 1.25 s
            # old when the burst starts), so the burst alone trips the limit:
            # the 21st burst message is the 21st message in the window.
            await asyncio.sleep(0.75)
            sent = 0
            try:
                for i in range(1, 51):  # 50 messages, one every 10 ms
                    await ws.send(f"burst {i}")
                    sent += 1
                    await asyncio.sleep(0.01)
            except ConnectionClosed:
                pass
            async with asyncio.timeout(STEP_TIMEOUT):
                await reader
                await ws.wait_closed()
        print(f"  burst messages sent before the close: {sent}; echoes received: {len(echoes)}")
        if ws.close_code != 1008:
            raise AssertionError(f"close code {ws.close_code}")


async def _jwt_expired(port: int, path_of: Callable[[str], str], headers_of,
                       get_token, code: int) -> None:
    process_request, handler = jwt_server(get_token, code, "token expired")
    async with serve(handler, HOST, port, compression=None,
                     process_request=process_request, **WS_COMMON):
        # Connect at a quarter past a whole second, so that exp (a whole second)
        # falls 2.75 s after the connection opens, between two client messages.
        now = time.time()
        await asyncio.sleep(1.25 - (now - int(now)))
        iat = int(time.time())
        token = make_jwt({"sub": "user-42", "iat": iat, "exp": iat + 3})
        print(f"  JWT iat={iat} exp={iat + 3}; connecting at {time.time():.3f}")
        async with connect(ws_url(port, path_of(token)), compression=None,
                           additional_headers=headers_of(token), **WS_COMMON) as ws:
            try:
                for i in range(1, 21):  # one message every 0.5 s until closed
                    await send_and_expect_echo(ws, f"update {i}")
                    await asyncio.sleep(0.5)
            except ConnectionClosed:
                pass
            await drain_until_closed(ws)
        print(f"  closed at {time.time():.3f}")
        if ws.close_code != code:
            raise AssertionError(f"close code {ws.close_code}, expected {code}")


async def sc_diag_jwt_expired_1008(port: int, ctx: "RunContext") -> None:
    await _jwt_expired(port, lambda t: "/stream",
                       lambda t: {"Authorization": f"Bearer {t}"}, bearer_token, 1008)


async def sc_diag_jwt_query_expired_1008(port: int, ctx: "RunContext") -> None:
    await _jwt_expired(port, lambda t: f"/stream?access_token={t}",
                       lambda t: {}, query_token, 4001)


async def sc_diag_overload_503(port: int, ctx: "RunContext") -> None:
    await _rejected(port, http.HTTPStatus.SERVICE_UNAVAILABLE,
                    "Server overloaded, retry later\n", {"Retry-After": "5"})


async def sc_diag_unauthorized_401(port: int, ctx: "RunContext") -> None:
    # The JWT server of diag-jwt-expired-1008, reached without a token.
    process_request, handler = jwt_server(bearer_token, 1008, "token expired")
    async with serve(handler, HOST, port, compression=None,
                     process_request=process_request, **WS_COMMON):
        try:
            async with connect(ws_url(port, "/stream"), compression=None, **WS_COMMON):
                raise AssertionError("the upgrade was accepted")
        except InvalidStatus as exc:
            if exc.response.status_code != 401:
                raise AssertionError(f"status {exc.response.status_code}")


async def sc_diag_not_found_404(port: int, ctx: "RunContext") -> None:
    # aiohttp serves the WebSocket on /ws only; the client asks for /socket.
    from aiohttp import web

    async def ws_endpoint(request):
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        async for msg in ws:
            await ws.send_str(msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/ws", ws_endpoint)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, HOST, port).start()
        try:
            async with connect(ws_url(port, "/socket"), compression=None, **WS_COMMON):
                raise AssertionError("the upgrade was accepted")
        except InvalidStatus as exc:
            if exc.response.status_code != 404:
                raise AssertionError(f"status {exc.response.status_code}")
    finally:
        async with asyncio.timeout(STEP_TIMEOUT):
            await runner.cleanup()


async def _through_relay(port: int, relay_kwargs: dict, client, *, server_handler=echo_handler,
                         server_kwargs: dict | None = None) -> Relay:
    """A websockets server on a private port, a Relay on the captured port in
    front of it, and `client(relay)` run against the relay."""
    upstream = free_port()
    kwargs = dict(compression=None, **WS_COMMON)
    kwargs.update(server_kwargs or {})
    async with serve(server_handler, HOST, upstream, **kwargs):
        async with Relay(port, upstream, **relay_kwargs) as relay:
            print(f"  relay port {port} (captured) -> server port {upstream} (not captured)")
            await client(relay)
            async with asyncio.timeout(STEP_TIMEOUT):
                await relay.done.wait()
    return relay


async def sc_diag_proxy_corrupts_1002(port: int, ctx: "RunContext") -> None:
    notes: list[str] = []

    def flip_mask_bit(frame: bytes) -> bytes:
        notes.append(f"2nd client data frame: byte 1 {frame[1]:#04x} -> {frame[1] ^ 0x80:#04x} "
                     "(MASK bit cleared)")
        return frame[:1] + bytes([frame[1] ^ 0x80]) + frame[2:]

    async def client(relay: Relay) -> None:
        async with connect(ws_url(port, "/chat"), compression=None, **WS_COMMON) as ws:
            await send_and_expect_echo(ws, "hello")
            await ws.send("second message")
            await drain_until_closed(ws)
        for n in notes:
            relay.note(n)
        if ws.close_code != 1002:
            raise AssertionError(f"close code {ws.close_code}")

    await _through_relay(port, dict(c2s_frame=nth_data_frame(2, flip_mask_bit)), client)


async def sc_diag_proxy_strips_extension(port: int, ctx: "RunContext") -> None:
    notes: list[str] = []
    strip = header_hook(notes.append, "Sec-WebSocket-Extensions", lambda v: None)

    async def client(relay: Relay) -> None:
        async with connect(ws_url(port, "/chat"), compression="deflate", **WS_COMMON) as ws:
            if "Sec-WebSocket-Extensions" in ws.response.headers:
                raise AssertionError("the extension header was not removed")
            await ws.send("hello, compressed world")
            await drain_until_closed(ws)
        for n in notes:
            relay.note(n)
        # The client fails the connection: it sends 1002 and then ignores the
        # server's answer, so its close_code (received) is 1006.
        sent = ws.protocol.close_sent
        print(f"  client sent close {sent.code} {sent.reason!r}; close_code {ws.close_code}")
        if sent.code != 1002:
            raise AssertionError(f"client sent close {sent}")

    await _through_relay(port, dict(s2c_head=strip), client,
                         server_kwargs=dict(compression="deflate"))


async def sc_diag_proxy_bad_accept(port: int, ctx: "RunContext") -> None:
    notes: list[str] = []

    def alter(value: str) -> str:
        return ("B" if value[0] == "A" else "A") + value[1:]

    async def client(relay: Relay) -> None:
        try:
            async with connect(ws_url(port, "/chat"), compression=None, **WS_COMMON):
                raise AssertionError("the handshake was accepted")
        except websockets.exceptions.InvalidHeaderValue as exc:
            print(f"  client: {type(exc).__name__}: {exc}")
        for n in notes:
            relay.note(n)

    await _through_relay(port, dict(
        s2c_head=header_hook(notes.append, "Sec-WebSocket-Accept", alter)), client)


async def sc_diag_proxy_corrupts_utf8_1007(port: int, ctx: "RunContext") -> None:
    notes: list[str] = []

    def to_latin1(frame: bytes) -> bytes:
        # A "transcoding" intermediary: re-encodes the text as Latin-1 and
        # re-frames it (new length) with the client's own masking key.
        opcode, key, payload = split_frame(frame)
        new = payload.decode("utf-8").encode("latin-1")
        notes.append(f"2nd client text frame re-encoded UTF-8 -> Latin-1: "
                     f"{payload!r} ({len(payload)} bytes) -> {new!r} ({len(new)} bytes), "
                     f"same masking key {key.hex()}")
        return encode_frame(opcode, new, fin=bool(frame[0] & 0x80), mask=key)

    async def client(relay: Relay) -> None:
        async with connect(ws_url(port, "/chat"), compression=None, **WS_COMMON) as ws:
            await send_and_expect_echo(ws, "hello")
            await ws.send("café crème")
            await drain_until_closed(ws)
        for n in notes:
            relay.note(n)
        if ws.close_code != 1007:
            raise AssertionError(f"close code {ws.close_code}")

    await _through_relay(port, dict(c2s_frame=nth_data_frame(2, to_latin1)), client)


IDLE_TIMEOUT = 60.0


async def sc_diag_idle_timeout(port: int, ctx: "RunContext") -> None:
    async def client(relay: Relay) -> None:
        async with connect(ws_url(port, "/chat"), compression=None, **WS_COMMON) as ws:
            await send_and_expect_echo(ws, "hello")
            await send_and_expect_echo(ws, "anyone there?")
            await send_and_expect_echo(ws, "going quiet now")
            # Nothing more from either side (no keepalive pings).
            try:
                async with asyncio.timeout(IDLE_TIMEOUT + 10):
                    await ws.recv()
                raise AssertionError("unexpected message")
            except ConnectionClosed:
                pass
        if relay.idle_closed_after is None:
            raise AssertionError("the relay did not time out")
        print(f"  client: closed with {ws.close_code} after the relay's idle timeout")

    await _through_relay(port, dict(idle_timeout=IDLE_TIMEOUT), client)


async def sc_diag_keepalive_timeout(port: int, ctx: "RunContext") -> None:
    relay_ref: list[Relay] = []
    passed = 0

    def stall_after_two(frame: bytes) -> bytes | None:
        # The server's first two frames (the two echoes) get through; then the
        # path stalls: nothing more from the server reaches the client, not
        # even its FIN (the kernel on the client leg still ACKs).
        nonlocal passed
        relay = relay_ref[0]
        if passed < 2:
            passed += 1
            return frame
        if not relay.blackhole["s2c"]:
            relay.blackhole["s2c"] = True
            relay.note("s2c stalled: dropping everything from the server from now on")
        opcode, _, payload = split_frame(frame)
        relay.note(f"dropped s2c opcode {opcode:#x} payload {payload!r}")
        return None

    async def client(relay: Relay) -> None:
        relay_ref.append(relay)
        kwargs = dict(WS_COMMON, ping_interval=1, ping_timeout=1, close_timeout=2)
        t0 = time.monotonic()
        async with connect(ws_url(port, "/chat"), compression=None, **kwargs) as ws:
            await send_and_expect_echo(ws, "hello")
            await send_and_expect_echo(ws, "still fine")
            try:
                async with asyncio.timeout(10):
                    await ws.recv()
                raise AssertionError("unexpected message")
            except ConnectionClosed:
                pass
        sent = ws.protocol.close_sent
        print(f"  client sent close {sent.code} {sent.reason!r}; close_code {ws.close_code}; "
              f"connection lost {time.monotonic() - t0:.2f} s after connecting")
        if sent.code != 1011:
            raise AssertionError(f"client sent close {sent}")

    await _through_relay(port, dict(s2c_frame=stall_after_two), client)


SERVER_PROCESS = r"""
import asyncio, sys
from websockets.asyncio.server import serve

async def echo(ws):
    async for message in ws:
        await ws.send(message)

async def main():
    async with serve(echo, "127.0.0.1", int(sys.argv[1]), compression=None,
                     ping_interval=None):
        print("ready", flush=True)
        await asyncio.Future()

asyncio.run(main())
"""


async def sc_diag_server_crash(port: int, ctx: "RunContext") -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVER_PROCESS, str(port),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    try:
        async with asyncio.timeout(STEP_TIMEOUT):
            line = await proc.stdout.readline()
        if line.strip() != b"ready":
            raise AssertionError(f"server process said {line!r}")
        async with connect(ws_url(port, "/chat"), compression=None, **WS_COMMON) as ws:
            await send_and_expect_echo(ws, "hello")
            await send_and_expect_echo(ws, "are you alive?")
            await asyncio.sleep(0.2)
            os.kill(proc.pid, signal.SIGKILL)
            async with asyncio.timeout(STEP_TIMEOUT):
                await proc.wait()
            await drain_until_closed(ws)
        print(f"  server process {proc.pid} killed (exit {proc.returncode}); "
              f"client close code {ws.close_code}")
        if ws.close_code != 1006:
            raise AssertionError(f"close code {ws.close_code}")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def sc_diag_restart_wave_1012(port: int, ctx: "RunContext") -> None:
    server = await serve(echo_handler, HOST, port, compression=None, **WS_COMMON)
    try:
        async with contextlib.AsyncExitStack() as stack:
            clients = []
            for i in range(1, 6):
                ws = await stack.enter_async_context(
                    connect(ws_url(port, f"/client-{i}"), compression=None, **WS_COMMON))
                clients.append(ws)
            for i, ws in enumerate(clients, 1):
                await send_and_expect_echo(ws, f"hello from client {i}")
            await asyncio.sleep(0.2)
            server.close(code=1012, reason="service restart")
            await asyncio.gather(*(drain_until_closed(ws) for ws in clients))
        async with asyncio.timeout(STEP_TIMEOUT):
            await server.wait_closed()
        codes = [ws.close_code for ws in clients]
        if codes != [1012] * 5:
            raise AssertionError(f"close codes {codes}")
    finally:
        server.close()


async def sc_diag_empty_close_1005(port: int, ctx: "RunContext") -> None:
    async with serve(echo_handler, HOST, port, compression=None, **WS_COMMON):
        raw = await RawClient.open(port, "/chat")
        try:
            await raw.say_hello()
            await raw.send(encode_frame(OP_CLOSE, b""))  # close with no status code
            opcode, _, payload = await raw.recv_frame()
            print(f"  server answered opcode {opcode:#x} payload {payload!r}")
            if opcode != OP_CLOSE:
                raise AssertionError(f"answer {opcode}")
            async with asyncio.timeout(STEP_TIMEOUT):
                rest = await raw.reader.read()
            if rest:
                raise AssertionError(f"data after close: {rest!r}")
        finally:
            await raw.close()


async def sc_diag_close_never_echoed(port: int, ctx: "RunContext") -> None:
    async with RawServer(port) as server:
        kwargs = dict(WS_COMMON, close_timeout=1)
        async with connect(ws_url(port, "/chat"), compression=None, **kwargs) as ws:
            await send_and_expect_echo(ws, "hello")
            t0 = time.monotonic()
            await ws.close(1000, "bye")
            took = time.monotonic() - t0
        print(f"  client close() returned after {took:.2f} s; raw server got close "
              f"{server.close_received!r}")
        async with asyncio.timeout(STEP_TIMEOUT):
            await server.done.wait()
        if server.close_received is None:
            raise AssertionError("the close frame did not arrive")


DEFLATE_BIG_TEXT = ("wsdoctor compressible line\n" * 4000)[:102400]  # 100 KiB


async def sc_diag_too_big_deflate_1009(port: int, ctx: "RunContext") -> None:
    async with serve(echo_handler, HOST, port, compression="deflate", max_size=65536,
                     **WS_COMMON):
        async with connect(ws_url(port, "/upload"), compression="deflate", **WS_COMMON) as ws:
            await send_and_expect_echo(ws, "small message")
            await ws.send(DEFLATE_BIG_TEXT)
            await drain_until_closed(ws)
        if ws.close_code != 1009:
            raise AssertionError(f"close code {ws.close_code}")


# --- more diagnosis scenarios: handshakes that fail, codes, silent drops ----


async def _read_http_answer(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """(head, rest) of an HTTP answer read until the server ends TCP."""
    async with asyncio.timeout(STEP_TIMEOUT):
        head = await reader.readuntil(b"\r\n\r\n")
        rest = await reader.read()
    return head, rest


async def sc_diag_bad_version_400(port: int, ctx: "RunContext") -> None:
    # A client speaking an old draft (hybi-08 used Sec-WebSocket-Version: 8).
    async with serve(echo_handler, HOST, port, compression=None, **WS_COMMON):
        async with asyncio.timeout(STEP_TIMEOUT):
            reader, writer = await asyncio.open_connection(HOST, port)
        try:
            writer.write((
                "GET /chat HTTP/1.1\r\n"
                f"Host: {HOST}:{port}\r\n"
                "Upgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {RAW_KEY}\r\n"
                "Sec-WebSocket-Version: 8\r\n"
                "User-Agent: wsdoctor-raw-client\r\n"
                "\r\n").encode())
            await writer.drain()
            head, rest = await _read_http_answer(reader)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, TimeoutError):
                async with asyncio.timeout(STEP_TIMEOUT):
                    await writer.wait_closed()
        status_line = head.split(b"\r\n")[0].decode()
        print(f"  server answered {status_line!r}; body {rest!r}")
        if head.startswith(b"HTTP/1.1 101 "):
            raise AssertionError("the upgrade was accepted")


async def sc_diag_handshake_unanswered(port: int, ctx: "RunContext") -> None:
    # A raw TCP server (a backend that is not a WebSocket server, or one that
    # crashes on the request): reads the request head, then ends TCP.
    got: list[bytes] = []
    handled = asyncio.Event()

    async def handle(reader, writer) -> None:
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                got.append(await reader.readuntil(b"\r\n\r\n"))
        finally:
            writer.close()
            handled.set()

    server = await asyncio.start_server(handle, HOST, port)
    try:
        try:
            async with connect(ws_url(port, "/chat"), compression=None, **WS_COMMON):
                raise AssertionError("the handshake succeeded")
        except websockets.exceptions.InvalidHandshake as exc:
            print(f"  client: {type(exc).__name__}: {exc} (cause: {exc.__cause__!r})")
        async with asyncio.timeout(STEP_TIMEOUT):
            await handled.wait()
        if not got:
            raise AssertionError("the request did not arrive")
    finally:
        server.close()
        async with asyncio.timeout(STEP_TIMEOUT):
            await server.wait_closed()


async def sc_diag_handshake_refused_200(port: int, ctx: "RunContext") -> None:
    # Python's own http.server (a plain web server, not a WebSocket server)
    # in an empty directory: it answers the upgrade with a directory listing.
    with tempfile.TemporaryDirectory(prefix="wsdoctor-empty-") as empty:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-u", "-m", "http.server", str(port), "--bind", HOST,
            cwd=empty, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL)
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                line = await proc.stdout.readline()
            if not line.startswith(b"Serving HTTP on"):
                raise AssertionError(f"http.server said {line!r}")
            try:
                # "/" (the empty directory's listing, 200); any other path is a 404.
                async with connect(ws_url(port, "/"), compression=None, **WS_COMMON):
                    raise AssertionError("the handshake succeeded")
            except websockets.exceptions.InvalidHandshake as exc:
                print(f"  client: {type(exc).__name__}: {exc} (cause: {exc.__cause__!r})")
            await asyncio.sleep(0.2)  # let http.server finish with the connection
        finally:
            if proc.returncode is None:
                proc.terminate()
                try:
                    async with asyncio.timeout(STEP_TIMEOUT):
                        await proc.wait()
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


async def sc_diag_policy_unexplained_1008(port: int, ctx: "RunContext") -> None:
    # The server decides 1.5 s after the connection opened, with nothing from
    # the client in between, that it does not want it (an origin check done
    # late, e.g. after an asynchronous lookup).
    async def handler(ws) -> None:
        loop = asyncio.get_running_loop()
        opened = loop.time()
        message = await ws.recv()
        await ws.send(message)
        await asyncio.sleep(max(0.0, opened + 1.5 - loop.time()))
        await ws.close(1008, "origin not allowed")

    async with serve(handler, HOST, port, compression=None, **WS_COMMON):
        async with connect(ws_url(port, "/chat"), compression=None, **WS_COMMON) as ws:
            await send_and_expect_echo(ws, "hello")
            await drain_until_closed(ws)
        if ws.close_code != 1008:
            raise AssertionError(f"close code {ws.close_code}")


async def sc_diag_mandatory_extension_1010(port: int, ctx: "RunContext") -> None:
    # The client needs permessage-deflate; the server did not negotiate it.
    # (The client itself offers nothing here: compression=None.)
    async with serve(echo_handler, HOST, port, compression=None, **WS_COMMON):
        async with connect(ws_url(port, "/chat"), compression=None, **WS_COMMON) as ws:
            if "Sec-WebSocket-Extensions" in ws.response.headers:
                raise AssertionError("an extension was negotiated")
            await send_and_expect_echo(ws, "hello")
            await ws.close(1010, "permessage-deflate required")
        if ws.close_code != 1010:
            raise AssertionError(f"close code {ws.close_code}")


def _echo_one_then_close(code: int, reason: str):
    async def handler(ws) -> None:
        message = await ws.recv()
        await ws.send(message)
        await asyncio.sleep(0.2)
        await ws.close(code, reason)

    return handler


async def _echo_one_then_server_closes(port: int, path: str, code: int, reason: str) -> None:
    async with serve(_echo_one_then_close(code, reason), HOST, port, compression=None,
                     **WS_COMMON):
        async with connect(ws_url(port, path), compression=None, **WS_COMMON) as ws:
            await send_and_expect_echo(ws, "hello")
            await drain_until_closed(ws)
        if (ws.close_code, ws.close_reason) != (code, reason):
            raise AssertionError(f"close {ws.close_code} {ws.close_reason!r}")


async def sc_diag_bad_gateway_1014(port: int, ctx: "RunContext") -> None:
    await _echo_one_then_server_closes(port, "/chat", 1014, "upstream unavailable")


async def sc_diag_application_close_4000(port: int, ctx: "RunContext") -> None:
    await _echo_one_then_server_closes(port, "/room", 4000, "room closed")


async def sc_diag_keepalive_no_close(port: int, ctx: "RunContext") -> None:
    import aiohttp

    relay_ref: list[Relay] = []
    passed = 0

    def stall_after_one(frame: bytes) -> bytes | None:
        # The echo of the first message gets through; then nothing more from
        # the server reaches the client (not even its FIN).
        nonlocal passed
        relay = relay_ref[0]
        if passed < 1:
            passed += 1
            return frame
        if not relay.blackhole["s2c"]:
            relay.blackhole["s2c"] = True
            relay.note("s2c stalled: dropping everything from the server from now on")
        opcode, _, payload = split_frame(frame)
        relay.note(f"dropped s2c opcode {opcode:#x} payload {payload!r}")
        return None

    async def client(relay: Relay) -> None:
        relay_ref.append(relay)
        t0 = time.monotonic()
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(ws_url(port, "/chat"), heartbeat=1, compress=0,
                                          autoclose=True, autoping=True) as ws:
                await ws.send_str("hello")
                async with asyncio.timeout(STEP_TIMEOUT):
                    msg = await ws.receive()
                if (msg.type, msg.data) != (aiohttp.WSMsgType.TEXT, "hello"):
                    raise AssertionError(f"echo {msg!r}")
                async with asyncio.timeout(10):
                    msg = await ws.receive()
                took = time.monotonic() - t0
                print(f"  aiohttp client: {msg.type.name} {msg.data!r} after {took:.2f} s; "
                      f"close_code {ws.close_code}; exception {ws.exception()!r}")
                if msg.type not in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSED):
                    raise AssertionError(f"unexpected message {msg!r}")

    await _through_relay(port, dict(s2c_frame=stall_after_one), client)


async def sc_diag_invalid_close_code_2999(port: int, ctx: "RunContext") -> None:
    async with serve(echo_handler, HOST, port, compression=None, **WS_COMMON):
        raw = await RawClient.open(port, "/chat")
        try:
            await raw.say_hello()
            # 2999 is in 1000-2999 (reserved for the RFC and its extensions)
            # but not assigned: not allowed in a close frame.
            await raw.send(encode_frame(OP_CLOSE, struct.pack("!H", 2999) + b"bye"))
            opcode, _, payload = await raw.recv_frame()
            print(f"  server answered opcode {opcode:#x} payload {payload!r}")
            if opcode != OP_CLOSE or payload[:2] != struct.pack("!H", 1002):
                raise AssertionError(f"answer {opcode} {payload!r}")
            # Our close was already sent: the closing handshake is complete.
            async with asyncio.timeout(STEP_TIMEOUT):
                rest = await raw.reader.read()
            if rest:
                raise AssertionError(f"data after close: {rest!r}")
        finally:
            await raw.close()


# --- endings: the closer's own close frame (or what surrounds it) breaks the rules ---
# Each scenario runs its raw peer against a websockets server and then an aiohttp
# server on the same captured port (one connection each, in that order), or a raw
# server against a websockets client and then an aiohttp client.


async def _aiohttp_echo_server(port: int):
    from aiohttp import web

    app = web.Application()
    app.router.add_get("/chat", aiohttp_echo)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, HOST, port).start()
    return runner


async def _each_server(port: int, exchange, cases) -> None:
    """`exchange(port, case)` against a websockets server, then against an aiohttp one;
    `cases` is a list of (library, case) run in order."""
    for library in ("websockets", "aiohttp"):
        todo = [case for lib, case in cases if lib == library]
        if not todo:
            continue
        if library == "websockets":
            async with serve(echo_handler, HOST, port, compression=None, **WS_COMMON):
                for case in todo:
                    await exchange(port, case)
        else:
            runner = await _aiohttp_echo_server(port)
            try:
                for case in todo:
                    await exchange(port, case)
            finally:
                async with asyncio.timeout(STEP_TIMEOUT):
                    await runner.cleanup()


async def _answer_of(raw: RawClient) -> tuple[int | None, bytes]:
    """The server's next close frame: (code, reason). The raw client then ends TCP
    without a close of its own: it sent one already, or is failing the connection."""
    while True:
        opcode, _, payload = await raw.recv_frame()
        if opcode == OP_CLOSE:
            break
    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
    return code, payload[2:]


def _raw_sender(frames: Callable[[object], bytes], expect: dict[str, int], *, hello: bool = True,
                headers_of: Callable[[object], str] = lambda payload: ""):
    """An exchange for a case (library, payload): "hello" is echoed (unless not
    `hello`), then `frames(payload)` is sent in one write; the server's close must
    carry `expect["library:payload"]`, else `expect[library]`."""

    async def exchange(port: int, case) -> None:
        library, payload = case
        raw = await RawClient.open(port, "/chat", headers_of(payload))
        try:
            if hello:
                await raw.say_hello()
            await raw.send(frames(payload))
            code, reason = await _answer_of(raw)
        finally:
            await raw.close()
        print(f"  {library}: sent {payload!r}; server answered close {code} {reason!r}")
        wanted = expect.get(f"{library}:{payload!r}", expect.get(library))
        if code != wanted:
            raise AssertionError(f"{library} answered {code}, expected {wanted}")

    return exchange


ILLEGAL_CODES = [0, 999, 1004, 1005, 1006, 1016, 5000, 65535]


async def sc_ending_illegal_close_codes(port: int, ctx: "RunContext") -> None:
    # aiohttp 3.14.5 lets 5000 pass (it answers 1000); every other answer is 1002.
    exchange = _raw_sender(lambda code: encode_frame(OP_CLOSE, struct.pack("!H", code) + b"bye"),
                             {"websockets": 1002, "aiohttp": 1002, "aiohttp:5000": 1000})
    cases = [("websockets", ("websockets", c)) for c in ILLEGAL_CODES]
    cases += [("aiohttp", ("aiohttp", c)) for c in (1005, 5000)]
    await _each_server(port, exchange, cases)


MALFORMED_CLOSES = {
    "one-byte": b"\x03",
    "too-long": struct.pack("!H", 1000) + b"x" * 130,
    "reason-not-utf8": struct.pack("!H", 1000) + b"ok \xff",
}


async def sc_ending_malformed_close(port: int, ctx: "RunContext") -> None:
    exchange = _raw_sender(lambda name: encode_frame(OP_CLOSE, MALFORMED_CLOSES[name]),
                             {"websockets": 1002, "aiohttp": 1002,
                              "websockets:'reason-not-utf8'": 1007, "aiohttp:'reason-not-utf8'": 1007})
    cases = [(lib, (lib, name)) for lib in ("websockets", "aiohttp") for name in MALFORMED_CLOSES]
    await _each_server(port, exchange, cases)


async def sc_ending_data_after_close(port: int, ctx: "RunContext") -> None:
    # The close and a text frame after it leave in one segment; both libraries
    # answer the close (1000) and drop what follows it.
    exchange = _raw_sender(lambda text: encode_frame(OP_CLOSE, struct.pack("!H", 1000) + b"bye")
                             + encode_frame(OP_TEXT, text), {"websockets": 1000, "aiohttp": 1000})
    await _each_server(port, exchange, [(lib, (lib, b"one more")) for lib in ("websockets", "aiohttp")])


async def sc_ending_reserved_opcode_byte_by_byte(port: int, ctx: "RunContext") -> None:
    # One byte per TCP segment (asyncio sets TCP_NODELAY); the server fails the
    # connection as soon as the opcode is known, long before the frame is whole.
    async def exchange(port: int, library: str) -> None:
        raw = await RawClient.open(port, "/chat")
        try:
            await raw.say_hello()
            frame = encode_frame(0x3, b"reserved opcode")
            sent = 0
            while sent < len(frame) and not raw.reader._buffer:
                await raw.send(frame[sent:sent + 1])
                sent += 1
                await asyncio.sleep(0.05)
            opcode, _, payload = await raw.recv_frame()
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            # A fail-fast peer drops TCP: it cannot answer in the middle of its frame.
        finally:
            await raw.close()
        print(f"  {library}: sent {sent} of {len(frame)} bytes; server answered {opcode:#x} {code}")
        if opcode != OP_CLOSE or code != 1002 or sent >= len(frame):
            raise AssertionError(f"{library}: answer {opcode} {code} after {sent} bytes")

    await _each_server(port, exchange, [("websockets", "websockets"), ("aiohttp", "aiohttp")])


def _deflate(text: bytes) -> bytes:
    import zlib
    compressor = zlib.compressobj(wbits=-15)
    data = compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return data[:-4]  # RFC 7692 7.2.1: the sender drops the 00 00 ff ff tail


async def sc_ending_reserved_bits(port: int, ctx: "RunContext") -> None:
    # RSV1 without a negotiated extension, sent by the client: the client's own
    # fault whether it offered permessage-deflate or not; and RSV1+RSV2.
    offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n"
    compressed = _deflate(b"compressed without agreement")
    exchange = _raw_sender(lambda case: bytes([case[2]]) + encode_frame(OP_TEXT, compressed)[1:],
                           {"websockets": 1002, "aiohttp": 1002}, headers_of=lambda case: case[1])
    cases = [
        ("websockets", ("websockets", ("rsv1, no offer", "", 0xC1))),
        ("websockets", ("websockets", ("rsv1, offered but declined", offer, 0xC1))),
        ("websockets", ("websockets", ("rsv1+rsv2", offer, 0xE1))),
        ("aiohttp", ("aiohttp", ("rsv1, no offer", "", 0xC1))),
    ]
    await _each_server(port, exchange, cases)


GARBAGE = bytes([0xC6, 0x3D]) + bytes((i * 73 + 11) % 256 for i in range(62))


async def sc_ending_garbage_after_upgrade(port: int, ctx: "RunContext") -> None:
    # 64 bytes that are not WebSocket frames, right after a good upgrade. The
    # first byte happens to have RSV1 set: not a sign of a stripped extension.
    exchange = _raw_sender(lambda _: GARBAGE, {"websockets": 1002, "aiohttp": 1002}, hello=False)
    await _each_server(port, exchange, [(lib, (lib, "garbage")) for lib in ("websockets", "aiohttp")])


async def sc_ending_large_request_head(port: int, ctx: "RunContext") -> None:
    # A working session whose upgrade request is over 16 KiB (big cookies); both
    # libraries accept header lines up to 8 KiB, so three of 7000 bytes.
    cookies = {f"Cookie-{i}": "c" * 7000 for i in range(3)}
    async with serve(echo_handler, HOST, port, compression=None, **WS_COMMON):
        async with connect(ws_url(port, "/chat"), compression=None,
                           additional_headers=cookies, **WS_COMMON) as ws:
            await send_and_expect_echo(ws, "hello")
            await ws.close(1000, "bye")
        if ws.close_code != 1000:
            raise AssertionError(f"close code {ws.close_code}")


async def sc_ending_violation_then_close(port: int, ctx: "RunContext") -> None:
    # A bad frame and a good close 1000 in one segment: websockets answers the bad
    # frame with 1002 (aiohttp checks neither masking nor, after a close, opcodes).
    close = encode_frame(OP_CLOSE, struct.pack("!H", 1000) + b"bye")
    bad = {"unmasked": encode_frame(OP_TEXT, b"unmasked", mask=None), "opcode-3": encode_frame(0x3, b"x")}
    exchange = _raw_sender(lambda name: bad[name] + close, {"websockets": 1002})
    await _each_server(port, exchange, [("websockets", ("websockets", name)) for name in bad])


async def sc_ending_undecodable_then_reset(port: int, ctx: "RunContext") -> None:
    # A frame header with an impossible 64-bit length (top bit set), then an
    # abort (RST) before the websockets server can answer: no close frame anywhere,
    # and wsdoctor cannot find where a next frame would start.
    async with serve(echo_handler, HOST, port, compression=None, **WS_COMMON):
        raw = await RawClient.open(port, "/chat")
        await raw.say_hello()
        raw.writer.write(bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0]) + RAW_MASK + b"tail")
        sock = raw.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.writer.transport.abort()
        await asyncio.sleep(0.2)


class MalformedCloseServer(RawServer):
    """A raw server that upgrades, echoes one message, then sends `close`; with
    `reset` it aborts the connection (RST) right after, so no answer can come.
    `answers` holds the payloads of the close frames it got back."""

    def __init__(self, port: int, close: bytes, reset: bool):
        super().__init__(port)
        self.close, self.reset = close, reset
        self.answers: list[bytes] = []

    async def _handle(self, reader, writer) -> None:
        self.handlers.add(asyncio.current_task())
        try:
            await self.accept_upgrade(reader, writer)
            _, _, payload = split_frame(await _read_ws_frame(reader))
            writer.write(encode_frame(OP_TEXT, payload, mask=None))
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.write(self.close)
            await writer.drain()
            if self.reset:
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
                return
            async with asyncio.timeout(STEP_TIMEOUT):
                self.answers.append(split_frame(await _read_ws_frame(reader))[2])
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        finally:
            writer.close()
            self.done.set()


OVERSIZED_CLOSE = encode_frame(OP_CLOSE, struct.pack("!H", 1000) + b"x" * 130, mask=None)


async def websockets_client_against(port: int, close: bytes, reset: bool) -> list[bytes]:
    """A websockets client against a MalformedCloseServer sending `close`; returns the
    close frames the server got back."""
    async with MalformedCloseServer(port, close, reset=reset) as server:
        try:
            async with connect(ws_url(port, "/chat"), compression=None, **WS_COMMON) as ws:
                await send_and_expect_echo(ws, "hello")
                await drain_until_closed(ws)
        except ConnectionClosed:
            pass
        async with asyncio.timeout(STEP_TIMEOUT):
            await server.done.wait()
    print(f"  websockets client: close_code {ws.close_code}; answers {server.answers!r}")
    return server.answers


async def aiohttp_client_against(port: int, close: bytes) -> list[bytes]:
    """The same with an aiohttp client."""
    import aiohttp

    async with MalformedCloseServer(port, close, reset=False) as server:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(ws_url(port, "/chat"), compress=0) as ws:
                await ws.send_str("hello")
                async with asyncio.timeout(STEP_TIMEOUT):
                    while (await ws.receive()).type not in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                                            aiohttp.WSMsgType.ERROR):
                        pass
        async with asyncio.timeout(STEP_TIMEOUT):
            await server.done.wait()
    print(f"  aiohttp client: close_code {ws.close_code}; answers {server.answers!r}")
    return server.answers


async def sc_ending_server_close_too_long(port: int, ctx: "RunContext") -> None:
    # A server's close frame over 125 bytes: a websockets client and an aiohttp
    # client each answer 1002; then one the server resets at once gets no answer.
    if not await websockets_client_against(port, OVERSIZED_CLOSE, reset=False):
        raise AssertionError("websockets did not answer")
    if not await aiohttp_client_against(port, OVERSIZED_CLOSE):
        raise AssertionError("aiohttp did not answer")
    if answers := await websockets_client_against(port, OVERSIZED_CLOSE, reset=True):
        raise AssertionError(f"answers {answers!r}")


async def sc_ending_server_malformed_close(port: int, ctx: "RunContext") -> None:
    # The other direction of ending-illegal-close-codes, ending-malformed-close and
    # ending-data-after-close: a raw server sends the bad close (or data after its
    # close) to a websockets client, then to an aiohttp client, each real library
    # answering as it does.
    endings = [
        encode_frame(OP_CLOSE, struct.pack("!H", 1005) + b"bye", mask=None),  # a code that may not be sent
        encode_frame(OP_CLOSE, b"\x03", mask=None),  # a 1-byte close payload
        encode_frame(OP_CLOSE, struct.pack("!H", 1000) + b"ok \xff", mask=None),  # a reason that is not UTF-8
        encode_frame(OP_CLOSE, struct.pack("!H", 1000) + b"bye", mask=None)
        + encode_frame(OP_TEXT, b"one more", mask=None),  # data after its own close
    ]
    for close in endings:
        await websockets_client_against(port, close, reset=False)
        await aiohttp_client_against(port, close)


class ViolatingServer(RawServer):
    """A raw server that upgrades, echoes one message (unless not `hello`), then sends
    `bad`; with `byte_by_byte`, one byte per TCP segment, 50 ms apart, stopping as soon
    as the client has answered. `answers` holds the close payloads it got back and
    `sent` how many bytes of `bad` went out."""

    def __init__(self, port: int, bad: bytes, *, hello: bool = True, byte_by_byte: bool = False):
        super().__init__(port)
        self.bad, self.hello, self.byte_by_byte = bad, hello, byte_by_byte
        self.answers: list[bytes] = []
        self.sent = 0

    async def _handle(self, reader, writer) -> None:
        self.handlers.add(asyncio.current_task())
        try:
            await self.accept_upgrade(reader, writer)
            await writer.drain()
            if self.hello:
                _, _, payload = split_frame(await _read_ws_frame(reader))
                writer.write(encode_frame(OP_TEXT, payload, mask=None))
                await writer.drain()
            await asyncio.sleep(0.05)
            step = 1 if self.byte_by_byte else len(self.bad)
            while self.sent < len(self.bad) and not reader._buffer and not reader.at_eof():
                writer.write(self.bad[self.sent:self.sent + step])
                await writer.drain()
                self.sent += step
                if self.byte_by_byte:
                    await asyncio.sleep(0.05)
            async with asyncio.timeout(STEP_TIMEOUT):
                while True:
                    opcode, _, payload = split_frame(await _read_ws_frame(reader))
                    if opcode == OP_CLOSE:
                        self.answers.append(payload)
                        break
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        finally:
            writer.close()
            self.done.set()


async def _each_client_against(port: int, make_server: Callable[[], ViolatingServer], expect: dict[str, int],
                               *, hello: bool = True) -> None:
    """A websockets client, then an aiohttp client (the libraries `expect` names, in its
    order), each against a fresh server from `make_server`; each client's close must
    carry `expect[library]`."""
    import aiohttp

    for library in expect:
        async with make_server() as server:
            if library == "websockets":
                try:
                    async with connect(ws_url(port, "/chat"), compression=None, **WS_COMMON) as ws:
                        if hello:
                            await send_and_expect_echo(ws, "hello")
                        await drain_until_closed(ws)
                except ConnectionClosed:
                    pass
            else:
                async with aiohttp.ClientSession() as session:
                    async with session.ws_connect(ws_url(port, "/chat"), compress=0) as ws:
                        if hello:
                            await ws.send_str("hello")
                        async with asyncio.timeout(STEP_TIMEOUT):
                            while (await ws.receive()).type not in (
                                    aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                                pass
            async with asyncio.timeout(STEP_TIMEOUT):
                await server.done.wait()
        print(f"  {library} client: sent {server.sent} of {len(server.bad)} bytes; the client's close "
              f"frames {server.answers!r}")
        codes = [struct.unpack("!H", answer[:2])[0] for answer in server.answers if len(answer) >= 2]
        if codes != [expect[library]]:
            raise AssertionError(f"{library} client answered {codes}, expected {expect[library]}")


async def sc_ending_server_reserved_opcode_byte_by_byte(port: int, ctx: "RunContext") -> None:
    # The other direction of ending-reserved-opcode-byte-by-byte: the raw server sends
    # an opcode-0x3 frame one byte per segment to a websockets, then an aiohttp client.
    frame = encode_frame(0x3, b"reserved opcode", mask=None)
    await _each_client_against(port, lambda: ViolatingServer(port, frame, byte_by_byte=True),
                               {"websockets": 1002, "aiohttp": 1002})


SERVER_RSV_FRAMES = [  # (first byte, clients' answers): RSV1; RSV1+RSV2; RSV1+RSV3; no extension negotiated
    (0xC1, {"websockets": 1002, "aiohttp": 1002}),
    (0xE1, {"websockets": 1002}),
    (0xD1, {"aiohttp": 1002}),
]


async def sc_ending_server_reserved_bits(port: int, ctx: "RunContext") -> None:
    # The clients offer no extension; the raw server sends a deflated text frame with
    # RSV bits set anyway: its own violation, no stripped header can explain it.
    compressed = encode_frame(OP_TEXT, _deflate(b"compressed without agreement"), mask=None)
    for first, expect in SERVER_RSV_FRAMES:
        bad = bytes([first]) + compressed[1:]
        await _each_client_against(port, lambda: ViolatingServer(port, bad), expect)


async def sc_ending_server_violation_then_close(port: int, ctx: "RunContext") -> None:
    # In one segment: a masked text frame (a server must not mask), or an opcode-0x3
    # frame, each followed by a valid close 1000 "bye". aiohttp 3.14.5 does not check
    # that server frames are unmasked: it answers the close with 1000.
    close = encode_frame(OP_CLOSE, struct.pack("!H", 1000) + b"bye", mask=None)
    cases = [(encode_frame(OP_TEXT, b"masked"), {"websockets": 1002, "aiohttp": 1000}),
             (encode_frame(0x3, b"x", mask=None), {"websockets": 1002, "aiohttp": 1002})]
    for bad, expect in cases:
        await _each_client_against(port, lambda: ViolatingServer(port, bad + close), expect)


async def sc_ending_server_garbage_after_upgrade(port: int, ctx: "RunContext") -> None:
    # The GARBAGE of ending-garbage-after-upgrade, sent by the raw server right after its 101.
    await _each_client_against(port, lambda: ViolatingServer(port, GARBAGE, hello=False),
                               {"websockets": 1002, "aiohttp": 1002}, hello=False)


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
    timeout: float = SCENARIO_TIMEOUT  # bound on the whole scenario's traffic

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
    # Diagnosis scenarios (see the second table in MANIFEST.md).
    Scenario("diag-rate-limit-1008", sc_diag_rate_limit_1008),
    Scenario("diag-client-sent-nothing", sc_diag_client_sent_nothing),
    Scenario("diag-client-sent-nothing-first", sc_diag_client_sent_nothing_first),
    Scenario("diag-jwt-expired-1008", sc_diag_jwt_expired_1008),
    Scenario("diag-jwt-query-expired-1008", sc_diag_jwt_query_expired_1008),
    Scenario("diag-overload-503", sc_diag_overload_503),
    Scenario("diag-unauthorized-401", sc_diag_unauthorized_401),
    Scenario("diag-not-found-404", sc_diag_not_found_404),
    Scenario("diag-proxy-corrupts-1002", sc_diag_proxy_corrupts_1002),
    Scenario("diag-proxy-strips-extension", sc_diag_proxy_strips_extension),
    Scenario("diag-proxy-bad-accept", sc_diag_proxy_bad_accept),
    Scenario("diag-proxy-corrupts-utf8-1007", sc_diag_proxy_corrupts_utf8_1007),
    Scenario("diag-idle-timeout", sc_diag_idle_timeout, timeout=IDLE_TIMEOUT + 30),
    Scenario("diag-keepalive-timeout", sc_diag_keepalive_timeout),
    Scenario("diag-server-crash", sc_diag_server_crash),
    Scenario("diag-restart-wave-1012", sc_diag_restart_wave_1012),
    Scenario("diag-empty-close-1005", sc_diag_empty_close_1005),
    Scenario("diag-close-never-echoed", sc_diag_close_never_echoed),
    Scenario("diag-too-big-deflate-1009", sc_diag_too_big_deflate_1009),
    Scenario("diag-bad-version-400", sc_diag_bad_version_400),
    Scenario("diag-handshake-unanswered", sc_diag_handshake_unanswered),
    Scenario("diag-handshake-refused-200", sc_diag_handshake_refused_200),
    Scenario("diag-policy-unexplained-1008", sc_diag_policy_unexplained_1008),
    Scenario("diag-mandatory-extension-1010", sc_diag_mandatory_extension_1010),
    Scenario("diag-bad-gateway-1014", sc_diag_bad_gateway_1014),
    Scenario("diag-application-close-4000", sc_diag_application_close_4000),
    Scenario("diag-keepalive-no-close", sc_diag_keepalive_no_close),
    Scenario("diag-invalid-close-code-2999", sc_diag_invalid_close_code_2999),
    # Endings read as a sequence (see "Ending scenarios" in MANIFEST.md).
    Scenario("ending-illegal-close-codes", sc_ending_illegal_close_codes),
    Scenario("ending-malformed-close", sc_ending_malformed_close),
    Scenario("ending-data-after-close", sc_ending_data_after_close),
    Scenario("ending-reserved-opcode-byte-by-byte", sc_ending_reserved_opcode_byte_by_byte),
    Scenario("ending-reserved-bits", sc_ending_reserved_bits),
    Scenario("ending-garbage-after-upgrade", sc_ending_garbage_after_upgrade),
    Scenario("ending-large-request-head", sc_ending_large_request_head),
    Scenario("ending-server-close-too-long", sc_ending_server_close_too_long),
    Scenario("ending-server-malformed-close", sc_ending_server_malformed_close),
    Scenario("ending-server-reserved-opcode-byte-by-byte", sc_ending_server_reserved_opcode_byte_by_byte),
    Scenario("ending-server-reserved-bits", sc_ending_server_reserved_bits),
    Scenario("ending-server-violation-then-close", sc_ending_server_violation_then_close),
    Scenario("ending-server-garbage-after-upgrade", sc_ending_server_garbage_after_upgrade),
    Scenario("ending-violation-then-close", sc_ending_violation_then_close),
    Scenario("ending-undecodable-then-reset", sc_ending_undecodable_then_reset),
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
    async with asyncio.timeout(scenario.timeout):
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
