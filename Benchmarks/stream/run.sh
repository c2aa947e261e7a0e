#!/usr/bin/env bash
# Streaming benchmark: one-way (then two-way) streams of pre-built frames, directly, through
# `socat -b 262144` and through `wsdoctor proxy`, in one run.
#
#   bash Benchmarks/stream/run.sh
#
# 1. builds wsdoctor in release (the normal .build directory),
# 2. runs Benchmarks/stream/stream.py (the .venv's Python), which starts on 127.0.0.1
#      stream.py serve                                     (answers each upgrade, then sends/counts)
#      socat -b 262144 TCP-LISTEN:P,fork,... TCP:SERVER    (plain TCP relay, 256 KiB buffers)
#      wsdoctor proxy --upstream ws://SERVER --format json > /dev/null
#    and for every cell makes one real WebSocket connection (handshake, permessage-deflate
#    with no context takeover when the cell compresses), sends pre-built frames as fast as
#    loopback takes them and counts the bytes at the other end:
#      directions: client->server (masked), server->client, both at once;
#      frames: binary 64 B, 1 KiB, 64 KiB; text 1 KiB (valid UTF-8, so the decoder checks it);
#      each without and with permessage-deflate (compressed with zlib raw deflate beforehand);
#      paths: direct, socat, wsdoctor, one after the other,
# 3. prints MB/s (wire bytes) and frames/s per path, the ratio wsdoctor/socat, the relay's CPU
#    time per GB relayed (/proc/PID/stat) and wsdoctor's peak RSS (VmHWM).
#
# Environment: DURATION (s measured per cell, default 2), WARMUP (s before it, default 0.5),
# ROUNDS (best of, default 1), ONLY (run only the cells whose label contains it, e.g.
# "client->server binary 64 B"), WSDOCTOR_BIN (a wsdoctor binary to measure instead of building
# the work tree's).
# Needs: swift, socat (apt), the .venv from scripts/install-deps.sh (made when missing).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/Benchmarks/stream"
DURATION="${DURATION:-2}"
WARMUP="${WARMUP:-0.5}"
ROUNDS="${ROUNDS:-1}"
ONLY="${ONLY:-}"
BUILD_TIMEOUT=1800

say() { printf '%s\n' "$*"; }
die() { printf 'stream benchmark: %s\n' "$*" >&2; exit 1; }

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$ROOT"

# --- tools ------------------------------------------------------------------------
PYTHON="$ROOT/.venv/bin/python"
if [ ! -x "$PYTHON" ] || ! command -v socat >/dev/null; then
    say "setting up (scripts/install-deps.sh: .venv, socat)..."
    bash "$ROOT/scripts/install-deps.sh" >&2 || die "scripts/install-deps.sh failed"
fi
command -v socat >/dev/null || die "socat is missing"

# --- build ---------------------------------------------------------------------------
if [ -n "${WSDOCTOR_BIN:-}" ]; then
    WSDOCTOR="$WSDOCTOR_BIN"
    say "measuring the wsdoctor given in WSDOCTOR_BIN (not built here)"
else
    command -v swift >/dev/null || die "swift is missing"
    say "building wsdoctor (release)..."
    timeout "$BUILD_TIMEOUT" swift build -c release --product wsdoctor >"$TMP/build.log" 2>&1 \
        || { tail -40 "$TMP/build.log" >&2; die "release build failed"; }
    WSDOCTOR="$(swift build -c release --show-bin-path)/wsdoctor"
fi
[ -x "$WSDOCTOR" ] || die "no binary at $WSDOCTOR"

say "socat:    $(socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/\1/p' | head -1)"
"$PYTHON" "$HERE/stream.py" run --wsdoctor "$WSDOCTOR" --tmp "$TMP" --duration "$DURATION" --warmup "$WARMUP" \
    --rounds "$ROUNDS" --only "$ONLY"
