# Set-up shared by the benchmarks, sourced at the top of each Benchmarks/*/*.sh:
#
#   BENCH_NAME=stream
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
#
# It gives ROOT (the repository, also the working directory), TMP (removed at exit),
# STARTED (pids the script adds; they and their children are stopped at exit, before the
# script's own `cleanup` function when it defines one), say/die, and:
#   bench_apt PACKAGE...   installs the Debian packages not installed yet
#   bench_deps COMMAND...  runs scripts/install-deps.sh when the .venv or a command is missing
#   bench_wsdoctor         WSDOCTOR: the binary in WSDOCTOR_BIN, else a release build of ROOT
# BENCH_EXIT_STATUS is die's exit status (default 1).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="$ROOT/.venv/bin/python"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-1800}"
STARTED=()

say() { printf '%s\n' "$*"; }
die() { printf '%s benchmark: %s\n' "$BENCH_NAME" "$*" >&2; exit "${BENCH_EXIT_STATUS:-1}"; }

TMP="$(mktemp -d)"
bench_exit() {
    local pid child
    for pid in "${STARTED[@]}"; do
        # socat forks a child per connection: those are ours too.
        for child in $(pgrep -P "$pid" 2>/dev/null || true); do kill "$child" 2>/dev/null || true; done
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${STARTED[@]}"; do wait "$pid" 2>/dev/null || true; done
    if declare -F cleanup >/dev/null; then cleanup; fi
    rm -rf "$TMP"
}
trap bench_exit EXIT
cd "$ROOT"

bench_apt() {
    local package missing=() root_cmd=()
    [ "$(id -u)" -eq 0 ] || root_cmd=(sudo -n)
    for package in "$@"; do
        dpkg -s "$package" 2>/dev/null | grep -q '^Status: install ok installed$' || missing+=("$package")
    done
    [ "${#missing[@]}" -gt 0 ] || return 0
    say "installing apt packages: ${missing[*]}"
    # tshark asks whether non-root users may capture; answer "no" up front.
    echo 'wireshark-common wireshark-common/install-setuid boolean false' | "${root_cmd[@]}" debconf-set-selections
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 "${root_cmd[@]}" apt-get update >"$TMP/apt.log" 2>&1 || { cat "$TMP/apt.log" >&2; die "apt-get update failed"; }
    timeout 900 "${root_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}" </dev/null >"$TMP/apt.log" 2>&1 \
        || { cat "$TMP/apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
}

bench_deps() {
    local command ready=yes
    "$PYTHON" -c 'import websockets' 2>/dev/null || ready=""
    for command in "$@"; do command -v "$command" >/dev/null || ready=""; done
    if [ -z "$ready" ]; then
        say "setting up (scripts/install-deps.sh: .venv${1:+, $*})..."
        bash "$ROOT/scripts/install-deps.sh" >&2 || die "scripts/install-deps.sh failed"
    fi
    for command in "$@"; do command -v "$command" >/dev/null || die "$command is missing"; done
}

bench_wsdoctor() {
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
}
