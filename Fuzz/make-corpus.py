#!/usr/bin/env python3
"""Writes the seed corpora for wsdoctor-fuzz: Fuzz/analyzer/corpus/ and Fuzz/report/corpus/.

Seeds use the FuzzInput format (Sources/Diagnosis/Fuzzing/FuzzInput.swift): an
options byte, then records. The report target reads the same format; its seeds add clock
steps back and far jumps (option bit 6), and credentials to redact or show (bit 7). Most come from the recorded captures (TCP payloads
per packet via tshark, plus FIN and RST); the rest are built here to reach
states the captures do not: mid-stream joins, gaps, a zip bomb, tiny limits.

Usage: python3 Fuzz/make-corpus.py   (needs tshark; re-run after changing the format)
"""
import base64
import hashlib
import os
import struct
import subprocess
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAPTURES = os.path.join(ROOT, "Fixtures", "captures")
OUT = os.path.join(ROOT, "Fuzz", "analyzer", "corpus")

# Options byte bits.
ASSUME_WS, TIMELINE, TINY, CLOCK_JUMPS, SHOW_SECRETS = 0x01, 0x02, 0x04, 0x40, 0x80
def pieces(index):  # 1, 2, 3, 5, 8, 13, 64 bytes for 1...7
    return index << 3

CLIENT, SERVER = 0, 1
FIN_C, FIN_S, RST_C, RST_S, SOURCE_END = 0x80, 0x81, 0x82, 0x83, 0x84


def data(side, payload):
    out = bytearray()
    while True:
        chunk, payload = payload[:0xFFFF], payload[0xFFFF:]
        top = side << 6
        if len(chunk) < 62:
            out += bytes([top | len(chunk)])
        elif len(chunk) < 256:
            out += bytes([top | 62, len(chunk)])
        else:
            out += bytes([top | 63]) + struct.pack(">H", len(chunk))
        out += chunk
        if not payload:
            return bytes(out)


def gap(side, missing):
    return bytes([0x85 if side == CLIENT else 0x86]) + struct.pack(">I", missing - 1)


def from_capture(name):
    """Records for every payload and FIN/RST of a one-connection capture, client = SYN sender."""
    fields = ["tcp.srcport", "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset", "tcp.payload"]
    cmd = ["tshark", "-r", os.path.join(CAPTURES, name), "-T", "fields", "-E", "separator=|"]
    for f in fields:
        cmd += ["-e", f]
    lines = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()
    truthy = lambda v: v in ("1", "True")
    client_port = None
    out = bytearray()
    for line in lines:
        port, syn, ack, fin, rst, payload = line.split("|")
        if client_port is None and truthy(syn) and not truthy(ack):
            client_port = port
        side = CLIENT if port == client_port else SERVER
        if payload:
            out += data(side, bytes.fromhex(payload.replace(":", "")))
        if truthy(fin):
            out.append(FIN_C if side == CLIENT else FIN_S)
        if truthy(rst):
            out.append(RST_C if side == CLIENT else RST_S)
    return bytes(out)


# Hand-built traffic.
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = base64.b64encode(hashlib.sha1((KEY + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()


def upgrade(extensions=None):
    request, response = upgrade_parts(extensions)
    return request + response


def upgrade_parts(extensions=None):
    """The upgrade request and its 101 answer, as two records."""
    request = f"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
              f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"
    response = f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
               f"Sec-WebSocket-Accept: {ACCEPT}\r\n"
    if extensions:
        request += f"Sec-WebSocket-Extensions: {extensions}\r\n"
        response += f"Sec-WebSocket-Extensions: {extensions}\r\n"
    return data(CLIENT, (request + "\r\n").encode()), data(SERVER, (response + "\r\n").encode())


def frame(opcode, payload, side, fin=True, rsv1=False):
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    mask = side == CLIENT
    n = len(payload)
    if n < 126:
        head = bytes([b0, (0x80 if mask else 0) | n])
    elif n < 65536:
        head = bytes([b0, (0x80 if mask else 0) | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, (0x80 if mask else 0) | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    key = bytes([0x37, 0xFA, 0x21, 0x3D])
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def deflate(text, compressor):
    out = compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def raw_compressor(bits=15):
    return zlib.compressobj(9, zlib.DEFLATED, -bits)


def deflate_session():
    out = bytearray(upgrade("permessage-deflate; client_max_window_bits=10; server_max_window_bits=10"))
    client, server = raw_compressor(10), raw_compressor(10)
    for text in [b'{"op":"hello","n":1}', b'{"op":"hello","n":1}', "h\u00e9llo \u2603".encode()]:
        out += data(CLIENT, frame(1, deflate(text, client), CLIENT, rsv1=True))
        out += data(SERVER, frame(1, deflate(text, server), SERVER, rsv1=True))
    # A fragmented compressed message: RSV1 on the first frame only.
    whole = deflate(b"fragmented compressed message " * 4, server)
    out += data(SERVER, frame(1, whole[:10], SERVER, fin=False, rsv1=True) + frame(0, whole[10:], SERVER))
    out += data(CLIENT, frame(9, b"ping", CLIENT)) + data(SERVER, frame(10, b"ping", SERVER))
    out += data(CLIENT, frame(8, struct.pack(">H", 1000) + b"done", CLIENT))
    out += data(SERVER, frame(8, struct.pack(">H", 1000) + b"done", SERVER))
    return bytes(out) + bytes([FIN_S, FIN_C])


def plain_session():
    out = bytearray(upgrade())
    out += data(CLIENT, frame(1, b"hello", CLIENT, fin=False) + frame(9, b"p", CLIENT) + frame(0, b" world", CLIENT))
    out += data(SERVER, frame(2, bytes(range(200)), SERVER))
    out += data(SERVER, frame(1, "caf\u00e9".encode()[:-1], SERVER))  # cut inside a UTF-8 sequence
    out += data(CLIENT, frame(8, struct.pack(">H", 1001), CLIENT))
    return bytes(out) + bytes([SOURCE_END])


def zip_bomb():
    bomb = deflate(b"\x00" * (4 * 1024 * 1024), raw_compressor())
    return upgrade("permessage-deflate") + data(SERVER, frame(2, bomb, SERVER, rsv1=True))


def mid_stream():
    """Frames with no handshake (capture joined late), a gap, then more frames."""
    server = frame(1, b"tail of something", SERVER) + frame(2, b"\x01\x02", SERVER) + frame(9, b"", SERVER)
    client = frame(10, b"", CLIENT) + frame(1, b"answer", CLIENT, fin=False)
    return (data(SERVER, b"\x99\x12" + server) + data(CLIENT, client) + gap(CLIENT, 7)
            + data(CLIENT, frame(0, b"rest", CLIENT) + frame(1, b"next", CLIENT)) + gap(SERVER, 100000)
            + data(SERVER, frame(1, b"after the gap", SERVER) * 3))


def pipelined_http():
    """Keep-alive and chunked exchanges, then an upgrade with frames sent before its answer."""
    requests = (b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    answers = (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
               b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n")
    request, response = upgrade_parts("permessage-deflate; server_no_context_takeover")
    early = data(CLIENT, frame(1, b"sent before the 101", CLIENT))
    return (data(CLIENT, requests) + data(SERVER, answers) + request + early + response
            + data(SERVER, frame(1, deflate(b"answer", raw_compressor()), SERVER, rsv1=True)))


def rejected():
    request = (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: " + KEY.encode() + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    answer = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\nContent-Length: 4\r\n\r\nbusy"
    return data(CLIENT, request) + data(SERVER, answer) + bytes([RST_S])


def clock(seconds):
    """A clock record under CLOCK_JUMPS: below 16 s as it is, else the nearest power of two."""
    back = 0x20 if seconds < 0 else 0
    n = abs(seconds)
    step = n if n < 16 else n.bit_length() - 1
    return bytes([0xC0 | back | step])


def with_credentials():
    request = (b"GET /chat?room=1&pw=hunter2&access-token=abc123&X-Amz-Signature=f00d HTTP/1.1\r\nHost: x\r\n"
               b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + KEY.encode() + b"\r\n"
               b"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2ln\r\n"
               b"Cookie: session=42\r\nSec-WebSocket-Protocol: access_token, eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2ln\r\n\r\n")
    response = (f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {ACCEPT}\r\nSec-WebSocket-Protocol: access_token\r\n\r\n").encode()
    return (data(CLIENT, request) + data(SERVER, response) + data(CLIENT, frame(1, b"hi", CLIENT))
            + data(SERVER, frame(8, struct.pack(">H", 1008) + b"token expired", SERVER)) + bytes([FIN_S]))


def clock_steps_back():
    """A session whose clock steps back 5 s after the upgrade, as an NTP step does."""
    request, response = upgrade_parts()
    return (request + response + clock(-5) + data(CLIENT, frame(1, b"hello", CLIENT)) + clock(2)
            + data(SERVER, frame(1, b"hello", SERVER)) + data(CLIENT, frame(8, struct.pack(">H", 1000), CLIENT))
            + data(SERVER, frame(8, struct.pack(">H", 1000), SERVER)) + bytes([FIN_S, FIN_C]))


def clock_far_jumps():
    """Jumps of 2^31 s each way, so timestamps wrap past both ends of 64 bits."""
    request, response = upgrade_parts()
    return (request + clock(-2**31) + clock(-2**31) + response + data(CLIENT, frame(9, b"p", CLIENT)) + clock(2**31)
            + clock(2**31) + clock(2**31) + clock(2**31) + data(SERVER, frame(10, b"p", SERVER)) + bytes([RST_C]))


REPORT_SEEDS = {
    "credentials-hidden": (0, with_credentials),
    "credentials-shown": (SHOW_SECRETS, with_credentials),
    "clock-steps-back": (CLOCK_JUMPS, clock_steps_back),
    "clock-far-jumps": (CLOCK_JUMPS, clock_far_jumps),
    "fragmented": (CLOCK_JUMPS, lambda: from_capture("fragmented.pcap")),
    "built-plain-session": (pieces(4), plain_session),
    "built-deflate-session-tiny-limits": (TINY | pieces(5), deflate_session),
    "built-mid-stream": (ASSUME_WS, mid_stream),
    "built-rejected-429": (0, rejected),
}

SEEDS = {
    # name: (options byte, records)
    "normal-1000": (0, lambda: from_capture("normal-1000.pcap")),
    "deflate": (0, lambda: from_capture("deflate.pcap")),
    "deflate-no-context-takeover": (pieces(3), lambda: from_capture("deflate-no-context-takeover.pcap")),
    "fragmented": (TIMELINE, lambda: from_capture("fragmented.pcap")),
    "pings": (0, lambda: from_capture("pings.pcap")),
    "http-before-upgrade": (pieces(2), lambda: from_capture("http-before-upgrade.pcap")),
    "protocol-error-1002": (0, lambda: from_capture("protocol-error-1002.pcap")),
    "invalid-utf8-1007": (pieces(1), lambda: from_capture("invalid-utf8-1007.pcap")),
    "tcp-reset": (0, lambda: from_capture("tcp-reset.pcap")),
    "built-deflate-session": (0, deflate_session),
    "built-deflate-session-tiny-limits": (TINY | TIMELINE | pieces(5), deflate_session),
    "built-plain-session": (pieces(4), plain_session),
    "built-zip-bomb": (0, zip_bomb),
    "built-mid-stream": (ASSUME_WS, mid_stream),
    "built-pipelined-http": (0, pipelined_http),
    "built-rejected-429": (0, rejected),
}

if __name__ == "__main__":
    for folder, seeds in [(OUT, SEEDS), (os.path.join(ROOT, "Fuzz", "report", "corpus"), REPORT_SEEDS)]:
        os.makedirs(folder, exist_ok=True)
        for name, (options, build) in seeds.items():
            body = bytes([options]) + build()
            with open(os.path.join(folder, name), "wb") as f:
                f.write(body)
            print(f"{os.path.relpath(folder, ROOT)}/{name}: {len(body)} bytes")
