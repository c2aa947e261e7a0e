#!/usr/bin/env bash
# HTML report benchmark: a report of 10,000 connections and about a million frames,
# loaded by headless Chromium with the network closed.
#
#   bash Benchmarks/html-report/run.sh
#
# 1. builds wsdoctor in release,
# 2. generates bench-out/html-report.pcap with Benchmarks/replay/generate_capture.py
#    (CONNECTIONS connections, SIZE_MB MB) unless present,
# 3. times `wsdoctor replay --html` on it and prints the report's size,
# 4. loads the report in headless Chromium (RUNS times) and prints the milliseconds from
#    navigation until the page answered input (the page's data-ready-ms), best and worst,
#    and the same for one connection's page (#c1).
#
# Environment: CONNECTIONS (default 10000), SIZE_MB (default 90), RUNS (default 3),
# WSDOCTOR (a wsdoctor binary to use instead of building one; the page's figures do not
# depend on how it was built).
set -euo pipefail

BENCH_NAME=html-report
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
OUT="$ROOT/bench-out"
CONNECTIONS="${CONNECTIONS:-10000}"
SIZE_MB="${SIZE_MB:-90}"
RUNS="${RUNS:-3}"
CAPTURE="$OUT/html-report-$CONNECTIONS-$SIZE_MB.pcap"
REPORT="$OUT/html-report.html"
mkdir -p "$OUT"

bench_deps chromium
WSDOCTOR_BIN="${WSDOCTOR_BIN:-${WSDOCTOR:-}}"
bench_wsdoctor
BIN="$WSDOCTOR"
[ -s "$CAPTURE" ] || python3 Benchmarks/replay/generate_capture.py --connections "$CONNECTIONS" --size-mb "$SIZE_MB" --out "$CAPTURE" | tail -4

start=$(date +%s.%N)
"$BIN" replay --format json --html "$REPORT" "$CAPTURE" > /dev/null
end=$(date +%s.%N)
frames=$(grep -o '"frames":[0-9]*' "$REPORT" | awk -F: '{ s += $2 } END { print s }')
printf 'replay --html: %.1f s; report %s bytes for %s connections, %s frames\n' "$(echo "$end - $start" | bc)" \
    "$(stat -c %s "$REPORT")" "$(grep -o '"inCapture":' "$REPORT" | wc -l)" "$frames"

load() {
    local url="$1" ms=()
    for _ in $(seq "$RUNS"); do
        rm -rf "$TMP/profile"
        timeout 300 chromium --headless --disable-gpu --no-sandbox --no-first-run --disable-background-networking \
            --proxy-server=127.0.0.1:9 --host-resolver-rules="MAP * ~NOTFOUND" --user-data-dir="$TMP/profile" \
            --window-size=1280,900 --virtual-time-budget=10000 --dump-dom "$url" 2>/dev/null > "$TMP/dom"
        ms+=("$(grep -o 'data-ready-ms="[0-9]*"' "$TMP/dom" | grep -o '[0-9]*')")
    done
    printf '%s\n' "${ms[@]}" | sort -n | awk -v what="$2" 'NR == 1 { b = $1 } { w = $1 } END { printf "%s interactive after: best %d ms, worst %d ms\n", what, b, w }'
}
load "file://$REPORT" "overview"
load "file://$REPORT#c1" "connection page"
