#!/usr/bin/env bash
# Replay benchmark: wsdoctor against tshark on the same synthetic WebSocket capture.
#
#   bash Benchmarks/replay/run.sh
#
# 1. builds wsdoctor in release (the normal .build directory),
# 2. generates bench-out/replay-220mb.pcap and bench-out/replay-55mb.pcap with
#    generate_capture.py unless they are present and made by the current generator,
# 3. checks once that wsdoctor decodes every frame of the small capture (frame count and
#    no violations), so a fast but broken decoder cannot pass for a fast one,
# 4. measures, in this run, wall time and peak RSS (/usr/bin/time -v) of
#      wsdoctor replay FILE --format json > /dev/null
#      tshark -r FILE -d tcp.port==PORT,http -Y websocket -T fields -e websocket.opcode > /dev/null
#    best of 3 each (tshark: 1 run if a run takes over 2 minutes), and wsdoctor on the
#    quarter-size capture, and prints the figures side by side with the ratios.
#
# Environment: SIZE_MB (default 220; the small capture is a quarter of it), RUNS (default 3).
# Needs: swift, python3, tshark and /usr/bin/time (installed with apt when missing; root or sudo).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/Benchmarks/replay"
OUT="$ROOT/bench-out"
SIZE_MB="${SIZE_MB:-220}"
RUNS="${RUNS:-3}"
SMALL_MB="$(awk -v s="$SIZE_MB" 'BEGIN { printf "%g", s / 4 }')"
TSHARK_SLOW_SECONDS=120       # above this per run, tshark is measured once
BUILD_TIMEOUT=1800
RUN_TIMEOUT=900               # any single measured command
GENERATE_TIMEOUT=600

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$ROOT"

say() { printf '%s\n' "$*"; }
die() { printf 'replay benchmark: %s\n' "$*" >&2; exit 1; }

# --- tools -----------------------------------------------------------------
ROOT_CMD=()
[ "$(id -u)" -eq 0 ] || ROOT_CMD=(sudo -n)
missing=()
dpkg -s time 2>/dev/null | grep -q '^Status: install ok installed$' || missing+=(time)
dpkg -s tshark 2>/dev/null | grep -q '^Status: install ok installed$' || missing+=(tshark)
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing apt packages: ${missing[*]}"
    echo 'wireshark-common wireshark-common/install-setuid boolean false' | "${ROOT_CMD[@]}" debconf-set-selections
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 "${ROOT_CMD[@]}" apt-get update >"$TMP/apt.log" 2>&1 || { cat "$TMP/apt.log" >&2; die "apt-get update failed"; }
    timeout 900 "${ROOT_CMD[@]}" apt-get install -y --no-install-recommends "${missing[@]}" </dev/null >"$TMP/apt.log" 2>&1 \
        || { cat "$TMP/apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
fi
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (Debian package 'time')"
command -v tshark >/dev/null || die "tshark is missing"
command -v python3 >/dev/null || die "python3 is missing"
command -v swift >/dev/null || die "swift is missing"

# --- build -------------------------------------------------------------------
say "building wsdoctor (release)..."
if ! timeout "$BUILD_TIMEOUT" swift build -c release --product wsdoctor >"$TMP/build.log" 2>&1; then
    tail -40 "$TMP/build.log" >&2
    die "release build failed"
fi
BIN="$(swift build -c release --show-bin-path)/wsdoctor"
[ -x "$BIN" ] || die "no binary at $BIN"

# --- captures ----------------------------------------------------------------
mkdir -p "$OUT"
GEN_HASH="$(sha256sum "$HERE/generate_capture.py" | cut -c1-16)"

# capture SIZE_MB -> path; (re)generates when missing or made by another generator version.
capture() {
    local mb="$1" path="$OUT/replay-${1}mb.pcap"
    local stats="$path.stats"
    if [ -f "$path" ] && [ -f "$stats" ] && grep -qx "generator: $GEN_HASH" "$stats"; then
        :
    else
        rm -f "$path" "$stats"
        say "generating $path ($mb MB)..." >&2
        timeout "$GENERATE_TIMEOUT" python3 "$HERE/generate_capture.py" --size-mb "$mb" --out "$path" >"$TMP/gen.out" \
            || die "generate_capture.py failed"
        sed 's/^/  /' "$TMP/gen.out" >&2
        { echo "generator: $GEN_HASH"; cat "$TMP/gen.out"; } >"$stats"
    fi
    echo "$path"
}
stat_of() { sed -n "s/^$2: \([0-9]*\).*/\1/p" "$1.stats" | head -1; }

BIG="$(capture "$SIZE_MB")"
SMALL="$(capture "$SMALL_MB")"
PORT="$(stat_of "$BIG" "server port")"
BIG_FRAMES="$(stat_of "$BIG" frames)"
SMALL_FRAMES="$(stat_of "$SMALL" frames)"
BIG_BYTES="$(stat -c %s "$BIG")"
SMALL_BYTES="$(stat -c %s "$SMALL")"
[ -n "$PORT" ] && [ -n "$BIG_FRAMES" ] && [ -n "$SMALL_FRAMES" ] || die "cannot read capture statistics"

# --- correctness check (not timed) ------------------------------------------------
"$BIN" replay "$SMALL" --format json >"$TMP/check.json" || die "wsdoctor replay failed on $SMALL"
python3 - "$TMP/check.json" "$SMALL_FRAMES" <<'EOF' || die "wsdoctor did not decode the capture correctly; figures would be meaningless"
import json, sys
frames = violations = connections = 0
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o.get("type") != "connection":
        continue
    connections += 1
    frames += sum(o["traffic"][side]["frames"] for side in ("client", "server"))
    violations += len(o["violations"])
want = int(sys.argv[2])
if frames != want or violations:
    print(f"check: wsdoctor saw {frames} frames (want {want}) and {violations} violations "
          f"in {connections} connections", file=sys.stderr)
    sys.exit(1)
EOF

# --- measuring ------------------------------------------------------------------
# measure NAME RUNS SLOW_SECONDS -- command...   (stdout of the command goes to /dev/null)
# Sets M_SECONDS (best wall time), M_RSS_KB (highest peak RSS over the runs), M_RUNS.
measure() {
    local name="$1" runs="$2" slow="$3"; shift 4
    local i start end secs rss best="" maxrss=0 done_runs=0
    for ((i = 1; i <= runs; i++)); do
        start="$(date +%s%N)"
        if ! timeout "$RUN_TIMEOUT" /usr/bin/time -v -o "$TMP/time.txt" "$@" >/dev/null 2>"$TMP/stderr.txt"; then
            tail -20 "$TMP/stderr.txt" >&2
            die "$name failed or timed out: $*"
        fi
        end="$(date +%s%N)"
        secs="$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')"
        rss="$(sed -n 's/.*Maximum resident set size (kbytes): *\([0-9]*\).*/\1/p' "$TMP/time.txt")"
        [ -n "$rss" ] || die "no peak RSS from /usr/bin/time for $name"
        printf '  %-26s run %d: %8.3f s  %8.1f MiB\n' "$name" "$i" "$secs" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')"
        done_runs=$i
        if [ -z "$best" ] || awk -v a="$secs" -v b="$best" 'BEGIN { exit !(a < b) }'; then best="$secs"; fi
        [ "$rss" -gt "$maxrss" ] && maxrss="$rss"
        if awk -v a="$secs" -v s="$slow" 'BEGIN { exit !(a > s) }'; then break; fi
    done
    M_SECONDS="$best"; M_RSS_KB="$maxrss"; M_RUNS="$done_runs"
}

say ""
say "capture:  $BIG ($(awk -v b="$BIG_BYTES" 'BEGIN { printf "%.1f", b / 1e6 }') MB, $BIG_FRAMES WebSocket frames, server port $PORT)"
say "quarter:  $SMALL ($(awk -v b="$SMALL_BYTES" 'BEGIN { printf "%.1f", b / 1e6 }') MB, $SMALL_FRAMES frames)"
say "machine:  $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
say "tshark:   $(tshark -v 2>/dev/null | head -1)"
say ""
say "measuring (best of $RUNS)..."
measure "wsdoctor" "$RUNS" 100000 -- "$BIN" replay "$BIG" --format json
W_S="$M_SECONDS"; W_RSS="$M_RSS_KB"; W_RUNS="$M_RUNS"
measure "tshark" "$RUNS" "$TSHARK_SLOW_SECONDS" -- tshark -r "$BIG" -d "tcp.port==$PORT,http" -Y websocket -T fields -e websocket.opcode
T_S="$M_SECONDS"; T_RSS="$M_RSS_KB"; T_RUNS="$M_RUNS"
measure "wsdoctor (quarter size)" "$RUNS" 100000 -- "$BIN" replay "$SMALL" --format json
Q_S="$M_SECONDS"; Q_RSS="$M_RSS_KB"

row() { # tool seconds bytes frames rss_kb runs
    awk -v t="$1" -v s="$2" -v b="$3" -v f="$4" -v k="$5" -v r="$6" 'BEGIN {
        printf "%-24s %9.3f %9.1f %12.0f %14.1f   %s\n", t, s, b / 1e6 / s, f / s, k / 1024, r
    }'
}
say ""
say "seconds: best run; peak RSS: highest of the runs; MB = 10^6 bytes of capture file"
printf '%-24s %9s %9s %12s %14s   %s\n' "tool" "seconds" "MB/s" "frames/s" "peak RSS MiB" "runs"
row "wsdoctor" "$W_S" "$BIG_BYTES" "$BIG_FRAMES" "$W_RSS" "best of $W_RUNS"
if [ "$T_RUNS" -lt "$RUNS" ]; then
    row "tshark" "$T_S" "$BIG_BYTES" "$BIG_FRAMES" "$T_RSS" "1 run (over ${TSHARK_SLOW_SECONDS} s per run)"
else
    row "tshark" "$T_S" "$BIG_BYTES" "$BIG_FRAMES" "$T_RSS" "best of $T_RUNS"
fi
say ""
awk -v w="$W_S" -v t="$T_S" -v wr="$W_RSS" -v tr="$T_RSS" 'BEGIN {
    ratio = t / w
    printf "throughput wsdoctor/tshark: %.2fx  (aim: >= 10x, %s)\n", ratio, (ratio >= 10 ? "met" : "NOT met")
    printf "peak RSS   wsdoctor/tshark: %.3fx  (%.1f MiB vs %.1f MiB)\n", wr / tr, wr / 1024, tr / 1024
}'
say ""
say "memory against capture size (wsdoctor):"
printf '  %-10s %10s %10s %14s\n' "capture" "MB" "seconds" "peak RSS MiB"
awk -v b="$SMALL_BYTES" -v s="$Q_S" -v k="$Q_RSS" 'BEGIN { printf "  %-10s %10.1f %10.3f %14.1f\n", "quarter", b / 1e6, s, k / 1024 }'
awk -v b="$BIG_BYTES" -v s="$W_S" -v k="$W_RSS" 'BEGIN { printf "  %-10s %10.1f %10.3f %14.1f\n", "full", b / 1e6, s, k / 1024 }'
awk -v q="$Q_RSS" -v f="$W_RSS" -v qb="$SMALL_BYTES" -v fb="$BIG_BYTES" 'BEGIN {
    printf "  peak RSS full/quarter: %.2fx for %.2fx the bytes (flat is about 1x)\n", f / q, fb / qb
}'
