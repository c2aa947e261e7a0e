#!/usr/bin/env python3
"""The idle-connection benchmark's driver (started by Benchmarks/idle/run.sh).

Holds N idle WebSocket connections (upgraded, then silent) through `wsdoctor proxy` and
through nginx configured as a WebSocket reverse proxy, one after the other in the same run,
and prints each proxy's resident memory (VmRSS) before, while held and after they closed,
with KiB per connection. Upstream is `idle.py serve`: one selector loop that answers every
upgrade and then only reads. Everything is on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import selectors
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "stream"))
from stream import free_port, status_kib, wait_listening  # noqa: E402  (the streaming benchmark's helpers)

HOST = "127.0.0.1"
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
KEY = base64.b64encode(b"wsdoctor-idle!!!").decode()
ACCEPT = base64.b64encode(hashlib.sha1((KEY + GUID).encode()).digest()).decode()
STEP = 60.0                      # bound on opening one batch, and on a proxy starting or settling
BATCH = 200                      # connections opened at once
CLOSING = 600.0                  # bound on the proxy closing every leg (a debug build on a loaded machine takes minutes)


def serve(port_file: str) -> None:
    """Answers every upgrade with 101, then reads and discards until the peer closes."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, 0))
    listener.listen(1024)
    listener.setblocking(False)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(listener.getsockname()[1]))
    os.rename(port_file + ".tmp", port_file)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, None)
    heads: dict[socket.socket, bytes] = {}
    answer = (f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Accept: {ACCEPT}\r\n\r\n").encode()
    while True:
        for key, _ in selector.select():
            if key.fileobj is listener:
                try:
                    while True:
                        sock, _ = listener.accept()
                        sock.setblocking(False)
                        heads[sock] = b""
                        selector.register(sock, selectors.EVENT_READ, None)
                except BlockingIOError:
                    pass
                continue
            sock = key.fileobj
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                selector.unregister(sock)
                heads.pop(sock, None)
                sock.close()
                continue
            if sock in heads:
                heads[sock] += data
                if b"\r\n\r\n" in heads[sock]:
                    del heads[sock]
                    sock.send(answer)      # 129 bytes into an empty socket buffer


def open_idle(port: int, count: int) -> list[socket.socket]:
    """`count` upgraded connections to `port`, opened BATCH at a time."""
    request = (f"GET /idle HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
    held: list[socket.socket] = []
    while len(held) < count:
        batch = []
        for _ in range(min(BATCH, count - len(held))):
            sock = socket.create_connection((HOST, port), timeout=STEP)
            sock.sendall(request)
            batch.append(sock)
        for sock in batch:
            head = b""
            while b"\r\n\r\n" not in head:
                piece = sock.recv(4096)
                if not piece:
                    raise SystemExit(f"idle benchmark: connection {len(held)} closed during the upgrade")
                head += piece
            if not head.startswith(b"HTTP/1.1 101"):
                raise SystemExit(f"idle benchmark: upgrade {len(held)} refused: {head[:60]!r}")
            held.append(sock)
    return held


def nginx_config(tmp: str, port: int, upstream: int, connections: int) -> str:
    path = os.path.join(tmp, "nginx.conf")
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = os.path.join(tmp, "nginx-temp")
    os.makedirs(temp, exist_ok=True)
    with open(path, "w") as f:
        f.write(f"""{user}worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
worker_rlimit_nofile {connections * 2 + 2200};
events {{ worker_connections {connections * 2 + 2000}; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body; proxy_temp_path {temp}/proxy; fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi; scgi_temp_path {temp}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen {HOST}:{port};
        location / {{
            proxy_pass http://{HOST}:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 3600s;
        }}
    }}
}}
""")
    return path


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def measure(name: str, process: subprocess.Popen, memory_pid, port: int, count: int, hold: float) -> dict:
    time.sleep(1)
    pid = memory_pid()
    before = status_kib(pid, "VmRSS")
    baseline_fds = descriptor_count(pid)
    began = time.monotonic()
    held = open_idle(port, count)
    opened = time.monotonic() - began
    time.sleep(hold)
    during = status_kib(pid, "VmRSS")
    descriptors = descriptor_count(pid)
    for sock in held:
        sock.close()
    closed_at = time.monotonic()
    # "After" is measured once the proxy has closed every leg itself (its descriptors are
    # back to the start), not at a fixed time: closing thousands takes a loaded machine seconds.
    while descriptor_count(pid) > baseline_fds and time.monotonic() - closed_at < CLOSING:
        time.sleep(0.1)
    closing = time.monotonic() - closed_at
    left = descriptor_count(pid) - baseline_fds
    time.sleep(3)                # wsdoctor gives memory back within a second of becoming idle
    after = status_kib(pid, "VmRSS")
    if process.poll() is not None:
        raise SystemExit(f"idle benchmark: {name} ended (status {process.returncode})")
    print(f"  {name}: {count} connections opened in {opened:.1f} s, all closed by the proxy {closing:.1f} s after the "
          f"clients closed{f' ({left} descriptors still open)' if left > 0 else ''}; VmRSS before {before} KiB, "
          f"held {during} KiB, after {after} KiB", flush=True)
    return {"before": before, "held": during, "after": after, "fds": descriptors, "pid": pid}


def descriptor_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port-file", required=True)
    r = sub.add_parser("run")
    r.add_argument("--wsdoctor", required=True)
    r.add_argument("--tmp", required=True)
    r.add_argument("--connections", type=int, default=9900)
    r.add_argument("--hold", type=float, default=3.0)
    r.add_argument("--skip-nginx", action="store_true")
    r.add_argument("--skip-wsdoctor", action="store_true")
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.port_file)
        return

    processes: list[subprocess.Popen] = []

    def start_upstream(name: str) -> int:
        """A fresh upstream for each proxy: none of the last one's connections still held."""
        port_file = os.path.join(args.tmp, f"server-{name}.port")
        server = subprocess.Popen([sys.executable, os.path.abspath(__file__), "serve", "--port-file", port_file])
        processes.append(server)
        deadline = time.monotonic() + STEP
        while not os.path.exists(port_file):
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("idle benchmark: the upstream server did not start")
            time.sleep(0.05)
        with open(port_file) as f:
            return int(f.read())

    try:
        results = {}

        port = free_port()
        upstream = 0 if args.skip_wsdoctor else start_upstream("wsdoctor")
        proxy = None if args.skip_wsdoctor else subprocess.Popen([args.wsdoctor, "proxy", "--listen", f"{HOST}:{port}", "--upstream", f"ws://{HOST}:{upstream}",
                                  "--format", "json"], stdout=subprocess.DEVNULL,
                                 stderr=open(os.path.join(args.tmp, "wsdoctor.err"), "w"))
        if proxy is not None:
            processes.append(proxy)
            wait_listening(port, proxy, "wsdoctor proxy")
            results["wsdoctor"] = measure("wsdoctor", proxy, lambda: proxy.pid, port, args.connections, args.hold)
            proxy.kill()           # measured; its reports of the closed connections are not wanted
            proxy.wait(timeout=30)

        if not args.skip_nginx:
            port = free_port()
            upstream = start_upstream("nginx")
            config = nginx_config(args.tmp, port, upstream, args.connections)
            nginx = subprocess.Popen(["nginx", "-c", config, "-p", args.tmp], stderr=open(os.path.join(args.tmp, "nginx.err"), "w"))
            processes.append(nginx)
            wait_listening(port, nginx, "nginx")

            def worker() -> int:
                found = children(nginx.pid)
                if not found:
                    raise SystemExit("idle benchmark: nginx has no worker process")
                return found[0]
            try:
                results["nginx"] = measure("nginx", nginx, worker, port, args.connections, args.hold)
            except (OSError, SystemExit):
                with open(os.path.join(args.tmp, "nginx-error.log")) as f:
                    sys.stderr.write("nginx's error log ends:\n" + "".join(f.readlines()[-5:]))
                raise
            nginx.terminate()
            nginx.wait(timeout=30)

        print()
        print(f"resident memory (VmRSS), KiB: before = the proxy started, no connection; held = {args.connections} idle "
              "WebSocket connections open; after = all closed again (3 s after the proxy closed the last one)")
        print(f"  {'':<44} {'before':>9} {'held':>9} {'after':>9} {'KiB/conn':>9} {'after-before':>13}")
        for name, r in results.items():
            label = "wsdoctor (1 process)" if name == "wsdoctor" else "nginx 1 worker (master not counted)"
            label += f", {r['fds']} fds"
            print(f"  {label:<44} {r['before']:9d} {r['held']:9d} {r['after']:9d} "
                  f"{(r['held'] - r['before']) / args.connections:9.1f} {r['after'] - r['before']:+13d}")
        if "nginx" in results and "wsdoctor" in results:
            w, n = results["wsdoctor"], results["nginx"]
            ratio = ((w["held"] - w["before"]) / (n["held"] - n["before"])) if n["held"] > n["before"] else float("nan")
            print(f"wsdoctor/nginx per idle connection: {ratio:.2f}x")
        print("(kernel memory, socket buffers above all, is in neither figure)")
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
