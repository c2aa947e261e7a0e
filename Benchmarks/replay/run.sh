#!/usr/bin/env bash
# Replay benchmark: wsdoctor against tshark, and against an older wsdoctor, on the same
# synthetic WebSocket capture, in one run.
#
#   bash Benchmarks/replay/run.sh
#
# 1. builds wsdoctor in release (the normal .build directory), and the wsdoctor of
#    OLD_COMMIT in release from its sources (git archive into .build-old/src, scratch
#    .build-old/build; both kept between runs),
# 2. generates bench-out/replay-220mb.pcap, bench-out/replay-55mb.pcap and (for callgrind)
#    bench-out/replay-5mb.pcap with generate_capture.py unless they are present and made
#    by the current generator,
# 3. checks once that each wsdoctor decodes every frame of the quarter-size capture (frame
#    count and no violations), so a fast but broken decoder cannot pass for a fast one, and
#    that --threads THREADS prints the same bytes as --threads 1,
# 4. measures, in this run, wall time and peak RSS (/usr/bin/time -v) of
#      wsdoctor replay FILE --format json --threads THREADS   > /dev/null
#      wsdoctor replay FILE --format json --threads 1         > /dev/null
#      old wsdoctor replay FILE --format json                 > /dev/null
#      tshark -r FILE -d tcp.port==PORT,http -Y websocket -T fields -e websocket.opcode > /dev/null
#    best of RUNS each (tshark: 1 run if a run takes over 2 minutes), and wsdoctor on the
#    quarter-size capture, and prints the figures side by side with the ratios,
# 5. counts the instructions (valgrind --tool=callgrind) of the new and the old wsdoctor,
#    one thread each, on the 5 MB capture: unlike wall time, repeatable on a loaded machine.
#
# Environment: SIZE_MB (default 220; the small capture is a quarter of it), RUNS (default 3),
# THREADS (default: the processors online, at least 2), OLD_COMMIT (default 915145e, the
# code before the decoder's fail-fast checks; empty skips the old wsdoctor), CALLGRIND_MB
# (default 5; 0 skips callgrind). NEW_BIN and OLD_BIN name binaries already built (release)
# to use instead of building them.
# Needs: swift, python3, git, tshark, valgrind and /usr/bin/time (installed with apt when
# missing; root or sudo).
set -euo pipefail

BENCH_NAME=replay
BUILD_TIMEOUT=3600
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
HERE="$ROOT/Benchmarks/replay"
OUT="$ROOT/bench-out"
SIZE_MB="${SIZE_MB:-220}"
RUNS="${RUNS:-3}"
THREADS="${THREADS:-$(nproc)}"
[ "$THREADS" -ge 2 ] || THREADS=2
OLD_COMMIT="${OLD_COMMIT-915145e}"
CALLGRIND_MB="${CALLGRIND_MB:-5}"
SMALL_MB="$(awk -v s="$SIZE_MB" 'BEGIN { printf "%g", s / 4 }')"
TSHARK_SLOW_SECONDS=120       # above this per run, tshark is measured once
RUN_TIMEOUT=1800              # any single measured command (callgrind is slow)
GENERATE_TIMEOUT=600

# --- tools -----------------------------------------------------------------
packages=(time tshark)
[ "$CALLGRIND_MB" = 0 ] || packages+=(valgrind)
bench_apt "${packages[@]}"
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (Debian package 'time')"
command -v tshark >/dev/null || die "tshark is missing"
command -v python3 >/dev/null || die "python3 is missing"
command -v swift >/dev/null || die "swift is missing"

# --- build -------------------------------------------------------------------
WSDOCTOR_BIN="${NEW_BIN:-${WSDOCTOR_BIN:-}}"
bench_wsdoctor
BIN="$WSDOCTOR"
NEW_COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
[ -z "$(git status --porcelain -- Sources Package.swift 2>/dev/null)" ] || NEW_COMMIT="$NEW_COMMIT with uncommitted changes"

OLD_BIN="${OLD_BIN:-}"
if [ -n "$OLD_COMMIT" ] && [ -z "$OLD_BIN" ]; then
    OLD_SRC="$ROOT/.build-old/src"
    OLD_FULL="$(git rev-parse --verify "$OLD_COMMIT^{commit}")" || die "OLD_COMMIT $OLD_COMMIT is not a commit of this repository"
    if [ "$(cat "$OLD_SRC/.commit" 2>/dev/null)" != "$OLD_FULL" ]; then
        rm -rf "$OLD_SRC"
        mkdir -p "$OLD_SRC"
        git archive "$OLD_FULL" | tar -x -C "$OLD_SRC"
        if [ -f "$ROOT/Package.resolved" ]; then cp "$ROOT/Package.resolved" "$OLD_SRC/"; fi
        echo "$OLD_FULL" >"$OLD_SRC/.commit"
    fi
    say "building wsdoctor $OLD_COMMIT (release, .build-old)..."
    if ! timeout "$BUILD_TIMEOUT" swift build -c release --product wsdoctor --package-path "$OLD_SRC" \
            --scratch-path "$ROOT/.build-old/build" >"$TMP/build-old.log" 2>&1; then
        tail -40 "$TMP/build-old.log" >&2
        die "release build of $OLD_COMMIT failed"
    fi
    OLD_BIN="$ROOT/.build-old/build/release/wsdoctor"
fi
[ -z "$OLD_BIN" ] || [ -x "$OLD_BIN" ] || die "no binary at $OLD_BIN"

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
TINY=""
[ "$CALLGRIND_MB" = 0 ] || TINY="$(capture "$CALLGRIND_MB")"
PORT="$(stat_of "$BIG" "server port")"
BIG_FRAMES="$(stat_of "$BIG" frames)"
SMALL_FRAMES="$(stat_of "$SMALL" frames)"
BIG_BYTES="$(stat -c %s "$BIG")"
SMALL_BYTES="$(stat -c %s "$SMALL")"
[ -n "$PORT" ] && [ -n "$BIG_FRAMES" ] && [ -n "$SMALL_FRAMES" ] || die "cannot read capture statistics"

# --- correctness check (not timed) ------------------------------------------------
# check_decodes NAME BINARY: every frame of the quarter-size capture, and no violation.
check_decodes() {
    "$2" replay "$SMALL" --format json >"$TMP/check.json" || die "$1 replay failed on $SMALL"
    python3 - "$TMP/check.json" "$SMALL_FRAMES" "$1" <<'EOF' || die "$1 did not decode the capture correctly; figures would be meaningless"
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
    print(f"check: {sys.argv[3]} saw {frames} frames (want {want}) and {violations} violations "
          f"in {connections} connections", file=sys.stderr)
    sys.exit(1)
EOF
}
check_decodes "wsdoctor" "$BIN"
[ -z "$OLD_BIN" ] || check_decodes "wsdoctor $OLD_COMMIT" "$OLD_BIN"
"$BIN" replay "$SMALL" --format json --threads 1 >"$TMP/one.json"
"$BIN" replay "$SMALL" --format json --threads "$THREADS" >"$TMP/many.json"
cmp -s "$TMP/one.json" "$TMP/many.json" || die "--threads $THREADS printed other bytes than --threads 1"

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
        printf '  %-30s run %d: %8.3f s  %8.1f MiB\n' "$name" "$i" "$secs" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')"
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
say "machine:  $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "tshark:   $(tshark -v 2>/dev/null | head -1)"
say "wsdoctor: $NEW_COMMIT (new)${OLD_BIN:+, $OLD_COMMIT (old)}"
say ""
say "measuring (best of $RUNS)..."
measure "wsdoctor --threads $THREADS" "$RUNS" 100000 -- "$BIN" replay "$BIG" --format json --threads "$THREADS"
W_S="$M_SECONDS"; W_RSS="$M_RSS_KB"; W_RUNS="$M_RUNS"
measure "wsdoctor --threads 1" "$RUNS" 100000 -- "$BIN" replay "$BIG" --format json --threads 1
N1_S="$M_SECONDS"; N1_RSS="$M_RSS_KB"; N1_RUNS="$M_RUNS"
if [ -n "$OLD_BIN" ]; then
    measure "wsdoctor $OLD_COMMIT" "$RUNS" 100000 -- "$OLD_BIN" replay "$BIG" --format json
    O_S="$M_SECONDS"; O_RSS="$M_RSS_KB"; O_RUNS="$M_RUNS"
fi
measure "tshark" "$RUNS" "$TSHARK_SLOW_SECONDS" -- tshark -r "$BIG" -d "tcp.port==$PORT,http" -Y websocket -T fields -e websocket.opcode
T_S="$M_SECONDS"; T_RSS="$M_RSS_KB"; T_RUNS="$M_RUNS"
measure "wsdoctor (quarter size)" "$RUNS" 100000 -- "$BIN" replay "$SMALL" --format json --threads "$THREADS"
Q_S="$M_SECONDS"; Q_RSS="$M_RSS_KB"

row() { # tool seconds rss_kb runs
    awk -v t="$1" -v s="$2" -v b="$BIG_BYTES" -v f="$BIG_FRAMES" -v k="$3" -v r="$4" -v ts="$T_S" 'BEGIN {
        printf "%-28s %9.3f %9.1f %12.0f %14.1f %9.2fx   %s\n", t, s, b / 1e6 / s, f / s, k / 1024, ts / s, r
    }'
}
say ""
say "seconds: best run; peak RSS: highest of the runs; MB = 10^6 bytes of capture file;"
say "x tshark: tshark's seconds / the tool's seconds"
printf '%-28s %9s %9s %12s %14s %10s   %s\n' "tool" "seconds" "MB/s" "frames/s" "peak RSS MiB" "x tshark" "runs"
row "wsdoctor --threads $THREADS" "$W_S" "$W_RSS" "best of $W_RUNS"
row "wsdoctor --threads 1" "$N1_S" "$N1_RSS" "best of $N1_RUNS"
[ -z "$OLD_BIN" ] || row "wsdoctor $OLD_COMMIT (old)" "$O_S" "$O_RSS" "best of $O_RUNS"
if [ "$T_RUNS" -lt "$RUNS" ]; then
    row "tshark" "$T_S" "$T_RSS" "1 run (over ${TSHARK_SLOW_SECONDS} s per run)"
else
    row "tshark" "$T_S" "$T_RSS" "best of $T_RUNS"
fi
say ""
awk -v w="$W_S" -v t="$T_S" -v wr="$W_RSS" -v tr="$T_RSS" -v n="$THREADS" 'BEGIN {
    ratio = t / w
    printf "throughput wsdoctor --threads %d / tshark: %.2fx  (aim: >= 30x, %s)\n", n, ratio, (ratio >= 30 ? "met" : "NOT met")
    printf "peak RSS   wsdoctor --threads %d / tshark: %.3fx  (%.1f MiB vs %.1f MiB)\n", n, wr / tr, wr / 1024, tr / 1024
}'
awk -v one="$N1_S" -v w="$W_S" -v n="$THREADS" -v cpus="$(nproc)" 'BEGIN {
    printf "threads:   --threads %d runs %.2fx as fast as --threads 1 (%d CPUs, shared with whatever else runs)\n", n, one / w, cpus
}'
[ -z "$OLD_BIN" ] || awk -v o="$O_S" -v one="$N1_S" -v c="$OLD_COMMIT" 'BEGIN {
    printf "old/new:   --threads 1 runs %.2fx as fast as wsdoctor %s (wall time)\n", o / one, c
}'
say ""
say "memory against capture size (wsdoctor --threads $THREADS):"
printf '  %-10s %10s %10s %14s\n' "capture" "MB" "seconds" "peak RSS MiB"
awk -v b="$SMALL_BYTES" -v s="$Q_S" -v k="$Q_RSS" 'BEGIN { printf "  %-10s %10.1f %10.3f %14.1f\n", "quarter", b / 1e6, s, k / 1024 }'
awk -v b="$BIG_BYTES" -v s="$W_S" -v k="$W_RSS" 'BEGIN { printf "  %-10s %10.1f %10.3f %14.1f\n", "full", b / 1e6, s, k / 1024 }'
awk -v q="$Q_RSS" -v f="$W_RSS" -v qb="$SMALL_BYTES" -v fb="$BIG_BYTES" 'BEGIN {
    printf "  peak RSS full/quarter: %.2fx for %.2fx the bytes (flat is about 1x)\n", f / q, fb / qb
}'

# --- instructions (callgrind) -----------------------------------------------------
# instructions BINARY [ARGS...] -> instructions executed replaying the callgrind capture.
# Valgrind cannot read the DWARF 5 debug info Swift writes, so it runs a copy without it.
instructions() {
    local bin="$1"; shift
    objcopy --strip-debug "$bin" "$TMP/callgrind-wsdoctor" || die "objcopy failed on $bin"
    timeout "$RUN_TIMEOUT" valgrind --tool=callgrind --callgrind-out-file="$TMP/callgrind.out" \
        "$TMP/callgrind-wsdoctor" replay "$TINY" --format json "$@" >/dev/null 2>"$TMP/callgrind.txt" \
        || { tail -20 "$TMP/callgrind.txt" >&2; die "callgrind failed on $bin"; }
    sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' "$TMP/callgrind.txt" | head -1
}
if [ -n "$TINY" ]; then
    TINY_FRAMES="$(stat_of "$TINY" frames)"
    say ""
    say "instructions (valgrind --tool=callgrind, one thread, $TINY, $TINY_FRAMES frames):"
    NEW_I="$(instructions "$BIN" --threads 1)"
    awk -v i="$NEW_I" -v f="$TINY_FRAMES" 'BEGIN { printf "  %-28s %15d  %8.0f per frame\n", "wsdoctor (new)", i, i / f }'
    if [ -n "$OLD_BIN" ]; then
        OLD_I="$(instructions "$OLD_BIN")"
        awk -v i="$OLD_I" -v f="$TINY_FRAMES" -v c="$OLD_COMMIT" 'BEGIN { printf "  %-28s %15d  %8.0f per frame\n", "wsdoctor " c " (old)", i, i / f }'
        awk -v n="$NEW_I" -v o="$OLD_I" 'BEGIN { printf "  new/old: %.3fx the instructions\n", n / o }'
    fi
fi
