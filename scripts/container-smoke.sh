#!/usr/bin/env bash
# Smoke test of the container image (the Dockerfile at the top).
#
# With a working container engine (`docker info` or `podman info` succeeds) it builds the
# image, starts a tiny WebSocket echo server on the host (Python `websockets` from .venv/),
# runs the image with no arguments, configured only by WSDOCTOR_* variables, on the host
# network in front of that server, and checks that:
#   - /healthz answers 200 on the admin port, and the image's own HEALTHCHECK passes;
#   - a WebSocket session through it is logged as one JSON line, diagnosed `normal`.
# It prints the image's size and removes the container and the image (keeps the image
# when WSDOCTOR_SMOKE_KEEP_IMAGE=1).
#
# With no working engine it prints one line and exits 0:
#   container-smoke: skipped: no container engine (docker info failed)
#
# Linux only when it runs (it uses --network host).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { echo "container-smoke: $*"; }
fail() { echo "container-smoke: FAILED: $*" >&2; exit 1; }

engine=""
for candidate in docker podman; do
    if command -v "$candidate" >/dev/null 2>&1 && timeout 30 "$candidate" info >/dev/null 2>&1; then
        engine="$candidate"
        break
    fi
done
if [ -z "$engine" ]; then
    say "skipped: no container engine (docker info failed)"
    exit 0
fi

python=.venv/bin/python
[ -x "$python" ] || python=python3
"$python" -c 'import websockets' 2>/dev/null \
    || fail "needs Python with websockets for the upstream and client: run scripts/install-deps.sh"

tag="wsdoctor-smoke:$$"
name="wsdoctor-smoke-$$"
work="$(mktemp -d)"
upstream_pid=""

cleanup() {
    local status=$?
    if [ "$status" -ne 0 ]; then
        echo "--- container log ($name)" >&2
        "$engine" logs "$name" >&2 2>&1 || true
    fi
    "$engine" rm -f "$name" >/dev/null 2>&1 || true
    if [ "${WSDOCTOR_SMOKE_KEEP_IMAGE:-0}" != 1 ]; then
        "$engine" rmi -f "$tag" >/dev/null 2>&1 || true
    fi
    if [ -n "$upstream_pid" ]; then
        kill "$upstream_pid" 2>/dev/null || true
        wait "$upstream_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT

# --- build ----------------------------------------------------------------------------
say "building the image with $engine"
build_flags=()
# Podman writes OCI images by default, and the OCI format has no HEALTHCHECK.
[ "$engine" = podman ] && build_flags+=(--format docker)
"$engine" build "${build_flags[@]}" -t "$tag" . >"$work/build.log" 2>&1 \
    || { tail -n 50 "$work/build.log" >&2; fail "image build failed (log above)"; }
size_bytes="$("$engine" image inspect --format '{{.Size}}' "$tag")"
say "image $tag: $((size_bytes / 1000000)) MB"

# --- a tiny upstream: WebSocket echo on the host ----------------------------------------
cat >"$work/echo.py" <<'EOF'
import asyncio, websockets

async def echo(ws):
    async for message in ws:
        await ws.send(message)

async def main():
    async with websockets.serve(echo, "127.0.0.1", 0) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()

asyncio.run(main())
EOF
"$python" "$work/echo.py" >"$work/echo.port" 2>"$work/echo.err" &
upstream_pid=$!
for _ in $(seq 100); do [ -s "$work/echo.port" ] && break; sleep 0.1; done
upstream_port="$(head -n1 "$work/echo.port")"
[ -n "$upstream_port" ] || fail "the echo upstream did not start: $(cat "$work/echo.err")"

free_port() { "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
listen_port="$(free_port)"
admin_port="$(free_port)"

# --- run the image as shipped: no arguments, only WSDOCTOR_* variables ------------------
say "running it in front of ws://127.0.0.1:$upstream_port (listen $listen_port, admin $admin_port)"
"$engine" run -d --name "$name" --network host \
    --health-interval 1s --health-timeout 5s --health-retries 3 \
    -e "WSDOCTOR_LISTEN=127.0.0.1:$listen_port" \
    -e "WSDOCTOR_ADMIN=127.0.0.1:$admin_port" \
    -e "WSDOCTOR_UPSTREAM=ws://127.0.0.1:$upstream_port" \
    "$tag" >/dev/null

# /healthz from the host.
healthz() {
    "$python" -c 'import sys, urllib.request; sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=2).status == 200 else 1)' \
        "http://127.0.0.1:$admin_port/healthz" 2>/dev/null
}
ok=""
for _ in $(seq 100); do
    if healthz; then ok=1; break; fi
    [ "$("$engine" inspect --format '{{.State.Running}}' "$name")" = true ] || fail "the container exited"
    sleep 0.2
done
[ -n "$ok" ] || fail "/healthz did not answer 200 within 20 s"
say "/healthz answered 200"

# The image's own HEALTHCHECK (bash /dev/tcp inside the container).
if [ "$engine" = podman ]; then
    podman healthcheck run "$name" || fail "the image's HEALTHCHECK failed"
else
    status=""
    for _ in $(seq 60); do
        status="$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$name")"
        [ "$status" = healthy ] && break
        sleep 0.5
    done
    [ "$status" = healthy ] || fail "HEALTHCHECK status is '$status', not healthy"
fi
say "the image's HEALTHCHECK passed"

# --- one WebSocket session through it; it must be logged as a JSON line -----------------
"$python" - "ws://127.0.0.1:$listen_port/smoke" <<'EOF' || fail "the WebSocket session through the proxy failed"
import sys
from websockets.sync.client import connect
with connect(sys.argv[1], open_timeout=5) as ws:
    ws.send("hello")
    assert ws.recv(timeout=5) == "hello"
EOF

check_log='
import json, sys
for line in sys.stdin:
    try:
        o = json.loads(line)
    except ValueError:
        continue
    if o.get("type") == "connection" and (o.get("diagnosis") or {}).get("category") == "normal":
        sys.exit(0)
sys.exit(1)
'
logged=""
for _ in $(seq 50); do
    if "$engine" logs "$name" 2>/dev/null | "$python" -c "$check_log"; then logged=1; break; fi
    sleep 0.2
done
[ -n "$logged" ] || fail "no JSON connection line diagnosed 'normal' in the container's log"
say "the session was logged as a JSON line (diagnosis normal)"

# SIGTERM: wsdoctor (PID 1) stops cleanly.
"$engine" stop -t 10 "$name" >/dev/null
exit_code="$("$engine" inspect --format '{{.State.ExitCode}}' "$name")"
[ "$exit_code" = 0 ] || fail "the container exited with $exit_code after SIGTERM"
say "passed"
