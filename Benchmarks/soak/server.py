#!/usr/bin/env python3
"""The soak benchmark's upstream: a Python `websockets` echo server on 127.0.0.1.

    .venv/bin/python Benchmarks/soak/server.py

Prints {"port": N} once listening, echoes every message back (permessage-deflate when the
client offers it, messages up to 4 MiB), and exits on SIGTERM or when its parent (run.sh) dies.

Its opening-handshake timeout is 30 s (websockets' default is 10 s): long enough that a
slow-loris client gives up (after 15 s) or is cut by the proxy's head timeout before this
server would cut it, so the soak can tell which one acted; short enough that, as a real
server does, it closes the upstream legs that the proxy opened for clients which reset
before sending anything, so a proxy that never closes its end is seen (CLOSE-WAIT). For the
same reason it pings every 10 s and closes a connection whose pong is 10 s late: an upgraded
upstream leg whose client is gone is closed by the server within about 20 s.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import os
import signal
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

HOST = "127.0.0.1"
MAX_MESSAGE = 4 * 1024 * 1024
OPEN_TIMEOUT = 30.0
KEEPALIVE = 10.0


async def echo(ws) -> None:
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass


async def main() -> None:
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
    async with serve(echo, HOST, 0, compression="deflate", max_size=MAX_MESSAGE, open_timeout=OPEN_TIMEOUT,
                     ping_interval=KEEPALIVE, ping_timeout=KEEPALIVE, close_timeout=5, backlog=4096) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(json.dumps({"port": port}), flush=True)
        await stop


def end_with_parent() -> None:
    """SIGTERM when the parent dies, so a killed run.sh leaves no server behind (Linux prctl)."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:  # the parent died before the call
        sys.exit(0)


if __name__ == "__main__":
    # Garbage from the soak's hostile clients makes websockets log every failed handshake.
    logging.basicConfig(level=logging.CRITICAL)
    end_with_parent()
    asyncio.run(main())
