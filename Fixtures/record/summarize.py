#!/usr/bin/env python3
"""Summarize WebSocket captures as tshark decodes them (used to write and
check Fixtures/captures/MANIFEST.md).

    python3 Fixtures/record/summarize.py Fixtures/captures/*.pcap*

For every TCP connection: the HTTP requests and answers, the WebSocket frames
(direction, opcode, FIN, mask, RSV, length, close code and reason), data
messages each way, who sent the first close frame and whether the other side
answered with one, and how TCP ended (first FIN / RST and from which side).
Only the standard library and tshark are needed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict

FIELDS = [
    "frame.number", "tcp.stream", "tcp.srcport", "tcp.dstport",
    "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset", "tcp.len",
    "tcp.analysis.lost_segment", "tcp.analysis.ack_lost_segment",
    "http.request.method", "http.request.uri", "http.response.code",
    "http.transfer_encoding", "http.content_length_header", "http.connection",
    "http.sec_websocket_extensions",
    "websocket.fin", "websocket.opcode", "websocket.mask", "websocket.rsv",
    "websocket.payload_length", "websocket.payload.close.status_code",
    "websocket.payload.close.reason",
]

OPNAMES = {0: "cont", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}


def tshark_json(path: str, extra: list[str]) -> list[dict]:
    args = ["tshark", "-r", path, *extra, "-T", "json"]
    for f in FIELDS:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout
    return [p["_source"]["layers"] for p in json.loads(out or "[]")]


def server_ports(path: str) -> set[int]:
    out = subprocess.run(
        ["tshark", "-r", path, "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0",
         "-T", "fields", "-e", "tcp.dstport"],
        capture_output=True, text=True, check=True, timeout=60).stdout
    return {int(p) for p in out.split()}


def flag(v) -> bool:
    return v in ("1", "True", "true")


def summarize(path: str) -> None:
    ports = server_ports(path)
    extra = []
    for p in sorted(ports):
        extra += ["-d", f"tcp.port=={p},http"]
    packets = tshark_json(path, extra)
    conns: dict[str, dict] = defaultdict(lambda: {
        "http": [], "frames": [], "fin": [], "rst": [], "lost": 0, "packets": 0,
        "ext": set(), "ports": None})
    for pk in packets:
        g = lambda k: pk.get(k, [])
        first = lambda k: (pk.get(k) or [None])[0]
        stream = first("tcp.stream")
        c = conns[stream]
        c["packets"] += 1
        sport, dport = int(first("tcp.srcport")), int(first("tcp.dstport"))
        d = "s2c" if sport in ports else "c2s"
        c["ports"] = (dport, sport) if d == "c2s" else (sport, dport)
        if g("tcp.analysis.lost_segment") or g("tcp.analysis.ack_lost_segment"):
            c["lost"] += 1
        if flag(first("tcp.flags.fin")):
            c["fin"].append(d)
        if flag(first("tcp.flags.reset")):
            c["rst"].append(d)
        for m, u in zip(g("http.request.method"), g("http.request.uri")):
            c["http"].append(f"{d} {m} {u}")
        for code in g("http.response.code"):
            te = ",".join(g("http.transfer_encoding"))
            cl = ",".join(g("http.content_length_header"))
            body = f" chunked" if te else (f" content-length={cl}" if cl else "")
            c["http"].append(f"{d} {code}{body}")
        for e in g("http.sec_websocket_extensions"):
            c["ext"].add(f"{d}: {e}")
        ops = g("websocket.opcode")
        codes, reasons = list(g("websocket.payload.close.status_code")), list(
            g("websocket.payload.close.reason"))
        for i, op in enumerate(ops):
            op = int(op)
            fr = {
                "no": first("frame.number"), "dir": d, "op": op,
                "fin": flag(g("websocket.fin")[i]) if i < len(g("websocket.fin")) else None,
                "mask": flag(g("websocket.mask")[i]) if i < len(g("websocket.mask")) else None,
                "rsv": int(g("websocket.rsv")[i], 0) if i < len(g("websocket.rsv")) else 0,
                "len": int(g("websocket.payload_length")[i]) if i < len(g("websocket.payload_length")) else None,
                "code": None, "reason": None,
            }
            if op == 8 and codes:
                fr["code"] = int(codes.pop(0))
                fr["reason"] = reasons.pop(0) if reasons else ""
            c["frames"].append(fr)
    print(f"## {path}  (server port(s) {sorted(ports)}, {len(packets)} packets)")
    for stream, c in sorted(conns.items(), key=lambda kv: int(kv[0])):
        frames = c["frames"]
        print(f"  stream {stream}: client port {c['ports'][1]}, {c['packets']} packets"
              + (f", LOST SEGMENTS {c['lost']}" if c["lost"] else ""))
        if c["http"]:
            print("    http: " + "; ".join(c["http"]))
        for e in sorted(c["ext"]):
            print(f"    extensions {e}")
        msgs = {"c2s": [0, 0], "s2c": [0, 0]}  # text, binary
        conts = {"c2s": 0, "s2c": 0}
        for fr in frames:
            if fr["op"] in (1, 2):
                msgs[fr["dir"]][fr["op"] - 1] += 1
            if fr["op"] == 0:
                conts[fr["dir"]] += 1
        print(f"    messages c2s: {msgs['c2s'][0]} text + {msgs['c2s'][1]} binary;"
              f" s2c: {msgs['s2c'][0]} text + {msgs['s2c'][1]} binary;"
              f" continuation frames c2s {conts['c2s']}, s2c {conts['s2c']}")
        seq = []
        for fr in frames:
            s = f"{fr['dir']}:{OPNAMES.get(fr['op'], hex(fr['op']))}"
            if fr["fin"] is False:
                s += "(nofin)"
            if fr["rsv"]:
                s += f"(rsv={fr['rsv']})"
            if fr["mask"] is False and fr["dir"] == "c2s":
                s += "(UNMASKED)"
            if fr["op"] in (9, 10, 0) or fr["len"] and fr["len"] > 125:
                s += f"[{fr['len']}]"
            if fr["op"] == 8:
                s += f"[{fr['code']} {fr['reason']!r}]" if fr["code"] is not None else "[no code]"
            seq.append(s)
        print("    frames: " + " ".join(seq))
        closes = [fr for fr in frames if fr["op"] == 8]
        if closes:
            first_close = closes[0]
            answered = [fr for fr in closes if fr["dir"] != first_close["dir"]]
            who = "server" if first_close["dir"] == "s2c" else "client"
            print(f"    close: {who} first with {first_close['code']} {first_close['reason']!r};"
                  + (f" answered with {answered[0]['code']} {answered[0]['reason']!r}"
                     if answered else " NOT answered"))
        else:
            print("    close: no close frame")
        side = {"c2s": "client", "s2c": "server"}
        fins = [side[x] for x in c["fin"]]
        rsts = [side[x] for x in c["rst"]]
        print(f"    tcp end: FIN from {' then '.join(fins) or 'nobody'};"
              f" RST from {' then '.join(rsts) or 'nobody'}")


def main() -> int:
    for path in sys.argv[1:]:
        summarize(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
