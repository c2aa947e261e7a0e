#!/usr/bin/env bash
# Idle-connection benchmark: the memory N idle WebSocket connections cost in wsdoctor proxy
# and in nginx (a WebSocket reverse proxy), in one run.
#
#   bash Benchmarks/idle/run.sh
#
# 1. builds wsdoctor in release (the normal .build directory),
# 2. runs Benchmarks/idle/idle.py (the .venv's Python), which starts on 127.0.0.1
#      idle.py serve                         (answers every upgrade, then only reads)
#      wsdoctor proxy --upstream ws://SERVER --format json > /dev/null
#    opens CONNECTIONS upgraded connections through it, holds them HOLD seconds, closes them;
#    then the same through nginx (one worker; its configuration is written to a temporary
#    directory: proxy_pass with Upgrade and Connection set, proxy_http_version 1.1),
# 3. prints each proxy's VmRSS before, while held and 3 s after it closed the last connection
#    (its descriptors back to the start), KiB per connection, and after minus before.
#
# Environment: CONNECTIONS (default 9900: the proxy needs two descriptors per connection, and
# the open-files hard limit here is 20,000), HOLD (s, default 3), WSDOCTOR_BIN (a wsdoctor
# binary to measure instead of building the work tree's).
# Needs: swift, nginx (apt; scripts/install-deps.sh installs both it and the .venv).
set -euo pipefail

BENCH_NAME=idle
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
HERE="$ROOT/Benchmarks/idle"
CONNECTIONS="${CONNECTIONS:-9900}"
HOLD="${HOLD:-3}"

bench_deps nginx

# Descriptors: the proxies hold two per connection.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE="$(ulimit -n)"
if [ "$NOFILE" != unlimited ] && [ $(( CONNECTIONS * 2 + 100 )) -gt "$NOFILE" ]; then
    CONNECTIONS=$(( (NOFILE - 100) / 2 ))
    say "CONNECTIONS lowered to $CONNECTIONS: the open-files limit here is $NOFILE"
fi

bench_wsdoctor

say "nginx:    $(nginx -v 2>&1 | sed 's/^nginx version: //')"
"$PYTHON" "$HERE/idle.py" run --wsdoctor "$WSDOCTOR" --tmp "$TMP" --connections "$CONNECTIONS" --hold "$HOLD"
