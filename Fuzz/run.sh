#!/usr/bin/env bash
# Builds wsdoctor-fuzz with libFuzzer and AddressSanitizer and fuzzes the analyzer for SECONDS.
#
#   Fuzz/run.sh SECONDS [extra libFuzzer flags...]
#
# New inputs go to fuzz-out/corpus (Fuzz/corpus seeds it and is never written to);
# crashes, timeouts and OOMs go to fuzz-out/crashes/. Replay one with
#   .build-fuzz/debug/wsdoctor-fuzz fuzz-out/crashes/crash-…
# then minimise it with -minimize_crash=1 -runs=10000, copy it to Fuzz/regressions/ and
# fix it; FuzzRegressionTests replays that folder.
set -euo pipefail

seconds=${1:?usage: Fuzz/run.sh SECONDS [libFuzzer flags...]}
shift
cd "$(dirname "$0")/.."

# The separate scratch path keeps the normal .build untouched. swift-driver keeps only
# the last -sanitize= it is given, so SwiftPM's two flags alone compile without
# coverage (the fuzzer runs blind); the combined -Xswiftc flag comes last and wins.
# FUZZING drops the replayer's @main so libFuzzer's main is the entry point.
swift build -c debug --product wsdoctor-fuzz --scratch-path .build-fuzz \
    --sanitize=fuzzer --sanitize=address \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING

mkdir -p fuzz-out/corpus fuzz-out/crashes
# Swift's own crash backtracer would hold the process open; libFuzzer reports instead.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=Fuzz/lsan.supp:print_suppressions=0}

exec .build-fuzz/debug/wsdoctor-fuzz fuzz-out/corpus Fuzz/corpus Fuzz/regressions \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
    -dict=Fuzz/wsdoctor.dict -artifact_prefix=fuzz-out/crashes/ -print_final_stats=1 "$@"
