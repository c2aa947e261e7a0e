#!/usr/bin/env bash
# Soak benchmark: hostile and well-behaved clients through `wsdoctor proxy` for minutes, and
# whether the proxy comes back to where it started.
#
#   bash Benchmarks/soak/run.sh [--duration SECONDS] [--rounds N]
#
# 1. builds wsdoctor in release (the normal .build directory),
# 2. starts, on 127.0.0.1 (ports chosen by the kernel):
#      Benchmarks/soak/server.py        (Python `websockets` echo server, permessage-deflate)
#      wsdoctor proxy --upstream ws://SERVER --format json --admin 127.0.0.1:0 > reports.jsonl
#    with --head-timeout, --upgrade-timeout and --max-connections when this build has them
#    (found in `wsdoctor proxy --help`),
# 3. runs Benchmarks/soak/driver.py: DURATION seconds of load in ROUNDS rounds of the same mix
#      clients that come and go (HOLDERS at once, 3-20 s each, some with permessage-deflate),
#      normal sessions (small messages, 1 MiB ones, 1 MiB compressed ones), a flood of 200
#      upgrades at once every 15 s, 200 slow-loris heads (a byte every 0.5 s) every 30 s,
#      60 RST-before-upstream clients every 5 s (a few bytes, a partial head, a full GET,
#      then SO_LINGER 0), 10 garbage clients every 5 s (random bytes instead of HTTP, and
#      random bytes after a successful upgrade);
#    every INTERVAL seconds it prints the proxy's descriptors, CLOSE-WAIT sockets, RSS,
#    wsdoctor_connections_active against the connections the driver holds, connections made
#    and reports written; each round ends with a quiesce and an RSS reading,
# 4. quiesces (QUIESCE seconds at most) and prints the verdict.
#
# Environment: DURATION (s of load, default 600; --duration wins), ROUNDS (default: one a
# minute, at most 10, at least 3 when they can be 20 s long; --rounds wins), INTERVAL (s
# between samples, default 10), QUIESCE (s, default 30), RSS_TOLERANCE_PERCENT and
# RSS_TOLERANCE_MIB (how far a later round's RSS may exceed the first round's: 10 % of it,
# or 8 MiB when that is more), HOLDERS (default 2000),
# HEAD_TIMEOUT (s, passed as --head-timeout when the build has it, default 5), WSDOCTOR_BIN
# (a wsdoctor binary to soak instead of building the work tree's). The proxy's reports are
# kept in bench-out/soak/reports.jsonl. Exit status: 0 all checks passed, 1 one failed,
# 2 the soak could not run.
# Needs: swift, python3 (.venv from scripts/install-deps.sh, made when missing).
set -euo pipefail

BENCH_NAME=soak
BENCH_EXIT_STATUS=2
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
HERE="$ROOT/Benchmarks/soak"
OUT="$ROOT/bench-out/soak"
DURATION="${DURATION:-600}"
ROUNDS="${ROUNDS:-}"
INTERVAL="${INTERVAL:-10}"
QUIESCE="${QUIESCE:-30}"
RSS_TOLERANCE_MIB="${RSS_TOLERANCE_MIB:-8}"
RSS_TOLERANCE_PERCENT="${RSS_TOLERANCE_PERCENT:-10}"
HOLDERS="${HOLDERS:-2000}"
HEAD_TIMEOUT="${HEAD_TIMEOUT:-5}"
UPGRADE_TIMEOUT=30
MAX_CONNECTIONS=15000

while [ $# -gt 0 ]; do
    case "$1" in
        --duration) [ $# -ge 2 ] || die "--duration needs SECONDS"; DURATION="$2"; shift 2 ;;
        --rounds) [ $# -ge 2 ] || die "--rounds needs N"; ROUNDS="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
[[ "$DURATION" =~ ^[0-9]+$ ]] && [ "$DURATION" -ge 20 ] || die "--duration must be whole seconds, at least 20 (got $DURATION)"
if [ -z "$ROUNDS" ]; then # one a minute, at most 10; at least 3 when they can be 20 s long
    per_minute=$(( DURATION / 60 > 10 ? 10 : DURATION / 60 ))
    short=$(( DURATION / 20 > 3 ? 3 : DURATION / 20 ))
    ROUNDS=$(( per_minute > short ? per_minute : short ))
fi
[[ "$ROUNDS" =~ ^[0-9]+$ ]] && [ "$ROUNDS" -ge 1 ] || die "--rounds must be a whole number, at least 1 (got $ROUNDS)"
# A round runs each kind of client at least once (a slow-loris wave takes 18 s).
[ $(( DURATION / ROUNDS )) -ge 20 ] || die "rounds must be 20 s or longer: --duration $DURATION in $ROUNDS rounds"

# --- tools ------------------------------------------------------------------------
bench_deps

# Descriptors: the proxy holds two per connection, the driver and the server one each.
# The soft limit is raised for this script and what it starts; a few thousand connections
# need about 3 x HOLDERS, plus room for what a leaking proxy keeps.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE="$(ulimit -n)"
if [ "$NOFILE" != unlimited ] && [ $(( HOLDERS * 3 + 3000 )) -gt "$NOFILE" ]; then
    HOLDERS=$(( (NOFILE - 3000) / 3 ))
    [ "$HOLDERS" -ge 100 ] || die "the open-files limit here ($NOFILE, hard $(ulimit -Hn)) is too low for a soak"
    say "HOLDERS lowered to $HOLDERS: the open-files limit here is $NOFILE"
fi

# --- build ---------------------------------------------------------------------------
bench_wsdoctor

# --- processes ---------------------------------------------------------------------------
"$PYTHON" "$HERE/server.py" >"$TMP/server.out" 2>"$TMP/server.err" &
SERVER_PID=$!
STARTED+=("$SERVER_PID")
for ((i = 0; i < 100; i++)); do
    grep -qs '"port"' "$TMP/server.out" && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.err" >&2; die "the echo server exited at start"; }
    sleep 0.1
done
SERVER_PORT="$(sed -n 's/.*"port": *\([0-9]*\).*/\1/p' "$TMP/server.out")"
[ -n "$SERVER_PORT" ] || die "the echo server did not say its port"

# The limits the proxy has in this build, each set so that only the slow-loris heads hit one.
HELP="$("$WSDOCTOR" proxy --help 2>&1)"
LIMITS=()
DRIVER_LIMITS=()
if grep -q -- '--head-timeout' <<<"$HELP"; then
    LIMITS+=(--head-timeout "$HEAD_TIMEOUT")
    DRIVER_LIMITS+=(--head-timeout "$HEAD_TIMEOUT")
fi
grep -q -- '--upgrade-timeout' <<<"$HELP" && LIMITS+=(--upgrade-timeout "$UPGRADE_TIMEOUT")
grep -q -- '--max-connections' <<<"$HELP" && LIMITS+=(--max-connections "$MAX_CONNECTIONS")

# Port 0 for both: the proxy says the ports it bound in its first notices.
mkdir -p "$OUT"
REPORTS="$OUT/reports.jsonl"
: >"$REPORTS"   # before the proxy's shell opens it: the loop below reads it at once
"$WSDOCTOR" proxy --listen 127.0.0.1:0 --upstream "ws://127.0.0.1:$SERVER_PORT" --format json \
    --admin 127.0.0.1:0 "${LIMITS[@]}" >"$REPORTS" 2>"$TMP/proxy.err" &
PROXY_PID=$!
STARTED+=("$PROXY_PID")
PROXY_PORT=""; ADMIN_PORT=""
for ((i = 0; i < 100; i++)); do
    PROXY_PORT="$(sed -n 's/.*"wsdoctor proxy listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$REPORTS")"
    ADMIN_PORT="$(sed -n 's/.*"admin endpoint on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$REPORTS")"
    [ -n "$PROXY_PORT" ] && [ -n "$ADMIN_PORT" ] && break
    kill -0 "$PROXY_PID" 2>/dev/null || { cat "$TMP/proxy.err" >&2; die "the proxy exited at start"; }
    sleep 0.1
done
[ -n "$PROXY_PORT" ] && [ -n "$ADMIN_PORT" ] || die "the proxy did not say where it listens: $(head -c 400 "$REPORTS")"

say ""
say "machine:  $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); open files $NOFILE"
say "wsdoctor: $WSDOCTOR (pid $PROXY_PID) on 127.0.0.1:$PROXY_PORT, admin 127.0.0.1:$ADMIN_PORT"
say "          limits: ${LIMITS[*]:-none in this build (no --head-timeout, --upgrade-timeout, --max-connections)}"
say "upstream: websockets $("$PYTHON" -c 'import websockets; print(websockets.__version__)') echo server on 127.0.0.1:$SERVER_PORT (pid $SERVER_PID)"
say "load:     $DURATION s in $ROUNDS rounds of the same mix, $HOLDERS clients coming and going; sample every $INTERVAL s"
say "columns:  held = connections the driver has open, active = wsdoctor_connections_active, fds and CW"
say "          (CLOSE-WAIT) = the proxy's, made = connections made, reports = JSON reports written,"
say "          late rep = connections closed over 10 s ago with no report yet, ovfl = kernel listen overflows"
say "          (whole host), lag s = how late the driver took its sample (it was starved that long)"
say ""

status=0
"$PYTHON" "$HERE/driver.py" --proxy-port "$PROXY_PORT" --proxy-pid "$PROXY_PID" --admin-port "$ADMIN_PORT" \
    --server-port "$SERVER_PORT" --reports "$REPORTS" --duration "$DURATION" --rounds "$ROUNDS" \
    --interval "$INTERVAL" --quiesce "$QUIESCE" --rss-tolerance "$RSS_TOLERANCE_MIB" \
    --rss-tolerance-percent "$RSS_TOLERANCE_PERCENT" --holders "$HOLDERS" \
    "${DRIVER_LIMITS[@]}" || status=$?

if [ -s "$TMP/proxy.err" ]; then
    say ""
    say "the proxy's standard error ($(wc -l <"$TMP/proxy.err") lines, the last 10):"
    tail -10 "$TMP/proxy.err" | sed 's/^/  /'
fi
kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.err" >&2; say "the echo server died during the soak"; status=1; }
exit "$status"
