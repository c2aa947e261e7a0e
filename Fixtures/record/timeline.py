#!/usr/bin/env python3
"""Print a capture packet by packet as tshark decodes it, with times, to read
the evidence in the diagnosis captures (MANIFEST.md, "Diagnosis scenarios").

    python3 Fixtures/record/timeline.py Fixtures/captures/diag-*.pcap
    python3 Fixtures/record/timeline.py --frames-only FILE   # skip pure ACKs

One line per packet:

    <t> <stream> <c2s|s2c> <TCP flags> <what tshark decoded>

where <t> is seconds since that TCP connection's SYN, TCP flags are shown
only when one of SYN/FIN/RST is set (or "ack" for an empty segment), and
the decoded part lists the HTTP start line and the headers that matter for a
diagnosis (Authorization, WWW-Authenticate, Retry-After, Sec-WebSocket-*),
then each WebSocket frame: opcode, FIN/RSV/mask bits, payload length and
payload (text, ping/pong bytes in hex, close code and reason).

After the packets it prints, per connection:
  - for an `Authorization: Bearer` header or an `access_token` query
    parameter: the JWT's claims and where `exp` falls in seconds since the SYN;
  - for a 101 answer: whether `Sec-WebSocket-Accept` is the value RFC 6455
    computes from the request's `Sec-WebSocket-Key`;
  - the longest silence (no packet either way) and where it ended.
Only the standard library and tshark are needed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import urllib.parse

FIELDS = [
    "frame.number", "frame.time_epoch", "tcp.stream", "tcp.srcport", "tcp.dstport",
    "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset", "tcp.len",
    "http.request.method", "http.request.uri", "http.response.code", "http.response.phrase",
    "http.request.line", "http.response.line",
    "websocket.opcode", "websocket.fin", "websocket.rsv", "websocket.mask",
    "websocket.payload_length", "websocket.payload.text", "websocket.payload.ping",
    "websocket.payload.pong", "websocket.payload.close.status_code",
    "websocket.payload.close.reason",
]
SHOW_HEADERS = ("authorization", "www-authenticate", "retry-after", "sec-websocket-",
                "content-length", "connection")
OPNAMES = {0: "cont", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def run(args: list[str]) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout


def flag(v) -> bool:
    return v in ("1", "True", "true")


def b64url_json(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def timeline(path: str, frames_only: bool) -> None:
    ports = {int(p) for p in run(["tshark", "-r", path, "-Y",
                                  "tcp.flags.syn == 1 && tcp.flags.ack == 0",
                                  "-T", "fields", "-e", "tcp.dstport"]).split()}
    args = ["tshark", "-r", path, "-o", "tcp.desegment_tcp_streams:TRUE"]
    for p in sorted(ports):
        args += ["-d", f"tcp.port=={p},http"]
    args += ["-T", "json"]
    for f in FIELDS:
        args += ["-e", f]
    packets = [p["_source"]["layers"] for p in json.loads(run(args) or "[]")]
    print(f"## {path}  (server port(s) {sorted(ports)}, {len(packets)} packets)")
    syn_time: dict[str, float] = {}
    last_time: dict[str, float] = {}
    silence: dict[str, tuple[float, float]] = {}
    http_lines: dict[str, list[str]] = {}
    for pk in packets:
        g = lambda k: pk.get(k, [])
        first = lambda k: (pk.get(k) or [None])[0]
        stream = first("tcp.stream")
        t = float(first("frame.time_epoch"))
        syn_time.setdefault(stream, t)
        rel = t - syn_time[stream]
        if stream in last_time:
            gap = t - last_time[stream]
            if gap > silence.get(stream, (0.0, 0.0))[0]:
                silence[stream] = (gap, rel)
        last_time[stream] = t
        d = "s2c" if int(first("tcp.srcport")) in ports else "c2s"
        flags = [n for n, k in (("SYN", "tcp.flags.syn"), ("FIN", "tcp.flags.fin"),
                                ("RST", "tcp.flags.reset")) if flag(first(k))]
        parts = []
        for m, u in zip(g("http.request.method"), g("http.request.uri")):
            parts.append(f"{m} {u}")
            http_lines.setdefault(stream, []).append(f"{d} {m} {u}")
        for c, ph in zip(g("http.response.code"), g("http.response.phrase")):
            parts.append(f"HTTP {c} {ph}")
        for line in g("http.request.line") + g("http.response.line"):
            http_lines.setdefault(stream, []).append(f"{d} {line.strip()}")
            if line.lower().startswith(SHOW_HEADERS):
                parts.append(f"[{line.strip()}]")
        ops = g("websocket.opcode")
        texts = list(g("websocket.payload.text"))
        pings, pongs = list(g("websocket.payload.ping")), list(g("websocket.payload.pong"))
        codes = list(g("websocket.payload.close.status_code"))
        reasons = list(g("websocket.payload.close.reason"))
        for i, op in enumerate(ops):
            op = int(op)
            pick = lambda k: g(k)[i] if i < len(g(k)) else None
            s = OPNAMES.get(op, f"op{op:#x}")
            bits = []
            if pick("websocket.fin") is not None and not flag(pick("websocket.fin")):
                bits.append("FIN=0")
            rsv = int(pick("websocket.rsv") or "0", 0)
            bits += [name for bit, name in ((4, "RSV1"), (2, "RSV2"), (1, "RSV3")) if rsv & bit]
            if d == "c2s" and pick("websocket.mask") is not None and not flag(pick("websocket.mask")):
                bits.append("UNMASKED")
            if bits:
                s += "(" + ",".join(bits) + ")"
            s += f" len={pick('websocket.payload_length')}"
            if op == 1 and texts and not rsv:
                text = texts.pop(0)
                s += f" {text[:60]!r}" + ("..." if len(text) > 60 else "")
            elif op == 9 and pings:
                s += f" {pings.pop(0)}"
            elif op == 10 and pongs:
                s += f" {pongs.pop(0)}"
            elif op == 8:
                s += f" {codes.pop(0)} {reasons.pop(0) if reasons else ''!r}" if codes else " (no code)"
            parts.append(s)
        if frames_only and not parts and not flags:
            continue
        fl = ",".join(flags) if flags else ("ack" if int(first("tcp.len") or 0) == 0 else "")
        print(f"  {rel:8.3f} s{stream} {d} {fl:7} {' | '.join(parts)}".rstrip())
    for stream in sorted(syn_time, key=int):
        lines = http_lines.get(stream, [])
        # JWT in Authorization or in the query string.
        for line in lines:
            token = None
            low = line.lower()
            if low.startswith("c2s authorization: bearer "):
                token = line.split(None, 3)[3]
            elif line.startswith("c2s GET ") and "access_token=" in line:
                uri = line.split()[2]
                token = urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query)["access_token"][0]
            if token:
                header, claims = (b64url_json(p) for p in token.split(".")[:2])
                exp = claims.get("exp")
                print(f"  s{stream} JWT header {header} claims {claims}; exp is "
                      f"{exp - syn_time[stream]:.3f} s after the SYN, iat "
                      f"{claims.get('iat', 0) - syn_time[stream]:.3f} s")
        key = next((l.split(":", 1)[1].strip() for l in lines
                    if l.lower().startswith("c2s sec-websocket-key:")), None)
        accept = next((l.split(":", 1)[1].strip() for l in lines
                       if l.lower().startswith("s2c sec-websocket-accept:")), None)
        if key and accept:
            want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            verdict = "correct" if want == accept else f"WRONG (RFC 6455 gives {want})"
            print(f"  s{stream} Sec-WebSocket-Key {key}: Accept {accept} is {verdict}")
        if stream in silence:
            gap, end = silence[stream]
            print(f"  s{stream} longest silence {gap:.3f} s, ending at {end:.3f} s")


def main() -> int:
    frames_only = "--frames-only" in sys.argv[1:]
    for path in [a for a in sys.argv[1:] if a != "--frames-only"]:
        timeline(path, frames_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
