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

BENCH_NAME=stream
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
HERE="$ROOT/Benchmarks/stream"
DURATION="${DURATION:-2}"
WARMUP="${WARMUP:-0.5}"
ROUNDS="${ROUNDS:-1}"
ONLY="${ONLY:-}"

bench_deps socat
bench_wsdoctor

say "socat:    $(socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/\1/p' | head -1)"
"$PYTHON" "$HERE/stream.py" run --wsdoctor "$WSDOCTOR" --tmp "$TMP" --duration "$DURATION" --warmup "$WARMUP" \
    --rounds "$ROUNDS" --only "$ONLY"
