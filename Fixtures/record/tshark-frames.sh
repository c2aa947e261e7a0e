#!/usr/bin/env bash
# Print one line per WebSocket frame in a capture, in capture order, as tshark
# decodes it:
#
#   <tcp.stream> <c2s|s2c> <opcode> <close status code, or ->
#
# The server port(s) are found from the capture itself (the destination port of
# every SYN without ACK; failing that, the source port of an HTTP 101 answer)
# and tshark is told to decode them as HTTP so the upgrade and the frames after
# it are dissected whatever the port number. A frame that spans several TCP
# segments is reported once, at the packet that completes it (tshark's
# reassembly); several frames in one packet are reported in their order.
#
# Usage: Fixtures/record/tshark-frames.sh FILE.pcap|FILE.pcapng
set -euo pipefail

if [ "$#" -ne 1 ]; then
    echo "usage: $0 CAPTURE" >&2
    exit 2
fi
file="$1"
if [ ! -r "$file" ]; then
    echo "$0: cannot read $file" >&2
    exit 2
fi

errs="$(mktemp)"
trap 'rm -f "$errs"' EXIT

run_tshark() {
    # tshark warns on stderr when run as root; show stderr only on failure.
    if ! tshark "$@" 2>"$errs"; then
        grep -v 'Running as user "root"' "$errs" >&2 || true
        return 1
    fi
}

ports="$(run_tshark -r "$file" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' \
            -T fields -e tcp.dstport | sort -un)"
if [ -z "$ports" ]; then
    ports="$(run_tshark -r "$file" -Y 'http.response.code == 101' \
                -T fields -e tcp.srcport | sort -un)"
fi
if [ -z "$ports" ]; then
    echo "$0: cannot tell the server port of $file (no SYN, no HTTP 101)" >&2
    exit 1
fi

decode=()
for p in $ports; do
    decode+=(-d "tcp.port==$p,http")
done

run_tshark -r "$file" "${decode[@]}" -Y websocket -T fields \
    -E separator=/t -E aggregator='|' \
    -e tcp.stream -e tcp.srcport -e websocket.opcode \
    -e websocket.payload.close.status_code \
| awk -F'\t' -v ports="$ports" '
    BEGIN { n = split(ports, p, /[ \n]+/); for (i = 1; i <= n; i++) if (p[i] != "") server[p[i]] = 1 }
    {
        dir = ($2 in server) ? "s2c" : "c2s"
        nop = split($3, ops, "|")
        nst = split($4, codes, "|")
        k = 1
        for (i = 1; i <= nop; i++) {
            code = "-"
            # At most one close frame per packet (nothing follows a close in
            # one direction); its status code, when present, is the one listed.
            if (ops[i] == 8 && k <= nst && codes[k] != "") { code = codes[k]; k++ }
            print $1, dir, ops[i], code
        }
    }'
