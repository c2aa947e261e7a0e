#!/usr/bin/env python3
"""Write a large synthetic pcap of valid WebSocket traffic for the replay benchmark.

Classic pcap (microsecond timestamps, Ethernet / IPv4 / TCP). Every connection:
  - TCP three-way handshake,
  - an HTTP/1.1 upgrade with a correct Sec-WebSocket-Accept; about a third offer
    "permessage-deflate; client_max_window_bits" and get "permessage-deflate" back,
  - frames both ways: mostly small text (16-125 bytes, valid UTF-8, some non-ASCII),
    some 1-16 KiB binary, a few 64 KiB+ binary, fragmented messages (sometimes with a
    ping between the fragments), pings answered by pongs. Client frames are masked,
    server frames are not. Deflate connections carry real raw-deflate payloads
    (context takeover, Z_SYNC_FLUSH, trailing 00 00 ff ff stripped, RSV1 on the first
    frame of each compressed message),
  - a clean 1000 close handshake, then FIN from the server, FIN from the client.
Several connections are open at once and their packets interleave. TCP segments carry
at most 65000 bytes, sequence and acknowledgement numbers are exact (no gaps), IPv4 and
TCP checksums are correct, timestamps advance.

Standard library only; deterministic (fixed seed). Usage:
    generate_capture.py [--size-mb N] [--out PATH] [--connections N] [--seed N]
"""

import argparse
import base64
import hashlib
import os
import random
import struct
import sys
import time
import zlib

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SERVER_PORT = 9001
SERVER_IP = bytes([10, 1, 0, 1])
SERVER_MAC = bytes.fromhex("020000000001")
CLIENT_MAC = bytes.fromhex("020000000002")
MAX_SEGMENT = 65000  # TCP payload per packet; IPv4 total length must stay below 65536
CONCURRENT = 32  # connections open at the same time

OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
    "november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee "
    "zulu price quantity order trade update status ready ok"
).split()
NON_ASCII = ["héllo", "naïve", "Grüße", "ñandú", "日本語", "данные", "Ελλάδα", "€100", "😀", "🚀ok", "ça"]


def checksum_words(data):
    """Ones'-complement sum of big-endian 16-bit words (unfolded result in 0...0xFFFF)."""
    if len(data) & 1:
        data += b"\x00"
    value = int.from_bytes(data, "big")
    if value == 0:
        return 0
    r = value % 0xFFFF  # 2**16 == 1 (mod 0xFFFF)
    return r if r else 0xFFFF


def mask_payload(payload, key):
    n = len(payload)
    if n == 0:
        return payload
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


class Writer:
    """Buffered pcap writer."""

    def __init__(self, path):
        self.f = open(path, "wb", buffering=0)
        self.chunks = []
        self.pending = 0
        self.bytes = 0
        self.packets = 0
        self.ts_us = 1_700_000_000 * 1_000_000
        header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
        self._put(header)

    def _put(self, b):
        self.chunks.append(b)
        self.pending += len(b)
        self.bytes += len(b)
        if self.pending >= 8 << 20:
            self.flush()

    def flush(self):
        if self.chunks:
            self.f.write(b"".join(self.chunks))
            self.chunks = []
            self.pending = 0

    def close(self):
        self.flush()
        self.f.close()

    def packet(self, src_ip, dst_ip, src_mac, dst_mac, sport, dport, seq, ack, flags, payload, advance_us):
        self.ts_us += advance_us
        tcp_len = 20 + len(payload)
        total = 20 + tcp_len
        ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, self.packets & 0xFFFF, 0x4000, 64, 6, 0, src_ip, dst_ip))
        c = checksum_words(bytes(ip))
        c = (c & 0xFFFF) + (c >> 16)
        struct.pack_into("!H", ip, 10, (~c) & 0xFFFF)
        tcp = bytearray(struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0))
        pseudo = src_ip + dst_ip + struct.pack("!BBH", 0, 6, tcp_len)
        s = checksum_words(pseudo) + checksum_words(bytes(tcp)) + checksum_words(payload)
        while s >> 16:
            s = (s & 0xFFFF) + (s >> 16)
        struct.pack_into("!H", tcp, 16, (~s) & 0xFFFF)
        frame_len = 14 + total
        sec, usec = divmod(self.ts_us, 1_000_000)
        self._put(struct.pack("<IIII", sec, usec, frame_len, frame_len)
                  + dst_mac + src_mac + b"\x08\x00" + bytes(ip) + bytes(tcp))
        self._put(payload)
        self.packets += 1


class Connection:
    def __init__(self, index, rng, deflate, budget):  # budget: capture bytes of frames
        self.index = index
        self.rng = rng
        self.deflate = deflate
        self.budget = budget
        self.client_ip = bytes([10, 0, (index >> 8) & 0xFF, index & 0xFF])
        self.client_port = 40000 + index
        self.cseq = rng.getrandbits(32)
        self.sseq = rng.getrandbits(32)
        self.seq_msg = 0
        if deflate:
            self.cz = zlib.compressobj(6, zlib.DEFLATED, -15, 8)
            self.sz = zlib.compressobj(6, zlib.DEFLATED, -15, 8)


class Generator:
    def __init__(self, writer, rng):
        self.w = writer
        self.rng = rng
        self.frames = 0
        self.messages = 0
        self.ws_bytes = 0
        pool_rng = random.Random(rng.getrandbits(64))
        # Binary payload pool: half random bytes, half repetitive, so deflate has something to do.
        rand_part = pool_rng.randbytes(1 << 20)
        rep_part = (b"".join(struct.pack("<IHH", i, i % 7, 0xBEEF) for i in range(1 << 16)))[: 1 << 19]
        self.binary_pool = rand_part + rep_part * 2
        self.text_pool = self._text_pool(pool_rng)

    def _text_pool(self, r):
        pool = []
        for _ in range(4096):
            parts = []
            for _ in range(r.randint(1, 30)):
                parts.append(r.choice(NON_ASCII) if r.random() < 0.15 else r.choice(WORDS))
            pool.append(" ".join(parts))
        return pool

    # --- payloads ---------------------------------------------------------
    def text_payload(self, conn, lo, hi):
        r = self.rng
        target = r.randint(lo, hi)
        conn.seq_msg += 1
        head = '{"seq":%d,"conn":%d,"msg":"' % (conn.seq_msg, conn.index)
        tail = '"}'
        room = target - len(head) - len(tail)
        body = r.choice(self.text_pool)
        b = body.encode()
        while len(b) < room:
            body += " " + r.choice(self.text_pool)
            b = body.encode()
        # Cut at a character boundary so the result stays valid UTF-8.
        b = b[:max(room, 0)].decode("utf-8", "ignore").encode()
        return head.encode() + b + tail.encode()

    def binary_payload(self, n):
        start = self.rng.randrange(0, len(self.binary_pool) - n) if n < len(self.binary_pool) else 0
        if n <= len(self.binary_pool):
            return self.binary_pool[start:start + n]
        return (self.binary_pool * (n // len(self.binary_pool) + 1))[:n]

    # --- framing ----------------------------------------------------------
    def frame(self, from_client, fin, rsv1, opcode, payload):
        b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
        n = len(payload)
        m = 0x80 if from_client else 0
        if n < 126:
            h = struct.pack("!BB", b0, m | n)
        elif n < 65536:
            h = struct.pack("!BBH", b0, m | 126, n)
        else:
            h = struct.pack("!BBQ", b0, m | 127, n)
        self.frames += 1
        if from_client:
            key = struct.pack("!I", self.rng.getrandbits(32))
            return h + key + mask_payload(payload, key)
        return h + payload

    def message(self, conn, from_client, opcode, payload, fragments=1, ping_inside=False):
        """The frames of one data message, as a list of byte strings."""
        rsv1 = False
        if conn.deflate and len(payload) > 0:
            z = conn.cz if from_client else conn.sz
            data = z.compress(payload) + z.flush(zlib.Z_SYNC_FLUSH)
            assert data.endswith(b"\x00\x00\xff\xff")
            payload = data[:-4]
            rsv1 = True
        self.messages += 1
        if fragments <= 1 or len(payload) <= fragments:
            return [self.frame(from_client, True, rsv1, opcode, payload)]
        cuts = sorted(self.rng.sample(range(1, len(payload)), fragments - 1))
        pieces = [payload[a:b] for a, b in zip([0] + cuts, cuts + [len(payload)])]
        out = []
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            out.append(self.frame(from_client, last, rsv1 and i == 0, opcode if i == 0 else OP_CONT, piece))
            if ping_inside and i == 0:
                out.append(self.frame(from_client, True, False, OP_PING, b"mid-message"))
        return out

    # --- TCP --------------------------------------------------------------
    def send(self, conn, from_client, data, flags=0x18):
        r = self.rng
        w = self.w
        self.ws_bytes += len(data)
        pos = 0
        while pos < len(data):
            n = min(len(data) - pos, MAX_SEGMENT if r.random() < 0.7 else r.randint(1448, MAX_SEGMENT))
            piece = data[pos:pos + n]
            adv = r.randint(5, 400)
            if from_client:
                w.packet(conn.client_ip, SERVER_IP, CLIENT_MAC, SERVER_MAC, conn.client_port, SERVER_PORT,
                         conn.cseq, conn.sseq, flags, piece, adv)
                conn.cseq += len(piece)
            else:
                w.packet(SERVER_IP, conn.client_ip, SERVER_MAC, CLIENT_MAC, SERVER_PORT, conn.client_port,
                         conn.sseq, conn.cseq, flags, piece, adv)
                conn.sseq += len(piece)
            pos += len(piece)

    def open(self, conn):
        w = self.w
        c, s = conn, SERVER_IP
        w.packet(c.client_ip, s, CLIENT_MAC, SERVER_MAC, c.client_port, SERVER_PORT, c.cseq, 0, 0x02, b"", 50)
        c.cseq += 1
        w.packet(s, c.client_ip, SERVER_MAC, CLIENT_MAC, SERVER_PORT, c.client_port, c.sseq, c.cseq, 0x12, b"", 80)
        c.sseq += 1
        w.packet(c.client_ip, s, CLIENT_MAC, SERVER_MAC, c.client_port, SERVER_PORT, c.cseq, c.sseq, 0x10, b"", 60)
        key = base64.b64encode(self.rng.randbytes(16))
        req = (b"GET /stream?client=%d HTTP/1.1\r\n" % c.index
               + b"Host: bench.example:9001\r\n"
               + b"User-Agent: wsdoctor-bench/1.0\r\n"
               + b"Upgrade: websocket\r\n"
               + b"Connection: Upgrade\r\n"
               + b"Sec-WebSocket-Key: " + key + b"\r\n"
               + b"Sec-WebSocket-Version: 13\r\n")
        if c.deflate:
            req += b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        req += b"\r\n"
        self.send(c, True, req)
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        resp = (b"HTTP/1.1 101 Switching Protocols\r\n"
                + b"Upgrade: websocket\r\n"
                + b"Connection: Upgrade\r\n"
                + b"Sec-WebSocket-Accept: " + accept + b"\r\n")
        if c.deflate:
            resp += b"Sec-WebSocket-Extensions: permessage-deflate\r\n"
        resp += b"\r\n"
        self.send(c, False, resp)

    def burst(self, conn):
        """One exchange: a few frames from one side, coalesced into TCP segments."""
        before = self.w.bytes
        self._burst(conn)
        conn.budget -= self.w.bytes - before

    def _burst(self, conn):
        r = self.rng
        from_client = r.random() < 0.45
        frames = []
        kind = r.random()
        if kind < 0.955:
            # A burst of small text messages.
            for _ in range(r.randint(1, 12)):
                frames += self.message(conn, from_client, OP_TEXT, self.text_payload(conn, 16, 125))
        elif kind < 0.975:
            # Medium binary message, 1-16 KiB.
            frames += self.message(conn, from_client, OP_BIN, self.binary_payload(r.randint(1024, 16384)))
        elif kind < 0.9758:
            # Large binary message, 64 KiB - 256 KiB.
            n = r.randint(65536, 262144)
            frames += self.message(conn, from_client, OP_BIN, self.binary_payload(min(n, max(65536, int(conn.budget)))))
        elif kind < 0.988:
            # Fragmented message (text or binary), sometimes with a ping between fragments.
            if r.random() < 0.6:
                payload = self.text_payload(conn, 200, 4000)
                op = OP_TEXT
            else:
                payload = self.binary_payload(r.randint(500, 8000))
                op = OP_BIN
            frames += self.message(conn, from_client, op, payload, fragments=r.randint(2, 5),
                                   ping_inside=r.random() < 0.2)
            if any((f[0] & 0x0F) == OP_PING for f in frames):
                self.send(conn, from_client, b"".join(frames))
                self.send(conn, not from_client, self.frame(not from_client, True, False, OP_PONG, b"mid-message"))
                return
        else:
            # Ping, answered by a pong with the same payload.
            data = b"ping %d" % r.getrandbits(32)
            self.send(conn, from_client, self.frame(from_client, True, False, OP_PING, data))
            self.send(conn, not from_client, self.frame(not from_client, True, False, OP_PONG, data))
            return
        self.send(conn, from_client, b"".join(frames))

    def close(self, conn):
        r = self.rng
        w = self.w
        c = conn
        first_client = r.random() < 0.5
        body = struct.pack("!H", 1000) + b"bye"
        self.send(c, first_client, self.frame(first_client, True, False, OP_CLOSE, body))
        self.send(c, not first_client, self.frame(not first_client, True, False, OP_CLOSE, struct.pack("!H", 1000)))
        s = SERVER_IP
        # The server closes TCP first (RFC 6455 section 7.1.1).
        w.packet(s, c.client_ip, SERVER_MAC, CLIENT_MAC, SERVER_PORT, c.client_port, c.sseq, c.cseq, 0x11, b"", 40)
        c.sseq += 1
        w.packet(c.client_ip, s, CLIENT_MAC, SERVER_MAC, c.client_port, SERVER_PORT, c.cseq, c.sseq, 0x11, b"", 40)
        c.cseq += 1
        w.packet(s, c.client_ip, SERVER_MAC, CLIENT_MAC, SERVER_PORT, c.client_port, c.sseq, c.cseq, 0x10, b"", 40)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=float, default=220, help="approximate capture size in MB (10^6 bytes); default 220")
    ap.add_argument("--out", default="bench-out/replay.pcap", help="output path (default bench-out/replay.pcap)")
    ap.add_argument("--connections", type=int, default=200, help="number of WebSocket connections (default 200)")
    ap.add_argument("--seed", type=int, default=6455)
    args = ap.parse_args()
    if args.connections < 1 or args.connections > 60000:
        ap.error("--connections must be between 1 and 60000")

    started = time.monotonic()
    target = int(args.size_mb * 1_000_000)
    rng = random.Random(args.seed)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    tmp = args.out + ".tmp"
    w = Writer(tmp)
    try:
        g = Generator(w, rng)
        n = args.connections
        # Per-connection budget of capture bytes for the frames; the TCP and HTTP handshakes
        # and the close add about 1.3 KB per connection.
        per_conn = max(target - 24 - 1300 * n, n * 1000) / n
        pending = list(range(n))
        active = []
        deflate_count = 0
        while pending or active:
            while pending and len(active) < CONCURRENT:
                i = pending.pop(0)
                deflate = (i % 3 == 1)
                deflate_count += deflate
                budget = per_conn * rng.uniform(0.8, 1.2)
                conn = Connection(i + 1, rng, deflate, budget)
                g.open(conn)
                active.append(conn)
            conn = active[rng.randrange(len(active))]
            g.burst(conn)
            if conn.budget <= 0:
                g.close(conn)
                active.remove(conn)
        w.close()
        os.replace(tmp, args.out)
    except BaseException:
        w.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    elapsed = time.monotonic() - started
    print(f"server port: {SERVER_PORT}")
    print(f"connections: {args.connections} ({deflate_count} with permessage-deflate)")
    print(f"frames: {g.frames}")
    print(f"messages: {g.messages}")
    print(f"packets: {w.packets}")
    print(f"websocket bytes: {g.ws_bytes}")
    print(f"bytes written: {w.bytes} ({w.bytes / 1e6:.1f} MB) to {args.out} in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
