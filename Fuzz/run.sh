#!/usr/bin/env bash
# Builds wsdoctor-fuzz with libFuzzer and AddressSanitizer and fuzzes each target for SECONDS.
#
#   Fuzz/run.sh [TARGET] SECONDS [extra libFuzzer flags...]
#
# Targets (Sources/wsdoctor-fuzz/FuzzTarget.swift): analyzer, capture, rules, report. Without
# TARGET every one runs for SECONDS in turn, one at a time (one worker each); the script
# exits non-zero if any of them stopped on a finding.
#
# Per target: Fuzz/TARGET/corpus seeds it and is never written to; new inputs go to
# fuzz-out/TARGET/corpus, crashes, timeouts and OOMs to fuzz-out/TARGET/crashes/. Replay one with
#   WSDOCTOR_FUZZ_TARGET=TARGET .build-fuzz/debug/wsdoctor-fuzz fuzz-out/TARGET/crashes/crash-…
# then minimise it with -minimize_crash=1 -runs=10000, copy it to Fuzz/TARGET/regressions/
# and fix it; FuzzRegressionTests replays those folders.
set -euo pipefail

cd "$(dirname "$0")/.."
targets=(analyzer capture rules report)
if [[ ${1:-} =~ ^[a-z]+$ ]]; then
    [[ " ${targets[*]} " == *" $1 "* ]] || { echo "Fuzz/run.sh: no target '$1' (${targets[*]})" >&2; exit 2; }
    targets=("$1")
    shift
fi
seconds=${1:?usage: Fuzz/run.sh [analyzer|capture|rules|report] SECONDS [libFuzzer flags...]}
shift

# The separate scratch path keeps the normal .build untouched. swift-driver keeps only
# the last -sanitize= it is given, so SwiftPM's two flags alone compile without
# coverage (the fuzzer runs blind); the combined -Xswiftc flag comes last and wins.
# FUZZING drops the replayer's @main so libFuzzer's main is the entry point.
swift build -c debug --product wsdoctor-fuzz --scratch-path .build-fuzz \
    --sanitize=fuzzer --sanitize=address \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING

# Swift's own crash backtracer would hold the process open; libFuzzer reports instead.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=Fuzz/lsan.supp:print_suppressions=0}

status=0
for target in "${targets[@]}"; do
    mkdir -p "fuzz-out/$target/corpus" "fuzz-out/$target/crashes"
    # Rules are YAML; every other target reads HTTP and frames somewhere inside.
    dictionary=Fuzz/wsdoctor.dict
    [[ $target == rules ]] && dictionary=Fuzz/rules.dict
    inputs=("fuzz-out/$target/corpus" "Fuzz/$target/corpus")
    [[ -d Fuzz/$target/regressions ]] && inputs+=("Fuzz/$target/regressions")
    echo "== $target: $seconds s"
    WSDOCTOR_FUZZ_TARGET=$target .build-fuzz/debug/wsdoctor-fuzz "${inputs[@]}" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=65536 -workers=1 \
        -dict="$dictionary" -artifact_prefix="fuzz-out/$target/crashes/" -print_final_stats=1 "$@" || status=1
done
exit $status
