#!/usr/bin/env bash
# Installs what wsdoctor's build, tests and fixture recorder need on Debian 12:
#   - apt packages (libpcap/zlib headers, tcpdump, tshark, socat, python3-venv, promtool, nginx,
#     haproxy, chromium for the HTML report tests)
#   - the Python virtual environment .venv/ at the repo top with Fixtures/requirements.txt
# Idempotent; prints one line per thing it installed and nothing when all is present.
# Needs root (or sudo) only when apt packages are missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# prometheus brings promtool, which checks the alert rules in deploy/.
APT_PACKAGES=(libpcap-dev zlib1g-dev tcpdump tshark socat python3-venv prometheus nginx haproxy chromium)
REQUIREMENTS="$ROOT/Fixtures/requirements.txt"
VENV="$ROOT/.venv"
STAMP="$VENV/.requirements.sha256"

export DEBIAN_FRONTEND=noninteractive

LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT

# Run a command with its output kept in $LOG; show the output only on failure.
quietly() {
    if ! "$@" >"$LOG" 2>&1; then
        cat "$LOG" >&2
        echo "install-deps: failed: $*" >&2
        exit 1
    fi
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    else
        sudo -n "$@"
    fi
}

# --- apt packages ---------------------------------------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed$'; then
        missing+=("$pkg")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    # tshark asks whether non-root users may capture; answer "no" up front.
    echo 'wireshark-common wireshark-common/install-setuid boolean false' \
        | as_root debconf-set-selections
    quietly as_root apt-get update
    quietly as_root apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
    for pkg in "${missing[@]}"; do
        echo "install-deps: installed apt package $pkg"
    done
fi

# --- Python virtual environment -------------------------------------------
# Prefer Debian's python3 (the one python3-venv belongs to).
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)"

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$VENV"
    quietly "$PYTHON" -m venv "$VENV"
    echo "install-deps: created virtual environment $VENV"
fi

want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
    quietly "$VENV/bin/python" -m pip install --disable-pip-version-check \
        --no-input -r "$REQUIREMENTS"
    echo "$want" > "$STAMP"
    echo "install-deps: installed Python packages from Fixtures/requirements.txt into .venv"
fi
