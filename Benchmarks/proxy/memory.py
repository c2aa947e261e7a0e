#!/usr/bin/env python3
"""Resident memory of wsdoctor proxy across rounds of the same load: does it come back?

    .venv/bin/python Benchmarks/proxy/memory.py [--bin PATH] [--rounds 5] [--connections 2000]

Starts a `websockets` echo server and `wsdoctor proxy` in front of it (127.0.0.1, free
ports), then runs ROUNDS rounds of the same load: CONNECTIONS connections, CONCURRENCY
at a time, each exchanging MESSAGES echoed messages of SIZE bytes and closing. After each
round it waits until the proxy reports no open connection (and SETTLE seconds more) and
samples VmRSS from /proc/PID/status. Prints one line per round: RSS after the round, and
its growth over the start and over the previous round. A benchmark, not a test: it
never fails on a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

ROOT = Path(__file__).resolve().parents[2]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def echo(ws) -> None:
    async for message in ws:
        await ws.send(message)


async def one(port: int, size: int, messages: int) -> None:
    payload = os.urandom(size)
    async with connect(f"ws://127.0.0.1:{port}/", compression=None, max_size=None, ping_interval=None) as ws:
        for _ in range(messages):
            await ws.send(payload)
            await ws.recv()


async def round_of(port: int, connections: int, concurrency: int, size: int, messages: int) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def guarded() -> None:
        async with gate:
            await one(port, size, messages)

    await asyncio.gather(*(guarded() for _ in range(connections)))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=os.environ.get("WSDOCTOR_BIN", str(ROOT / ".build/release/wsdoctor")))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--size", type=int, default=16384)
    parser.add_argument("--messages", type=int, default=4)
    parser.add_argument("--settle", type=float, default=3.0)
    args = parser.parse_args()

    async with serve(echo, "127.0.0.1", 0, compression=None, max_size=None, ping_interval=None) as server:
        upstream = server.sockets[0].getsockname()[1]
        proxy = subprocess.Popen([args.bin, "proxy", "--listen", "127.0.0.1:0", "--upstream", f"ws://127.0.0.1:{upstream}",
                                  "--format", "json", "--admin", "127.0.0.1:0"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
        try:
            first = proxy.stdout.readline()
            port = int(first.split("127.0.0.1:")[1].split(",")[0])
            admin_line = proxy.stdout.readline()
            admin = admin_line.split("http://")[1].split(" ")[0]
            # The reports are not read by anyone: drain them so the proxy never blocks on stdout.
            loop = asyncio.get_running_loop()
            loop.run_in_executor(None, lambda: [None for _ in proxy.stdout])
            await asyncio.sleep(0.5)
            start = rss_kib(proxy.pid)
            print(f"wsdoctor {args.bin}: {args.connections} connections a round, {args.concurrency} at a time, "
                  f"{args.messages} echoes of {args.size} B each")
            print(f"{'round':>5} {'RSS KiB':>10} {'vs start':>10} {'vs previous':>12}")
            print(f"{'start':>5} {start:>10} {0:>10} {0:>12}")
            previous = start
            for index in range(1, args.rounds + 1):
                await round_of(port, args.connections, args.concurrency, args.size, args.messages)
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    metrics = await loop.run_in_executor(None, scrape, admin)
                    if "wsdoctor_connections_active 0" in metrics:
                        break
                    await asyncio.sleep(0.1)
                await asyncio.sleep(args.settle)
                now = rss_kib(proxy.pid)
                print(f"{index:>5} {now:>10} {now - start:>+10} {now - previous:>+12}")
                previous = now
        finally:
            proxy.terminate()
            proxy.wait(timeout=10)


def scrape(admin: str) -> str:
    import urllib.request
    with urllib.request.urlopen(f"http://{admin}/metrics", timeout=5) as response:
        return response.read().decode()


if __name__ == "__main__":
    asyncio.run(main())
