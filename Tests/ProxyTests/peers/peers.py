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
  sends a scripted byte sequence back (transparency and half-close tests).

Server-side observations are kept per tag: a client puts `?tag=T` in its path
and `server_log` returns what the server's handler saw for T.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import random
import socket
import struct
import sys
import tempfile
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
        self.next_handle = 1

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
        /half-frame-reset sends half a frame then resets the TCP connection."""
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
            async for message in ws:
                received += 1
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
        if request.path.split("?", 1)[0] == "/reject-429":
            response = connection.respond(429, "Too many connections\n")
            response.headers["Retry-After"] = "30"
            return response
        return None

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

    async def op_new_server(self) -> dict:
        """A dedicated echo server (it is shut down by `shutdown_close`)."""
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
        it waits for the server's close (or closes 1000 itself when `close`)."""
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

    async def op_rejected(self, port: int) -> dict:
        try:
            async with connect(f"ws://{HOST}:{port}/reject-429", **WS_COMMON):
                return {"status": 101}
        except InvalidStatus as exc:
            return {"status": exc.response.status_code,
                    "retry_after": exc.response.headers.get("Retry-After")}

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


if __name__ == "__main__":
    import logging
    logging.basicConfig(level=logging.CRITICAL)
    asyncio.run(main())
