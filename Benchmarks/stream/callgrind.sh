#!/usr/bin/env bash
# Where the proxy's time goes, counted in instructions (repeatable on a loaded machine):
# `wsdoctor proxy` under valgrind's callgrind relays a fixed client->server stream, and the
# functions costing the most instructions are printed (inclusive, then self).
#
#   bash Benchmarks/stream/callgrind.sh [WSDOCTOR_BIN]
#
# Environment: KIND (binary|text, default binary), SIZE (payload bytes per frame, default 64),
# MEGABYTES (default 20), DEFLATE (1 compresses the frames, default 0), TOP (rows, default 25),
# OUT (where callgrind.out is kept, default bench-out/stream).
# Needs: valgrind (apt), the .venv from scripts/install-deps.sh, a release build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/Benchmarks/stream"
KIND="${KIND:-binary}"
SIZE="${SIZE:-64}"
MEGABYTES="${MEGABYTES:-20}"
DEFLATE="${DEFLATE:-0}"
TOP="${TOP:-25}"
OUT="${OUT:-$ROOT/bench-out/stream}"
WSDOCTOR="${1:-$ROOT/.build/release/wsdoctor}"
PYTHON="$ROOT/.venv/bin/python"

die() { printf 'callgrind: %s\n' "$*" >&2; exit 1; }
command -v valgrind >/dev/null || die "valgrind is missing (apt-get install valgrind)"
[ -x "$WSDOCTOR" ] || die "no binary at $WSDOCTOR (swift build -c release)"
mkdir -p "$OUT"
TMP="$(mktemp -d)"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

"$PYTHON" "$HERE/stream.py" serve --port-file "$TMP/server.port" >/dev/null &
PIDS+=($!)
for ((i = 0; i < 100; i++)); do [ -s "$TMP/server.port" ] && break; sleep 0.1; done
SERVER_PORT="$(cat "$TMP/server.port")"
PROXY_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

rm -f "$OUT/callgrind.out"
valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" \
    "$WSDOCTOR" proxy --listen "127.0.0.1:$PROXY_PORT" --upstream "ws://127.0.0.1:$SERVER_PORT" --format json \
    >/dev/null 2>"$TMP/valgrind.err" &
PROXY_PID=$!
PIDS+=("$PROXY_PID")
for ((i = 0; i < 600; i++)); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $PROXY_PORT), timeout=1).close()" 2>/dev/null && break
    kill -0 "$PROXY_PID" 2>/dev/null || { cat "$TMP/valgrind.err" >&2; die "wsdoctor under valgrind ended"; }
    sleep 0.2
done
# The probe connections above are reported too; the stream below dwarfs them.
FLAGS=(--kind "$KIND" --size "$SIZE" --megabytes "$MEGABYTES")
[ "$DEFLATE" = 1 ] && FLAGS+=(--deflate)
"$PYTHON" "$HERE/stream.py" send --port "$PROXY_PORT" "${FLAGS[@]}"
sleep 1
kill -INT "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null || true
grep -E "Collected" "$TMP/valgrind.err" || true
echo "--- inclusive ---"
callgrind_annotate --inclusive=yes "$OUT/callgrind.out" 2>/dev/null | sed -n '1,/^$/d; p' | head -n $((TOP + 8)) | cut -c1-200
echo "--- self ---"
callgrind_annotate "$OUT/callgrind.out" 2>/dev/null | sed -n '1,/^$/d; p' | head -n $((TOP + 8)) | cut -c1-200
