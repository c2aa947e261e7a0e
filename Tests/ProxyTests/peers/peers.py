#!/usr/bin/env python3
"""Real WebSocket peers for Tests/ProxyTests, driven by the Swift tests.

Run with the project's virtual environment (`bash scripts/install-deps.sh`):

    .venv/bin/python Tests/ProxyTests/peers/peers.py

One process serves every test. At start it opens two `websockets` servers on
127.0.0.1 (free ports chosen by the kernel) and prints one line:

    {"type": "ready", "main": PORT, "small": PORT}

`main` routes by path (see `main_handler`), `small` is an echo server with
max_size=1024. Then it reads requests from stdin, one JSON object a line,
`{"id": N, "op": NAME, ...arguments}`, runs each as its own asyncio task
(requests run concurrently) and answers on stdout with
`{"id": N, "ok": true, ...result}` or `{"id": N, "ok": false, "error": "..."}`.
Every network step is bounded by STEP_TIMEOUT. The process exits when stdin
reaches end of file (the test process went away), closing every socket.

Peers:
- `websockets` servers and clients (the real library on both sides);
- RawClient: hand-written client that breaks the protocol on purpose;
- RawServer: a TCP server that records every byte it receives into a file and
  sends a scripted byte sequence back (transparency and half-close tests);
- Relay: an intermediary placed between wsdoctor and a server (`relay_start`),
  that corrupts a client frame or stalls the server's side;
- an aiohttp server (`aiohttp_server`) and aiohttp/websockets keepalive clients.

`peers.py --echo-server` runs a websockets echo server alone in its process
(prints {"port": PORT}; exits when stdin ends), for a test to kill it.

Server-side observations are kept per tag: a client puts `?tag=T` in its path
and `server_log` returns what the server's handler saw for T.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import hmac
import http
import json
import os
import random
import socket
import struct
import sys
import tempfile
import time
import traceback

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed, InvalidStatus

HOST = "127.0.0.1"
STEP_TIMEOUT = 5.0
WS_COMMON = dict(ping_interval=None, close_timeout=2, open_timeout=STEP_TIMEOUT, compression=None)
BIG = 16 * 1024 * 1024

RAW_KEY = base64.b64encode(b"wsdoctor-proxy-t").decode()
RAW_ACCEPT = base64.b64encode(
    hashlib.sha1((RAW_KEY + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
).decode()
RAW_MASK = bytes([0x37, 0xFA, 0x21, 0x3D])
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode_frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bytes | None = RAW_MASK,
                 rsv: int = 0) -> bytes:
    head = bytearray([(0x80 if fin else 0) | (rsv << 4) | opcode])
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
    return bytes(head) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def upgrade_request(port: int, path: str = "/echo") -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {RAW_KEY}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: wsdoctor-proxy-tests\r\n\r\n"
    ).encode()


def upgrade_response() -> bytes:
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {RAW_ACCEPT}\r\n\r\n"
    ).encode()


def chunks(data: bytes, pieces: int, seed: int) -> list[bytes]:
    """`data` cut at `pieces - 1` reproducible positions (mid-header, mid-frame...)."""
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(data)), min(pieces - 1, len(data) - 1)))
    bounds = [0] + cuts + [len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


def set_rst_on_close(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


# ---------------------------------------------------------------------------
# Scripts for the transparency and half-close tests (each side's whole byte
# sequence after the opening head).


def script(name: str, port: int) -> tuple[bytes, bytes]:
    """(client bytes, server bytes) of a scripted session."""
    request = upgrade_request(port, "/script")
    response = upgrade_response()
    if name == "clean":
        client = request + b"".join([
            encode_frame(OP_TEXT, b"hello"),
            encode_frame(OP_BINARY, bytes(range(256)) + bytes(44)),
            encode_frame(OP_PING, b"are you there"),
            encode_frame(OP_TEXT, "fragmented, ".encode(), fin=False),
            encode_frame(OP_CONT, "caf\u00e9 ".encode(), fin=False),
            encode_frame(OP_CONT, "\u2603 end".encode()),
            encode_frame(OP_CLOSE, struct.pack("!H", 1000) + b"bye"),
        ])
        server = response + b"".join([
            encode_frame(OP_TEXT, b"hello", mask=None),
            encode_frame(OP_BINARY, bytes(i % 251 for i in range(70_000)), mask=None),
            encode_frame(OP_PONG, b"are you there", mask=None),
            encode_frame(OP_BINARY, b"\x01\x02", fin=False, mask=None),
            encode_frame(OP_CONT, b"\x03", mask=None),
            encode_frame(OP_CLOSE, struct.pack("!H", 1000) + b"bye", mask=None),
        ])
    elif name == "invalid":
        client = request + b"".join([
            encode_frame(OP_TEXT, b"unmasked", mask=None),
            encode_frame(0x3, b"reserved opcode"),
            encode_frame(OP_TEXT, b"not utf-8 \xff\xfe\xc3("),
            encode_frame(OP_PING, bytes(200)),
            encode_frame(OP_TEXT, b"rsv bits", rsv=0b011),
            encode_frame(OP_CLOSE, struct.pack("!H", 1002)),
        ])
        server = response + b"".join([
            encode_frame(OP_TEXT, b"masked by the server"),
            encode_frame(0xB, b"reserved control opcode", mask=None),
            encode_frame(OP_BINARY, b"rsv", rsv=0b100, mask=None),
            encode_frame(OP_CLOSE, struct.pack("!H", 1002), mask=None),
        ])
    elif name == "large":
        client = request + encode_frame(OP_BINARY, b"question " * 1000) + encode_frame(OP_CLOSE, struct.pack("!H", 1000))
        server = response + b"".join(encode_frame(OP_BINARY, bytes([i]) * 65_000, mask=None) for i in range(16)) \
            + encode_frame(OP_CLOSE, struct.pack("!H", 1000), mask=None)
    else:
        raise ValueError(f"unknown script {name}")
    return client, server


# ---------------------------------------------------------------------------


class Peers:
    def __init__(self) -> None:
        self.logs: dict[str, dict] = {}
        self.log_events: dict[str, asyncio.Event] = {}
        self.servers: dict[int, object] = {}
        self.raw_servers: dict[int, "RawServer"] = {}
        self.held: dict[int, object] = {}
        self.blocked: dict[int, socket.socket] = {}
        self.relays: dict[int, "Relay"] = {}
        self.counting: dict[int, tuple] = {}
        self.aiohttp_port: int | None = None
        self.aiohttp_runner = None
        self.next_handle = 1
        self.shed_counts: dict[tuple, int] = {}

    def handle(self) -> int:
        self.next_handle += 1
        return self.next_handle

    # --- server-side observations, by tag ---------------------------------

    def tag_of(self, ws) -> str | None:
        path = ws.request.path
        if "?tag=" in path:
            return path.split("?tag=", 1)[1]
        return None

    def record(self, tag: str | None, **entry) -> None:
        if tag is None:
            return
        self.logs.setdefault(tag, {}).update(entry)

    def finished(self, tag: str | None) -> None:
        if tag is None:
            return
        self.log_events.setdefault(tag, asyncio.Event()).set()

    # --- servers -------------------------------------------------------------

    async def main_handler(self, ws) -> None:
        """/echo echoes; /policy closes 1008 on "forbidden word"; /crash raises on
        "crash" (websockets closes 1011); /overload closes 1013 on "subscribe";
        /half-frame-reset sends half a frame then resets the TCP connection;
        /text-only closes 1003 on a binary message; /room echoes the first
        message and closes 4000 0.2 s later; /feed closes 1008 when more than
        20 messages arrive in one second; /stream needs a valid JWT in the
        Authorization header (401 otherwise) and closes 1008 when it expires."""
        tag = self.tag_of(ws)
        route = ws.request.path.split("?", 1)[0]
        received = 0
        try:
            if route == "/half-frame-reset":
                # A frame announcing 256 bytes, only 100 of them, then RST.
                ws.transport.write(bytes([0x82, 126, 0x01, 0x00]) + bytes(100))
                await asyncio.sleep(0.05)
                set_rst_on_close(ws.transport.get_extra_info("socket"))
                ws.transport.abort()
                self.record(tag, handler="reset-sent")
                return
            if route == "/stream":
                await self.jwt_stream(ws, tag)
                return
            if route == "/feed":
                await self.rate_limited_feed(ws, tag)
                return
            if route == "/shed":
                await self.shed(ws)
                return
            async for message in ws:
                received += 1
                if route == "/text-only" and isinstance(message, bytes):
                    await ws.close(1003, "binary not accepted")
                    break
                if route == "/room":
                    await ws.send(message)
                    await asyncio.sleep(0.2)
                    await ws.close(4000, "room closed")
                    break
                if route == "/policy" and message == "forbidden word":
                    await ws.close(1008, "forbidden word")
                    break
                if route == "/crash" and message == "crash":
                    self.record(tag, handler="raised", received=received)
                    raise RuntimeError("handler failed on purpose (proxy test)")
                if route == "/overload" and message == "subscribe":
                    await ws.close(1013, "try again later")
                    break
                await ws.send(message)
            self.record(tag, handler="returned")
        except ConnectionClosed as exc:
            self.record(tag, handler="connection-closed")
        finally:
            self.record(tag, received=received, close_code=ws.close_code,
                        close_rcvd=ws.protocol.close_rcvd.code if ws.protocol.close_rcvd else None)
            self.finished(tag)

    def main_process_request(self, connection, request):
        route = request.path.split("?", 1)[0]
        if route == "/reject-429":
            response = connection.respond(429, "Too many connections\n")
            response.headers["Retry-After"] = "30"
            return response
        if route == "/reject-403":
            return connection.respond(http.HTTPStatus.FORBIDDEN, "Forbidden: bad origin\n")
        if route == "/busy":
            return self.busy(connection, request)
        if route == "/stream" and check_jwt(bearer_token(request) or "") is None:
            response = connection.respond(http.HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return None

    def busy(self, connection, request):
        """/busy?refusals=N&status=S&retry_after=R: refuses each client's first N upgrades
        with S (429 or 503) and Retry-After: R (the client is its X-Client-Id header), then
        accepts them (and echoes), as an overloaded server would."""
        query = dict(part.split("=", 1) for part in request.path.split("?", 1)[1].split("&") if "=" in part)
        key = ("busy", request.headers.get("X-Client-Id"), request.path)
        self.shed_counts[key] = self.shed_counts.get(key, 0) + 1
        if self.shed_counts[key] > int(query.get("refusals", "1")):
            return None
        response = connection.respond(int(query.get("status", "503")), "Busy, come back later\n")
        response.headers["Retry-After"] = query.get("retry_after", "1")
        return response

    async def jwt_stream(self, ws, tag: str | None) -> None:
        """Echoes until the JWT of the upgrade expires, then closes 1008."""
        claims = check_jwt(bearer_token(ws.request) or "")
        if claims is None:  # expired between the upgrade and here
            await ws.close(1008, "token expired")
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (claims["exp"] - time.time())
        try:
            async with asyncio.timeout_at(deadline):
                async for message in ws:
                    await ws.send(message)
        except TimeoutError:
            self.record(tag, closed_at=time.time(), exp=claims["exp"])
            await ws.close(1008, "token expired")

    async def shed(self, ws) -> None:
        """/shed?closes=N&code=C: closes each client's first N connections with C at once
        (the client is its X-Client-Id header, else its address), then echoes. An overload
        (1013), a restart (1012) or a refusal (1002, 1007) to reconnect from."""
        query = dict(part.split("=", 1) for part in ws.request.path.split("?", 1)[1].split("&") if "=" in part)
        client = ws.request.headers.get("X-Client-Id") or ws.remote_address[0]
        key = (client, query.get("closes"), query.get("code"))
        self.shed_counts[key] = self.shed_counts.get(key, 0) + 1
        if self.shed_counts[key] <= int(query.get("closes", "1")):
            await ws.close(int(query.get("code", "1013")), "try again later")
            return
        async for message in ws:
            await ws.send(message)

    async def rate_limited_feed(self, ws, tag: str | None, limit: int = 20) -> None:
        """Echoes; closes 1008 when more than `limit` messages came in 1 s."""
        loop = asyncio.get_running_loop()
        window: collections.deque[float] = collections.deque()
        received = 0
        async for message in ws:
            received += 1
            now = loop.time()
            window.append(now)
            while window[0] <= now - 1.0:
                window.popleft()
            if len(window) > limit:
                self.record(tag, received=received)
                await ws.close(1008, "rate limit exceeded")
                return
            await ws.send(message)

    async def echo_handler(self, ws) -> None:
        tag = self.tag_of(ws)
        try:
            async for message in ws:
                await ws.send(message)
        except ConnectionClosed:
            pass
        finally:
            self.record(tag, close_code=ws.close_code,
                        close_rcvd=ws.protocol.close_rcvd.code if ws.protocol.close_rcvd else None)
            self.finished(tag)

    async def start(self) -> dict:
        main = await serve(self.main_handler, HOST, 0, process_request=self.main_process_request,
                           max_size=BIG, **WS_COMMON)
        small = await serve(self.echo_handler, HOST, 0, max_size=1024, **WS_COMMON)
        self.servers[0], self.servers[1] = main, small
        return {"type": "ready", "main": port_of(main), "small": port_of(small)}

    # --- operations (each `op_NAME(args) -> dict`) ----------------------------

    async def op_server_log(self, tag: str) -> dict:
        """What the server saw for `tag`, once its handler has finished."""
        event = self.log_events.setdefault(tag, asyncio.Event())
        async with asyncio.timeout(STEP_TIMEOUT):
            await event.wait()
        return {"log": self.logs.get(tag, {})}

    async def op_new_server(self, routed: bool = False) -> dict:
        """A dedicated echo server (it is shut down by `shutdown_close`); with `routed`, one
        that routes by path like `main`, for a test that must see only its own traffic."""
        if routed:
            server = await serve(self.main_handler, HOST, 0, process_request=self.main_process_request,
                                 max_size=BIG, **WS_COMMON)
        else:
            server = await serve(self.echo_handler, HOST, 0, **WS_COMMON)
        handle = self.handle()
        self.servers[handle] = server
        return {"server": handle, "port": port_of(server)}

    async def op_shutdown_close(self, server: int, port: int, code: int, reason: str) -> dict:
        """A client exchanges one message on `port`; the server then shuts down
        closing its connections with `code`."""
        srv = self.servers.pop(server)
        try:
            async with connect(f"ws://{HOST}:{port}/", **WS_COMMON) as ws:
                await echo_once(ws, "hello")
                srv.close(code=code, reason=reason)
                await drain(ws)
            async with asyncio.timeout(STEP_TIMEOUT):
                await srv.wait_closed()
        finally:
            srv.close()
        return {"close_code": ws.close_code, "close_reason": ws.close_reason, "local_port": local_port(ws)}

    async def op_session(self, port: int, path: str, messages: list, close: bool = True,
                         max_size: int = BIG) -> dict:
        """A websockets client: each message but the last is echoed; after the last
        it waits for the server's close (or closes 1000 itself when `close`).
        A message given as {"binary_b64": ...} is sent as a binary message."""
        messages = [base64.b64decode(m["binary_b64"]) if isinstance(m, dict) else m for m in messages]
        async with connect(f"ws://{HOST}:{port}{path}", max_size=max_size, **WS_COMMON) as ws:
            for message in messages[:-1]:
                await echo_once(ws, message)
            if close:
                await echo_once(ws, messages[-1])
                await ws.close(1000, "bye")
            else:
                await ws.send(messages[-1])
                await drain(ws)
        return {"close_code": ws.close_code, "close_reason": ws.close_reason,
                "close_sent": ws.protocol.close_sent.code if ws.protocol.close_sent else None,
                "local_port": local_port(ws)}

    async def op_big_echo(self, port: int, size: int, tag: str) -> dict:
        payload = random.Random(size).randbytes(size)
        async with connect(f"ws://{HOST}:{port}/echo?tag={tag}", max_size=BIG, **WS_COMMON) as ws:
            await ws.send(payload)
            async with asyncio.timeout(4 * STEP_TIMEOUT):
                echoed = await ws.recv()
            await ws.close(1000, "done")
        return {"sent_sha": sha(payload), "received_sha": sha(echoed), "received_len": len(echoed),
                "close_code": ws.close_code, "local_port": local_port(ws)}

    async def op_rejected(self, port: int, path: str = "/reject-429") -> dict:
        try:
            async with connect(f"ws://{HOST}:{port}{path}", **WS_COMMON):
                return {"status": 101}
        except InvalidStatus as exc:
            return {"status": exc.response.status_code,
                    "retry_after": exc.response.headers.get("Retry-After"),
                    "body": exc.response.body.decode("utf-8", "replace")}

    async def op_reset(self, port: int, tag: str) -> dict:
        """Exchange one message, then abort with RST (SO_LINGER 0)."""
        ws = await connect(f"ws://{HOST}:{port}/echo?tag={tag}", **WS_COMMON)
        await echo_once(ws, "hello")
        lport = local_port(ws)
        set_rst_on_close(ws.transport.get_extra_info("socket"))
        ws.transport.abort()
        return {"local_port": lport}

    async def op_raw_violation(self, port: int, violation: str, tag: str) -> dict:
        """Raw client: one valid masked message (echoed), then `violation`;
        returns the server's close code."""
        frame = {
            "unmasked": encode_frame(OP_TEXT, b"unmasked", mask=None),
            "utf8": encode_frame(OP_TEXT, b"ok \xff\xfe"),
        }[violation]
        raw = await RawClient.open(port, f"/echo?tag={tag}")
        try:
            await raw.send(encode_frame(OP_TEXT, b"hello"))
            opcode, _, payload = await raw.recv_frame()
            if (opcode, payload) != (OP_TEXT, b"hello"):
                raise AssertionError(f"unexpected echo {opcode} {payload!r}")
            await raw.send(frame)
            code = await raw.finish_close()
        finally:
            await raw.close()
        return {"close_code": code, "local_port": raw.local_port}

    async def op_raw_exchange(self, port: int, data_b64: str, mode: str = "read", pause: float = 0.0) -> dict:
        """A raw TCP client: sends bytes, then
        mode "read": reads until EOF or reset (never sends FIN first);
        mode "fin": waits `pause`, sends FIN, reads until EOF or reset;
        mode "close": waits `pause`, closes.
        Returns what came back and how the connection ended ("eof", "rst", "closed")."""
        # A plain socket, read with recv(): bytes that arrived before a reset are still
        # returned (asyncio's StreamReader would raise the reset first and lose them).
        data = base64.b64decode(data_b64)
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        received, ending = b"", "eof"
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                await loop.sock_connect(sock, (HOST, port))
                lport = sock.getsockname()[1]
                await loop.sock_sendall(sock, data)
                await asyncio.sleep(pause)
                if mode == "close":
                    return {"local_port": lport, "received_b64": "", "ending": "closed"}
                if mode == "fin":
                    sock.shutdown(socket.SHUT_WR)
                while chunk := await loop.sock_recv(sock, 65536):
                    received += chunk
        except (ConnectionResetError, BrokenPipeError):
            ending = "rst"
        finally:
            sock.close()
        return {"local_port": lport, "received_b64": base64.b64encode(received).decode(), "ending": ending}

    async def op_half_frame_reset_client(self, port: int, tag: str) -> dict:
        """A websockets client on /half-frame-reset: the server sends half a frame then RST."""
        lport = 0
        try:
            async with connect(f"ws://{HOST}:{port}/half-frame-reset?tag={tag}", **WS_COMMON) as ws:
                lport = local_port(ws)
                async with asyncio.timeout(STEP_TIMEOUT):
                    await ws.recv()
                return {"local_port": lport, "outcome": "message"}
        except ConnectionClosed as exc:
            return {"local_port": lport, "outcome": type(exc).__name__,
                    "close_rcvd": exc.rcvd.code if exc.rcvd else None}

    async def op_hold_open(self, port: int, tag: str) -> dict:
        """Opens a session, exchanges one message and keeps it open, idle."""
        ws = await connect(f"ws://{HOST}:{port}/echo?tag={tag}", **WS_COMMON)
        await echo_once(ws, "hello")
        handle = self.handle()
        self.held[handle] = ws
        return {"hold": handle, "local_port": local_port(ws)}

    async def op_hold_wait_closed(self, hold: int) -> dict:
        """Waits (bounded) until the held session ends; what the client saw."""
        ws = self.held.pop(hold)
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                await ws.wait_closed()
        finally:
            ws.transport.abort()
        return {"close_code": ws.close_code,
                "close_rcvd": ws.protocol.close_rcvd.code if ws.protocol.close_rcvd else None}

    async def op_hold_close(self, hold: int) -> dict:
        """The held session closes with 1000 itself and waits (bounded) for the end."""
        ws = self.held.pop(hold)
        async with asyncio.timeout(STEP_TIMEOUT):
            await ws.close(1000, "done")
        return {"close_code": ws.close_code}

    async def op_closed_port(self) -> dict:
        """A port bound on 127.0.0.1 but not listening (connecting is refused); kept
        bound, so nobody else gets it, until `release_port`."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
        self.blocked[port] = sock
        return {"port": port}

    async def op_release_port(self, port: int) -> dict:
        self.blocked.pop(port).close()
        return {}

    async def op_counting_server(self) -> dict:
        """A TCP listener that only counts the connections it accepts, and closes each at
        once: an upstream that nobody should contact."""
        accepted = [0]

        async def count(reader, writer) -> None:
            accepted[0] += 1
            writer.close()

        server = await asyncio.start_server(count, HOST, 0)
        handle = self.handle()
        self.counting[handle] = (server, accepted)
        return {"server": handle, "port": port_of(server)}

    async def op_counting_server_result(self, server: int, stop: bool = True) -> dict:
        listener, accepted = self.counting[server]
        if stop:
            self.counting.pop(server)
            listener.close()
        return {"accepted": accepted[0]}

    async def op_raw_server(self, script_name: str, mode: str) -> dict:
        server = RawServer(script_name, mode)
        await server.start()
        handle = self.handle()
        self.raw_servers[handle] = server
        return {"server": handle, "port": server.port}

    async def op_raw_server_result(self, server: int) -> dict:
        srv = self.raw_servers.pop(server)
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                await srv.done
            return srv.result()
        finally:
            srv.close()

    async def op_scripted_client(self, port: int, script_name: str, upstream_port: int, mode: str) -> dict:
        """Sends the script's client bytes to `port` in several writes with small
        delays, reading at the same time, then shuts down writing (FIN) and reads
        until EOF. (`mode` names the raw server's mode, for the record.)"""
        client_bytes, server_bytes = script(script_name, upstream_port)
        async with asyncio.timeout(STEP_TIMEOUT):
            reader, writer = await asyncio.open_connection(HOST, port)
        lport = writer.get_extra_info("sockname")[1]
        received = bytearray()

        async def read_all() -> None:
            while chunk := await reader.read(65536):
                received.extend(chunk)

        try:
            async with asyncio.timeout(3 * STEP_TIMEOUT):
                reading = asyncio.ensure_future(read_all())
                for piece in chunks(client_bytes, 9, seed=len(client_bytes)):
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0.01)
                writer.write_eof()
                await reading
        finally:
            writer.close()
        return {"local_port": lport, "sent_sha": sha(client_bytes), "sent_len": len(client_bytes),
                "received_sha": sha(bytes(received)), "received_len": len(received),
                "expected_sha": sha(server_bytes), "expected_len": len(server_bytes)}


    # --- diagnosis scenarios: intermediaries, keepalive, policies ------------

    async def op_relay_start(self, upstream_port: int, mode: str, frames: int = 1) -> dict:
        """A Relay (an intermediary: TCP proxy, load balancer) on a fresh port in
        front of `upstream_port`. `mode`:
        "flip-mask": clears the MASK bit of the client's 2nd data frame;
        "stall-s2c": passes the server's first `frames` data frames (and the
        control frames before them), then drops everything from the server,
        its FIN included (a stalled path; the relay's kernel still ACKs)."""
        relay = Relay(upstream_port)
        if mode == "flip-mask":
            seen = 0

            def flip_mask(frame: bytes) -> bytes:
                nonlocal seen
                if frame[0] & 0x0F in (OP_CONT, OP_TEXT, OP_BINARY):
                    seen += 1
                    if seen == 2:
                        relay.note(f"client data frame 2: byte 1 {frame[1]:#04x} -> {frame[1] & 0x7F:#04x} (MASK bit cleared)")
                        return frame[:1] + bytes([frame[1] & 0x7F]) + frame[2:]
                return frame

            relay.hooks["c2s"] = flip_mask
        elif mode == "stall-s2c":
            passed = 0

            def stall(frame: bytes) -> bytes | None:
                nonlocal passed
                if not relay.blackhole["s2c"]:
                    if frame[0] & 0x0F in (OP_CONT, OP_TEXT, OP_BINARY):
                        passed += 1
                        if passed >= frames:
                            relay.blackhole["s2c"] = True
                            relay.note(f"s2c stalled after {passed} data frame(s)")
                    return frame
                opcode, _, payload = split_frame(frame)
                relay.note(f"dropped s2c opcode {opcode:#x} payload {payload[:32]!r}")
                return None

            relay.hooks["s2c"] = stall
        else:
            raise ValueError(f"unknown relay mode {mode}")
        await relay.start()
        handle = self.handle()
        self.relays[handle] = relay
        return {"relay": handle, "port": relay.port}

    async def op_relay_result(self, relay: int) -> dict:
        """Waits (bounded) until the relay's connection has ended; what it did."""
        r = self.relays.pop(relay)
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                await r.done.wait()
        finally:
            await r.stop()
        return {"notes": r.notes}

    async def op_keepalive_client(self, port: int, tag: str, library: str) -> dict:
        """A client with keepalive pings through a relay that stalls the server's
        side: "websockets" (ping_interval 0.5 s, ping_timeout 0.5 s: it fails the
        connection with 1011) or "aiohttp" (heartbeat 0.5 s: it drops TCP after
        0.25 s without a pong, no close frame)."""
        url = f"ws://{HOST}:{port}/echo?tag={tag}"
        t0 = time.monotonic()
        if library == "websockets":
            kwargs = dict(WS_COMMON, ping_interval=0.5, ping_timeout=0.5, close_timeout=1)
            async with connect(url, **kwargs) as ws:
                lport = local_port(ws)
                await echo_once(ws, "hello")
                await echo_once(ws, "still fine")
                try:
                    async with asyncio.timeout(STEP_TIMEOUT):
                        await ws.recv()
                    raise AssertionError("unexpected message")
                except ConnectionClosed:
                    pass
            sent = ws.protocol.close_sent
            return {"local_port": lport, "close_sent": sent.code if sent else None,
                    "close_sent_reason": sent.reason if sent else None,
                    "close_rcvd": ws.protocol.close_rcvd.code if ws.protocol.close_rcvd else None,
                    "took": time.monotonic() - t0}
        if library == "aiohttp":
            import aiohttp

            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(url, heartbeat=0.5, compress=0, autoclose=True,
                                              autoping=True) as ws:
                    lport = ws.get_extra_info("sockname")[1]
                    await ws.send_str("hello")
                    async with asyncio.timeout(STEP_TIMEOUT):
                        msg = await ws.receive()
                    if (msg.type, msg.data) != (aiohttp.WSMsgType.TEXT, "hello"):
                        raise AssertionError(f"echo {msg!r}")
                    async with asyncio.timeout(STEP_TIMEOUT):
                        msg = await ws.receive()
                    return {"local_port": lport, "message": msg.type.name, "close_code": ws.close_code,
                            "exception": repr(ws.exception()), "took": time.monotonic() - t0}
        raise ValueError(f"unknown library {library}")

    async def op_fault_client(self, port: int, path: str, messages: list, wait: float = 3.0,
                              ping_interval: float | None = None, compression: bool = False) -> dict:
        """A websockets client for the fault tests: sends each message after the previous
        echo, then waits up to `wait` s for the connection to end (closing 1000 itself after
        that). It never raises on a close or a refusal: it returns what it got, how long each
        echo took, and the close codes each way."""
        received, took = [], []
        kwargs = dict(WS_COMMON, compression="deflate" if compression else None)
        if ping_interval is not None:
            kwargs.update(ping_interval=ping_interval, ping_timeout=ping_interval)
        try:
            ws = await connect(f"ws://{HOST}:{port}{path}", **kwargs)
        except InvalidStatus as exc:
            return {"status": exc.response.status_code, "retry_after": exc.response.headers.get("Retry-After"),
                    "body": exc.response.body.decode("utf-8", "replace")}
        lport = local_port(ws)
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions")
        try:
            for message in messages:
                started = time.monotonic()
                await ws.send(message)
                async with asyncio.timeout(STEP_TIMEOUT):
                    received.append(await ws.recv())
                took.append(time.monotonic() - started)
            async with asyncio.timeout(wait):
                async for message in ws:
                    received.append(message)
        except (ConnectionClosed, TimeoutError):
            pass
        await ws.close(1000, "done")
        sent, rcvd = ws.protocol.close_sent, ws.protocol.close_rcvd
        return {"status": 101, "local_port": lport, "received": received, "took": took, "extensions": extensions,
                "close_code": ws.close_code, "close_reason": ws.close_reason,
                "close_sent": sent.code if sent else None, "close_rcvd": rcvd.code if rcvd else None}

    async def op_burst_client(self, port: int, path: str, messages: list, wait: float = 3.0) -> dict:
        """A raw client that sends all `messages` as masked text frames in one write (one TCP
        segment), then reads what comes for up to `wait` s, answering a close frame."""
        raw = await RawClient.open(port, path)
        try:
            await raw.send(b"".join(encode_frame(OP_TEXT, m.encode()) for m in messages))
            return await read_frames(raw, wait)
        finally:
            await raw.close()

    async def op_split_frame_client(self, port: int, path: str, opcode: int, payload: str, cut: int,
                                    pause: float = 0.2, wait: float = 3.0) -> dict:
        """A raw client that writes one masked frame in two parts, its first `cut` bytes then
        the rest `pause` s later (two reads at the proxy), then a text "after"; returns the
        frames it got until the echo of "after" (or a close, answered) within `wait` s."""
        raw = await RawClient.open(port, path)
        frame = encode_frame(opcode, payload.encode())
        try:
            await raw.send(frame[:cut])
            await asyncio.sleep(pause)
            await raw.send(frame[cut:] + encode_frame(OP_TEXT, b"after"))
            return await read_frames(raw, wait, until_text="after")
        finally:
            await raw.close()

    async def op_rate_burst(self, port: int, tag: str) -> dict:
        """On /feed: a tick every 0.5 s for 2 s, then a burst of messages every
        10 ms until the server's rate limit closes the connection."""
        sent = 0
        async with connect(f"ws://{HOST}:{port}/feed?tag={tag}", **WS_COMMON) as ws:
            echoes = 0

            async def read_all() -> None:
                nonlocal echoes
                try:
                    async for _ in ws:
                        echoes += 1
                except ConnectionClosed:
                    pass

            reader = asyncio.ensure_future(read_all())
            try:
                for i in range(1, 6):
                    await ws.send(f"tick {i}")
                    sent += 1
                    await asyncio.sleep(0.5)
                for i in range(1, 51):
                    await ws.send(f"burst {i}")
                    sent += 1
                    await asyncio.sleep(0.01)
            except ConnectionClosed:
                pass
            async with asyncio.timeout(STEP_TIMEOUT):
                await reader
                await ws.wait_closed()
        return {"close_code": ws.close_code, "close_reason": ws.close_reason, "sent": sent,
                "echoes": echoes, "local_port": local_port(ws)}

    async def op_jwt_session(self, port: int, tag: str, lifetime: int = 2) -> dict:
        """On /stream with `Authorization: Bearer <JWT>` whose exp is the whole
        second `lifetime` s after now (so it expires 1 to 2 s in for 2); sends a
        message every 0.25 s until the server closes."""
        iat = int(time.time())
        token = make_jwt({"sub": "user-42", "iat": iat, "exp": iat + lifetime})
        async with connect(f"ws://{HOST}:{port}/stream?tag={tag}", additional_headers={"Authorization": f"Bearer {token}"},
                           **WS_COMMON) as ws:
            opened = time.time()
            try:
                for i in range(1, 4 * (lifetime + 2)):
                    await echo_once(ws, f"update {i}")
                    await asyncio.sleep(0.25)
            except ConnectionClosed:
                pass
            await drain(ws)
        return {"close_code": ws.close_code, "close_reason": ws.close_reason, "exp": iat + lifetime,
                "opened": opened, "local_port": local_port(ws)}

    # --- reconnecting clients (how a client comes back after a close) ------------

    async def op_websockets_reconnect(self, port: int, path: str, client_id: str, hold: float,
                                      lifetime: int | None = None) -> dict:
        """websockets' reconnecting client as its documentation shows it
        (`async for websocket in connect(...)`, `continue` on ConnectionClosed); done once
        a connection has stayed up `hold` s. Its backoff applies to failed handshakes only.
        With `lifetime`, it carries a JWT that expires that many seconds from now (for
        /stream, which closes 1008 at expiry and refuses the expired token with 401, an
        answer the loop does not retry)."""
        headers = {"X-Client-Id": client_id}
        if lifetime is not None:
            iat = int(time.time())
            headers["Authorization"] = "Bearer " + make_jwt({"sub": "user-42", "iat": iat, "exp": iat + lifetime})
        connections, refused = 0, None
        try:
            async for ws in connect(f"ws://{HOST}:{port}{path}", additional_headers=headers, **WS_COMMON):
                connections += 1
                try:
                    if await stayed_up(ws, hold):
                        break
                except ConnectionClosed:
                    continue
        except InvalidStatus as exc:
            refused = exc.response.status_code
        return {"connections": connections, "refused": refused}

    async def op_aiohttp_naive_loop(self, port: int, path: str, client_id: str, hold: float, tries: int = 50) -> dict:
        """aiohttp's client in a naive retry loop: reconnects at once whenever the
        connection ends, at most `tries` times; done once one has stayed up `hold` s."""
        import aiohttp
        connections = 0
        async with aiohttp.ClientSession() as session:
            while connections < tries:
                connections += 1
                try:
                    async with session.ws_connect(f"http://{HOST}:{port}{path}", headers={"X-Client-Id": client_id}) as ws:
                        if await stayed_up(ws, hold):
                            break
                except aiohttp.ClientError:
                    pass
        return {"connections": connections}

    async def op_aiohttp_storm(self, port: int, path: str, client_prefix: str, clients: int, hold: float) -> dict:
        """`clients` naive aiohttp loops at once, each its own X-Client-Id: after a wave
        of closes they all come back in the same instant."""
        results = await asyncio.gather(*(self.op_aiohttp_naive_loop(port, path, f"{client_prefix}-{index}", hold)
                                         for index in range(clients)))
        return {"connections": sum(result["connections"] for result in results)}

    async def op_backoff_client(self, port: int, path: str, client_id: str, hold: float, seed: int = 8) -> dict:
        """A client that backs off as advised: 1 s after the first failure, doubling,
        each delay stretched by a random 0-50 % (seeded, so a run is repeatable); done
        once a connection has stayed up `hold` s."""
        rng = random.Random(seed)
        delay, connections, slept = 1.0, 0, []
        while connections < 10:
            connections += 1
            try:
                async with connect(f"ws://{HOST}:{port}{path}", additional_headers={"X-Client-Id": client_id}, **WS_COMMON) as ws:
                    if await stayed_up(ws, hold):
                        break
            except (ConnectionClosed, OSError, InvalidStatus):
                pass
            pause = delay * rng.uniform(1.0, 1.5)
            slept.append(pause)
            await asyncio.sleep(pause)
            delay *= 2
        return {"connections": connections, "slept": slept}

    async def op_paced_client(self, port: int, path: str, client_id: str, hold: float, waits: list,
                              send: str | None = None, retry_after: bool = False) -> dict:
        """A client whose delays the test sets: after its k-th failed connection (closed,
        refused, or cut) it waits waits[k] s from the moment it saw the end, exactly (an
        exact 1 s interval; exact doubling, no jitter). With `retry_after`, it waits at least
        what a refusal's Retry-After asks. `send` goes out on every connection, the same
        each time: "binary" (two bytes) or "bad-utf8" (a text frame that is not UTF-8).
        Done once a connection has stayed up `hold` s, or when the waits run out."""
        loop = asyncio.get_running_loop()
        connections, waited, ends = 0, [], []
        for wait in [*waits, None]:
            connections += 1
            asked = 0.0
            try:
                async with connect(f"ws://{HOST}:{port}{path}", additional_headers={"X-Client-Id": client_id}, **WS_COMMON) as ws:
                    if send == "binary":
                        await ws.send(b"\x00\x01")
                    elif send == "bad-utf8":
                        await ws.send(b"\xff\xfe", text=True)
                    try:
                        if await stayed_up(ws, hold):
                            break
                    except ConnectionClosed:
                        pass
                ends.append({"close": ws.close_code})
            except InvalidStatus as exc:
                header = exc.response.headers.get("Retry-After")
                ends.append({"status": exc.response.status_code, "retry_after": header})
                asked = float(header) if retry_after and header else 0.0
            except OSError as exc:
                ends.append({"error": str(exc)})
            if wait is None:
                break
            ended = loop.time()
            await asyncio.sleep(max(float(wait), asked))
            waited.append(round(loop.time() - ended, 4))
        return {"connections": connections, "waited": waited, "ends": ends}

    async def op_raw_empty_close(self, port: int, tag: str) -> dict:
        """Raw client: one message (echoed), then a close frame with no payload;
        what the server answered, read until it ends TCP."""
        raw = await RawClient.open(port, f"/echo?tag={tag}")
        try:
            await raw.send(encode_frame(OP_TEXT, b"hello"))
            opcode, _, payload = await raw.recv_frame()
            if (opcode, payload) != (OP_TEXT, b"hello"):
                raise AssertionError(f"unexpected echo {opcode} {payload!r}")
            await raw.send(encode_frame(OP_CLOSE, b""))
            opcode, _, payload = await raw.recv_frame()
            async with asyncio.timeout(STEP_TIMEOUT):
                rest = await raw.reader.read()
        finally:
            await raw.close()
        return {"answer_opcode": opcode, "answer_payload_len": len(payload), "rest_len": len(rest),
                "local_port": raw.local_port}

    async def op_aiohttp_server(self) -> dict:
        """An aiohttp server (started once, kept until exit) with its WebSocket
        endpoint on /ws, and /ws-deflate agreeing to permessage-deflate: other paths
        get aiohttp's own 404."""
        if self.aiohttp_port is None:
            from aiohttp import WSMsgType, web

            def echo_endpoint(compress: bool):
                # With compress, permessage-deflate is agreed when offered (the fault tests strip it).
                async def endpoint(request):
                    ws = web.WebSocketResponse(compress=compress)
                    await ws.prepare(request)
                    async for msg in ws:
                        if msg.type == WSMsgType.TEXT:
                            await ws.send_str(msg.data)
                    return ws
                return endpoint

            app = web.Application()
            app.router.add_get("/ws", echo_endpoint(False))
            app.router.add_get("/ws-deflate", echo_endpoint(True))
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            await web.TCPSite(runner, HOST, 0).start()
            self.aiohttp_runner = runner
            self.aiohttp_port = runner.addresses[0][1]
        return {"port": self.aiohttp_port}


class RawClient:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.local_port = writer.get_extra_info("sockname")[1]

    @classmethod
    async def open(cls, port: int, path: str) -> "RawClient":
        async with asyncio.timeout(STEP_TIMEOUT):
            reader, writer = await asyncio.open_connection(HOST, port)
        client = cls(reader, writer)
        writer.write(upgrade_request(port, path))
        await writer.drain()
        async with asyncio.timeout(STEP_TIMEOUT):
            head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101 "):
            raise AssertionError(f"upgrade refused: {head!r}")
        return client

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def recv_frame(self) -> tuple[int, bool, bytes]:
        async with asyncio.timeout(STEP_TIMEOUT):
            b0, b1 = await self.reader.readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
            payload = await self.reader.readexactly(n)
        return b0 & 0x0F, bool(b0 & 0x80), payload

    async def finish_close(self) -> int:
        while True:
            opcode, _, payload = await self.recv_frame()
            if opcode == OP_CLOSE:
                break
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else -1
        try:
            await self.send(encode_frame(OP_CLOSE, struct.pack("!H", code) if code != -1 else b""))
            async with asyncio.timeout(STEP_TIMEOUT):
                await self.reader.read()
        except ConnectionError:
            pass
        return code

    async def close(self) -> None:
        self.writer.close()
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                await self.writer.wait_closed()
        except (ConnectionError, TimeoutError):
            pass


class RawServer:
    """Accepts one connection; records every byte received into a file.

    mode "interactive": after the request head arrives, sends the script's server
    bytes in several writes with small delays while still reading; then shuts
    down writing once the client's FIN came (half-close order either way).
    mode "after-eof": reads until the client's FIN, then sends everything.
    """

    def __init__(self, script_name: str, mode: str) -> None:
        self.script_name, self.mode = script_name, mode
        fd, self.path = tempfile.mkstemp(prefix="wsdoctor-proxy-raw-", suffix=".bin")
        os.close(fd)
        self.done: asyncio.Future = asyncio.get_running_loop().create_future()
        self.sent = b""
        self.server = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, HOST, 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader, writer) -> None:
        if self.done.done():
            writer.close()
            return
        _, server_bytes = script(self.script_name, self.port)
        received = bytearray()
        try:
            with open(self.path, "wb") as record:
                async def read_all(until: bytes | None = None) -> None:
                    while chunk := await reader.read(65536):
                        received.extend(chunk)
                        record.write(chunk)
                        if until is not None and until in received:
                            return

                async with asyncio.timeout(3 * STEP_TIMEOUT):
                    if self.mode == "interactive":
                        await read_all(until=b"\r\n\r\n")
                        reading = asyncio.ensure_future(read_all())
                        for piece in chunks(server_bytes, 7, seed=len(server_bytes)):
                            writer.write(piece)
                            await writer.drain()
                            await asyncio.sleep(0.01)
                        await reading
                    else:
                        await read_all()
                        for piece in chunks(server_bytes, 5, seed=len(server_bytes)):
                            writer.write(piece)
                            await writer.drain()
                    self.sent = server_bytes
                    writer.write_eof()
                    await writer.drain()
            if not self.done.done():
                self.done.set_result(None)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            if not self.done.done():
                self.done.set_exception(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
        finally:
            writer.close()

    def result(self) -> dict:
        with open(self.path, "rb") as f:
            recorded = f.read()
        return {"received_file": self.path, "received_sha": sha(recorded), "received_len": len(recorded),
                "sent_sha": sha(self.sent), "sent_len": len(self.sent)}

    def close(self) -> None:
        self.server.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass



# ---------------------------------------------------------------------------
# An intermediary between wsdoctor and the server (record.py's Relay, reduced).


async def read_ws_frame(reader: asyncio.StreamReader) -> bytes:
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


async def read_frames(raw: "RawClient", wait: float, until_text: str | None = None) -> dict:
    """The frames a raw client gets for up to `wait` s (or until the text `until_text`), as
    [opcode, text]; a close frame is answered with its code and ends the reading."""
    received, close_code = [], None
    try:
        async with asyncio.timeout(wait):
            while True:
                opcode, _, payload = await raw.recv_frame()
                if opcode == OP_CLOSE:
                    close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else -1
                    await raw.send(encode_frame(OP_CLOSE, payload[:2]))
                    break
                received.append([opcode, payload.decode("utf-8", "replace")])
                if opcode == OP_TEXT and payload.decode("utf-8", "replace") == until_text:
                    break
    except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
        pass
    return {"local_port": raw.local_port, "received": received, "close_code": close_code}


def split_frame(raw: bytes) -> tuple[int, bytes | None, bytes]:
    """(opcode, masking key or None, unmasked payload) of a whole frame."""
    n = raw[1] & 0x7F
    pos = 2 + {126: 2, 127: 8}.get(n, 0)
    key = raw[pos:pos + 4] if raw[1] & 0x80 else None
    payload = raw[pos + 4:] if key else raw[pos:]
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return raw[0] & 0x0F, key, payload


class Relay:
    """A TCP relay from a fresh port on HOST to HOST:upstream_port for one
    connection. Each direction passes the HTTP head unchanged, then parses
    WebSocket frames and passes each through its hook (None drops it). A FIN
    from one side half-closes the other, unless that direction is blackholed
    (then the FIN, and whatever the hook does not pass, is dropped)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.hooks: dict[str, object] = {"c2s": None, "s2c": None}
        self.blackhole = {"c2s": False, "s2c": False}
        self.notes: list[str] = []
        self.done = asyncio.Event()
        self.server = None
        self.port = 0
        self.tasks: set[asyncio.Task] = set()

    def note(self, text: str) -> None:
        self.notes.append(text)

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, HOST, 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.server.close()
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _handle(self, c_reader, c_writer) -> None:
        self.tasks.add(asyncio.current_task())
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                s_reader, s_writer = await asyncio.open_connection(HOST, self.upstream_port)
        except BaseException:
            c_writer.close()
            self.done.set()
            raise
        pumps = [asyncio.ensure_future(self._pump("c2s", c_reader, s_writer)),
                 asyncio.ensure_future(self._pump("s2c", s_reader, c_writer))]
        try:
            async with asyncio.timeout(3 * STEP_TIMEOUT):
                await asyncio.gather(*pumps, return_exceptions=True)
        finally:
            for t in pumps:
                t.cancel()
            for w in (c_writer, s_writer):
                w.close()
            self.done.set()

    async def _pump(self, direction: str, reader, writer) -> None:
        hook = self.hooks[direction]

        def forward(data: bytes) -> None:
            if not self.blackhole[direction]:
                writer.write(data)

        try:
            forward(await reader.readuntil(b"\r\n\r\n"))
            await writer.drain()
            while True:
                try:
                    frame = await read_ws_frame(reader)
                except asyncio.IncompleteReadError as exc:
                    if exc.partial:
                        forward(exc.partial)
                    break
                # The hook decides about each frame (it may start a blackhole with the
                # frame it still passes).
                out = hook(frame) if hook is not None else frame
                if out is not None:
                    writer.write(out)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        if not self.blackhole[direction]:
            try:
                writer.write_eof()
            except (OSError, RuntimeError):
                pass


# --- JSON Web Tokens (HS256, made and checked here, as in record.py) --------

JWT_SECRET = b"wsdoctor-proxy-tests-secret"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_jwt(claims: dict) -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(JWT_SECRET, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


def check_jwt(token: str) -> dict | None:
    """The claims of a validly signed token that has not expired; else None."""
    try:
        header, payload, signature = token.split(".")
        expected = hmac.new(JWT_SECRET, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, b64url_decode(signature)):
            return None
        claims = json.loads(b64url_decode(payload))
    except ValueError:
        return None
    return claims if claims.get("exp", 0) > time.time() else None


def bearer_token(request) -> str | None:
    value = request.headers.get("Authorization", "")
    return value[len("Bearer "):] if value.startswith("Bearer ") else None


# ---------------------------------------------------------------------------


async def stayed_up(ws, hold: float) -> bool:
    """Reads a websockets or aiohttp connection until it ends or `hold` s pass; True (and
    closed) when it stayed up that long."""
    try:
        async with asyncio.timeout(hold):
            async for _ in ws:
                pass
    except TimeoutError:
        await ws.close()
        return True
    return False


def port_of(server) -> int:
    return next(iter(server.sockets)).getsockname()[1]


def local_port(ws) -> int:
    return ws.transport.get_extra_info("sockname")[1]


async def echo_once(ws, message) -> None:
    await ws.send(message)
    async with asyncio.timeout(STEP_TIMEOUT):
        echoed = await ws.recv()
    if echoed != message:
        raise AssertionError(f"echo mismatch: sent {message!r:.60}, got {echoed!r:.60}")


async def drain(ws) -> None:
    try:
        async with asyncio.timeout(STEP_TIMEOUT):
            async for _ in ws:
                pass
    except ConnectionClosed:
        pass
    async with asyncio.timeout(STEP_TIMEOUT):
        await ws.wait_closed()


def reply(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def run_request(peers: Peers, request: dict) -> None:
    rid = request.pop("id", None)
    try:
        op = getattr(peers, "op_" + request.pop("op"))
        result = await op(**request)
        reply({"id": rid, "ok": True, **result})
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the test
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        reply({"id": rid, "ok": False, "error": detail or type(exc).__name__})


async def main() -> None:
    peers = Peers()
    reply(await peers.start())
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tasks = set()
    while line := await reader.readline():
        if not line.strip():
            continue
        task = asyncio.ensure_future(run_request(peers, json.loads(line)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    # stdin closed: the tests are over (or their process died). Leave at once.
    for task in tasks:
        task.cancel()
    os._exit(0)


async def echo_server_main() -> None:
    """`peers.py --echo-server`: a websockets echo server alone in this process
    (so that a test can kill it); prints {"port": N}; exits when stdin ends."""
    async def echo(ws) -> None:
        async for message in ws:
            await ws.send(message)

    async with serve(echo, HOST, 0, **WS_COMMON) as server:
        reply({"port": port_of(server)})
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        await reader.read()
    os._exit(0)


if __name__ == "__main__":
    import logging
    logging.basicConfig(level=logging.CRITICAL)
    asyncio.run(echo_server_main() if sys.argv[1:] == ["--echo-server"] else main())
