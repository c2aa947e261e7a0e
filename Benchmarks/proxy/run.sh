#!/usr/bin/env bash
# Proxy benchmark: wsdoctor proxy against socat and against no proxy at all, in one run.
#
#   bash Benchmarks/proxy/run.sh
#
# 1. builds wsbench (Benchmarks/proxy, a package of its own, never built by the project's
#    build or CI) and wsdoctor, both in release,
# 2. starts, all on 127.0.0.1 with free ports:
#      wsbench echo-server                        (NIO WebSocket echo server)
#      wsdoctor proxy --upstream ws://ECHO --format json > /dev/null
#      socat TCP-LISTEN:P,fork,reuseaddr,bind=127.0.0.1 TCP:127.0.0.1:ECHO
#      the same socat with nodelay on both sockets (wsdoctor and the NIO peers set
#      TCP_NODELAY; plain socat leaves Nagle on, which stalls its larger messages)
# 3. for message sizes 64 B, 1 KiB, 64 KiB and 1 and 64 connections, runs
#      wsbench load --connections N --size S (echo round trips, one outstanding per connection)
#    against each path (direct, wsdoctor, socat, socat-nodelay), ROUNDS rounds interleaved,
#    and prints the best round of each with the throughput ratios wsdoctor/socat and
#    wsdoctor/direct,
# 4. holds IDLE_CONNECTIONS idle WebSocket connections through a fresh wsdoctor, and then
#    through a fresh socat, and prints resident memory per idle connection
#    (VmRSS from /proc/PID/status, before and while held; for socat, which forks a process
#    per connection, summed over its processes, with Pss beside it).
#
# Environment: DURATION (s per measurement, default 3), WARMUP (s, default 1), ROUNDS (default 2),
# IDLE_CONNECTIONS (default 10000), IDLE_HOLD (s, default 10), WSDOCTOR_BIN (a wsdoctor binary to
# measure instead of building the work tree's, e.g. one built from another commit).
# Needs: swift, python3, socat (installed with apt when missing; root or sudo).
set -euo pipefail

BENCH_NAME=proxy
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
HERE="$ROOT/Benchmarks/proxy"
DURATION="${DURATION:-3}"
WARMUP="${WARMUP:-1}"
ROUNDS="${ROUNDS:-2}"
IDLE_CONNECTIONS="${IDLE_CONNECTIONS:-10000}"
IDLE_HOLD="${IDLE_HOLD:-10}"
SIZES=(64 1024 65536)
CONNECTIONS=(1 64)
PATHS=(direct wsdoctor socat socat-nodelay)
AIM_THROUGHPUT=0.70          # of socat's, at every size
AIM_KIB_PER_IDLE=50

# --- tools -----------------------------------------------------------------
bench_apt socat
command -v python3 >/dev/null || die "python3 is missing"
command -v swift >/dev/null || die "swift is missing"

# Open files: the idle test needs two descriptors per connection in the proxy.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
NOFILE="$(ulimit -n)"

# --- build -------------------------------------------------------------------
say "building wsbench and wsdoctor (release)..."
if ! timeout "$BUILD_TIMEOUT" swift build -c release --package-path "$HERE" >"$TMP/build.log" 2>&1; then
    tail -40 "$TMP/build.log" >&2
    die "wsbench release build failed"
fi
WSBENCH="$(swift build -c release --package-path "$HERE" --show-bin-path)/wsbench"
bench_wsdoctor
[ -x "$WSBENCH" ] || die "no binary at $WSBENCH"

# --- processes ------------------------------------------------------------------
# free_ports N -> N distinct free TCP ports on 127.0.0.1
free_ports() {
    python3 - "$1" <<'EOF'
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))
EOF
}

# wait_listening PORT PID NAME: until something listens on 127.0.0.1:PORT (10 s at most).
wait_listening() {
    local hex i
    hex="$(printf '%04X' "$1")"
    for ((i = 0; i < 100; i++)); do
        grep -q "^ *[0-9]*: 0100007F:$hex 00000000:0000 0A " /proc/net/tcp && return 0
        kill -0 "$2" 2>/dev/null || die "$3 exited at start (see above)"
        sleep 0.1
    done
    die "$3 is not listening on 127.0.0.1:$1"
}

# start NAME PORT command... : starts it in the background, records its pid in LAST_PID.
# Standard output goes to /dev/null (wsdoctor still renders its JSON report of every connection).
start() {
    local name="$1" port="$2"; shift 2
    "$@" >/dev/null 2>"$TMP/$name.err" &
    LAST_PID=$!
    STARTED+=("$LAST_PID")
    wait_listening "$port" "$LAST_PID" "$name"
}

stop() { # stop PID: ends one process this script started (and a socat's children)
    local child
    for child in $(pgrep -P "$1" 2>/dev/null || true); do kill "$child" 2>/dev/null || true; done
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

alive() { # alive NAME PID: dies with the process's exit status and error output when it has ended
    kill -0 "$2" 2>/dev/null && return 0
    local status=0
    wait "$2" || status=$?
    cat "$TMP/$1.err" >&2
    die "$1 (pid $2) ended, exit status $status$( [ "$status" -gt 128 ] && echo " (signal $((status - 128)))")"
}

read -r ECHO_PORT PROXY_PORT SOCAT_PORT SOCAT_ND_PORT IDLE_PROXY_PORT IDLE_SOCAT_PORT <<<"$(free_ports 6)"
start echo "$ECHO_PORT" "$WSBENCH" echo-server --port "$ECHO_PORT"
ECHO_PID=$LAST_PID
start wsdoctor "$PROXY_PORT" "$WSDOCTOR" proxy --listen "127.0.0.1:$PROXY_PORT" --upstream "ws://127.0.0.1:$ECHO_PORT" --format json
PROXY_PID=$LAST_PID
start socat "$SOCAT_PORT" socat "TCP-LISTEN:$SOCAT_PORT,fork,reuseaddr,bind=127.0.0.1" "TCP:127.0.0.1:$ECHO_PORT"
SOCAT_PID=$LAST_PID
start socat-nodelay "$SOCAT_ND_PORT" socat "TCP-LISTEN:$SOCAT_ND_PORT,fork,reuseaddr,bind=127.0.0.1,nodelay" "TCP:127.0.0.1:$ECHO_PORT,nodelay"
SOCAT_ND_PID=$LAST_PID

port_of() {
    case "$1" in
        direct) echo "$ECHO_PORT" ;;
        wsdoctor) echo "$PROXY_PORT" ;;
        socat) echo "$SOCAT_PORT" ;;
        socat-nodelay) echo "$SOCAT_ND_PORT" ;;
    esac
}

say ""
say "machine:  $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
say "socat:    $(socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/\1/p' | head -1)"
say "wsdoctor: $WSDOCTOR (pid $PROXY_PID, $(nproc) event loops)"
say "load:     wsbench load, ${WARMUP} s warm-up + ${DURATION} s measured, best of $ROUNDS interleaved rounds"
say ""

# --- throughput and latency ---------------------------------------------------------
declare -A BEST_RATE BEST_LINE
RUN_TIMEOUT=$(awk -v w="$WARMUP" -v d="$DURATION" 'BEGIN { printf "%d", w + d + 40 }')
for ((round = 1; round <= ROUNDS; round++)); do
    say "round $round of $ROUNDS..."
    for size in "${SIZES[@]}"; do
        for n in "${CONNECTIONS[@]}"; do
            for path in "${PATHS[@]}"; do
                port="$(port_of "$path")"
                if ! timeout "$RUN_TIMEOUT" "$WSBENCH" load --url "ws://127.0.0.1:$port" --connections "$n" --size "$size" \
                        --duration "$DURATION" --warmup "$WARMUP" >"$TMP/load.out" 2>"$TMP/load.err"; then
                    cat "$TMP/load.out" "$TMP/load.err" >&2
                    die "load through $path (size $size, $n connections) failed"
                fi
                line="$(grep '^RESULT ' "$TMP/load.out")" || die "no RESULT line from wsbench load"
                rate="$(sed -n 's/.*msgs_per_s=\([0-9.]*\).*/\1/p' <<<"$line")"
                key="$size,$n,$path"
                printf '  %-7s N=%-3s %-14s %12.0f msgs/s\n' "$size" "$n" "$path" "$rate"
                if [ -z "${BEST_RATE[$key]:-}" ] || awk -v a="$rate" -v b="${BEST_RATE[$key]}" 'BEGIN { exit !(a > b) }'; then
                    BEST_RATE[$key]="$rate"
                    BEST_LINE[$key]="$line"
                fi
                alive echo "$ECHO_PID"; alive wsdoctor "$PROXY_PID"; alive socat "$SOCAT_PID"; alive socat-nodelay "$SOCAT_ND_PID"
            done
        done
    done
done

field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }
human_size() { case "$1" in 64) echo "64 B" ;; 1024) echo "1 KiB" ;; 65536) echo "64 KiB" ;; *) echo "$1 B" ;; esac; }

say ""
say "echo round trips, one outstanding per connection; MB/s = payload one way (10^6 B/s; the same bytes also"
say "come back); latency = round trip in microseconds; ratios = wsdoctor msgs/s divided by the other path's"
printf '%-7s %4s  %-14s %11s %9s %9s %9s %9s   %8s %8s %8s\n' \
    "size" "N" "path" "msgs/s" "MB/s" "p50 us" "p99 us" "p99.9 us" "/socat" "/socat-nd" "/direct"
MIN_SOCAT=""; MIN_SOCAT_ND=""; WORST=""; WORST_ND=""
for size in "${SIZES[@]}"; do
    for n in "${CONNECTIONS[@]}"; do
        w="${BEST_RATE[$size,$n,wsdoctor]}"
        for path in "${PATHS[@]}"; do
            line="${BEST_LINE[$size,$n,$path]}"
            ratios=""
            if [ "$path" = wsdoctor ]; then
                ratios="$(awk -v w="$w" -v s="${BEST_RATE[$size,$n,socat]}" -v nd="${BEST_RATE[$size,$n,socat-nodelay]}" \
                    -v d="${BEST_RATE[$size,$n,direct]}" 'BEGIN { printf "%8.2f %8.2f %8.2f", w / s, w / nd, w / d }')"
                r="$(awk -v w="$w" -v s="${BEST_RATE[$size,$n,socat]}" 'BEGIN { printf "%.2f", w / s }')"
                r_nd="$(awk -v w="$w" -v s="${BEST_RATE[$size,$n,socat-nodelay]}" 'BEGIN { printf "%.2f", w / s }')"
                if [ -z "$MIN_SOCAT" ] || awk -v a="$r" -v b="$MIN_SOCAT" 'BEGIN { exit !(a < b) }'; then
                    MIN_SOCAT="$r"; WORST="$(human_size "$size"), N=$n"
                fi
                if [ -z "$MIN_SOCAT_ND" ] || awk -v a="$r_nd" -v b="$MIN_SOCAT_ND" 'BEGIN { exit !(a < b) }'; then
                    MIN_SOCAT_ND="$r_nd"; WORST_ND="$(human_size "$size"), N=$n"
                fi
            fi
            printf '%-7s %4s  %-14s %11.0f %9.2f %9.1f %9.1f %9.1f   %s\n' "$(human_size "$size")" "$n" "$path" \
                "$(field msgs_per_s "$line")" "$(field mb_per_s "$line")" "$(field p50_us "$line")" \
                "$(field p99_us "$line")" "$(field p999_us "$line")" "$ratios"
        done
    done
done
say ""
awk -v m="$MIN_SOCAT" -v w="$WORST" -v m2="$MIN_SOCAT_ND" -v w2="$WORST_ND" -v aim="$AIM_THROUGHPUT" 'BEGIN {
    printf "throughput wsdoctor/socat, lowest:         %.2f at %s  (aim: >= %.2f at every size, %s)\n", m, w, aim, (m >= aim ? "met" : "NOT met")
    printf "throughput wsdoctor/socat-nodelay, lowest: %.2f at %s  (%s)\n", m2, w2, (m2 >= aim ? "also met" : "NOT met")
}'

# --- idle connections: resident memory ------------------------------------------------
stop "$PROXY_PID"; stop "$SOCAT_PID"; stop "$SOCAT_ND_PID"

# The proxy holds two descriptors per connection (client side and server side).
IDLE_N="$IDLE_CONNECTIONS"
FD_ROOM=$(( (NOFILE - 200) / 2 ))
IDLE_NOTE=""
if [ "$IDLE_N" -gt "$FD_ROOM" ]; then
    IDLE_NOTE="(wanted $IDLE_N: the open-files limit here is $NOFILE, hard limit $(ulimit -Hn), and the proxy needs 2 per connection)"
    IDLE_N="$FD_ROOM"
fi

rss_of() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# socat_memory PID -> "PROCESSES RSS_KB PSS_KB" summed over the socat listener and its children
socat_memory() {
    local pids p files=()
    pids="$1 $(pgrep -P "$1" | tr '\n' ' ')"
    for p in $pids; do files+=("/proc/$p/status" "/proc/$p/smaps_rollup"); done
    awk -v n="$(wc -w <<<"$pids")" '/^VmRSS:/ { r += $2 } /^Pss:/ { p += $2 } END { print n, r, p }' "${files[@]}" 2>/dev/null
}

# idle_run NAME PORT WINDOW: starts wsbench idle in the background, waits for READY.
idle_run() {
    "$WSBENCH" idle --url "ws://127.0.0.1:$2" --connections "$IDLE_N" --hold "$IDLE_HOLD" --window "$3" \
        >"$TMP/idle-$1.out" 2>"$TMP/idle-$1.err" &
    IDLE_PID=$!
    STARTED+=("$IDLE_PID")
    local i
    for ((i = 0; i < 1200; i++)); do
        grep -qs '^READY ' "$TMP/idle-$1.out" && return 0
        kill -0 "$IDLE_PID" 2>/dev/null || { cat "$TMP/idle-$1.err" >&2; die "wsbench idle through $1 failed"; }
        sleep 0.1
    done
    die "wsbench idle through $1: connections not open after 120 s"
}

idle_done() { # idle_done NAME: waits for the hold to end and checks every connection closed cleanly
    wait "$IDLE_PID" || { cat "$TMP/idle-$1.err" >&2; die "wsbench idle through $1 failed"; }
    grep '^DONE ' "$TMP/idle-$1.out" | sed 's/^/  /'
}

say ""
say "idle connections: $IDLE_N held ${IDLE_HOLD} s through each proxy $IDLE_NOTE"
start wsdoctor-idle "$IDLE_PROXY_PORT" "$WSDOCTOR" proxy --listen "127.0.0.1:$IDLE_PROXY_PORT" --upstream "ws://127.0.0.1:$ECHO_PORT" --format json
IDLE_PROXY_PID=$LAST_PID
sleep 1
W_BEFORE="$(rss_of "$IDLE_PROXY_PID")"
idle_run wsdoctor "$IDLE_PROXY_PORT" 128
say "  wsdoctor: $(grep '^READY ' "$TMP/idle-wsdoctor.out")"
W_HELD=0
for i in 1 2 3; do
    sleep 1
    r="$(rss_of "$IDLE_PROXY_PID")"
    if [ "$r" -gt "$W_HELD" ]; then W_HELD="$r"; fi
done
W_FDS="$(ls "/proc/$IDLE_PROXY_PID/fd" | wc -l)"
idle_done wsdoctor
sleep 1
W_AFTER="$(rss_of "$IDLE_PROXY_PID")"
stop "$IDLE_PROXY_PID"

start socat-idle "$IDLE_SOCAT_PORT" socat "TCP-LISTEN:$IDLE_SOCAT_PORT,fork,reuseaddr,bind=127.0.0.1" "TCP:127.0.0.1:$ECHO_PORT"
IDLE_SOCAT_PID=$LAST_PID
sleep 1
read -r S_PROCS_BEFORE S_BEFORE S_PSS_BEFORE <<<"$(socat_memory "$IDLE_SOCAT_PID")"
# socat listens with a backlog of 5 and forks per connection: open slowly enough not to overflow it.
idle_run socat "$IDLE_SOCAT_PORT" 4
say "  socat:    $(grep '^READY ' "$TMP/idle-socat.out")"
sleep 1
read -r S_PROCS S_HELD S_PSS_HELD <<<"$(socat_memory "$IDLE_SOCAT_PID")"
idle_done socat
stop "$IDLE_SOCAT_PID"

say ""
say "resident memory, KiB (before: the proxy started, no connection; held: $IDLE_N idle WebSocket connections open)"
printf '  %-44s %10s %10s %12s\n' "" "before" "held" "KiB/conn"
awk -v b="$W_BEFORE" -v h="$W_HELD" -v n="$IDLE_N" -v a="$W_AFTER" -v fds="$W_FDS" 'BEGIN {
    printf "  %-44s %10d %10d %12.1f\n", "wsdoctor VmRSS (1 process, " fds " fds)", b, h, (h - b) / n
}'
awk -v b="$S_BEFORE" -v h="$S_HELD" -v n="$IDLE_N" -v p="$S_PROCS" 'BEGIN {
    printf "  %-44s %10d %10d %12.1f\n", "socat VmRSS summed (" p " processes)", b, h, (h - b) / n
}'
awk -v b="$S_PSS_BEFORE" -v h="$S_PSS_HELD" -v n="$IDLE_N" 'BEGIN {
    printf "  %-44s %10d %10d %12.1f\n", "socat Pss summed (shared pages split)", b, h, (h - b) / n
}'
say "  (socat's summed VmRSS counts the pages its forked processes share once per process; Pss splits them."
say "   Neither figure includes kernel memory: socket buffers, and for socat a process per connection.)"
awk -v b="$W_BEFORE" -v h="$W_HELD" -v n="$IDLE_N" -v a="$W_AFTER" -v sb="$S_BEFORE" -v sh="$S_HELD" \
    -v pb="$S_PSS_BEFORE" -v ph="$S_PSS_HELD" -v aim="$AIM_KIB_PER_IDLE" 'BEGIN {
    w = (h - b) / n
    printf "wsdoctor per idle connection: %.1f KiB  (aim: < %d KiB, %s); wsdoctor/socat: %.2fx by VmRSS, %.2fx by Pss\n",
        w, aim, (w < aim ? "met" : "NOT met"), w / ((sh - sb) / n), w / ((ph - pb) / n)
    printf "wsdoctor VmRSS after the connections closed: %d KiB\n", a
}'
