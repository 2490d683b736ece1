#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets (CC=clang, -DCLMSE_FUZZ=ON) in build-fuzz/ and runs each for at
# least EXECUTIONS inputs (default 1000000) from its seed corpus; exits nonzero on a crash.
# Environment: CC (clang), CLMSE_FUZZ_BUILD_DIR (build-fuzz), JOBS (2), FUZZ_TARGETS
# ("npy tensor"). New inputs go to BUILD/fuzz-work/<target>/corpus, never to fuzz/corpus/.
set -eu

runs=${1:-1000000}
case $runs in
'' | *[!0-9]*)
    echo "usage: $0 [EXECUTIONS]" >&2
    exit 2
    ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
build=${CLMSE_FUZZ_BUILD_DIR:-$root/build-fuzz}
targets=${FUZZ_TARGETS:-npy tensor}

# Static library: the fuzzers call clmse__ functions that libclmse.so hides. Tests and the CLI
# are left out; only the fuzzers are built.
CC=${CC:-clang} cmake -S "$root" -B "$build" -DCLMSE_FUZZ=ON -DBUILD_SHARED_LIBS=OFF \
    -DCLMSE_BUILD_TESTS=OFF -DCLMSE_BUILD_CLI=OFF -DCLMSE_WERROR=ON >/dev/null
build_targets=
for t in $targets; do
    build_targets="$build_targets clmse_fuzz_$t"
done
# shellcheck disable=SC2086 # one word per target
cmake --build "$build" -j"${JOBS:-2}" --target $build_targets

status=0
for t in $targets; do
    work=$build/fuzz-work/$t
    rm -rf "$work"
    mkdir -p "$work/corpus"
    set -- -runs="$runs" -print_final_stats=1 -artifact_prefix="$work/"
    if [ -f "$root/fuzz/$t.dict" ]; then
        set -- "$@" -dict="$root/fuzz/$t.dict"
    fi
    echo "== clmse_fuzz_$t: $runs executions (log: $work/log)"
    start=$(date +%s)
    # The committed corpus is read; new inputs are written to the first directory only.
    if "$build/fuzz/clmse_fuzz_$t" "$@" "$work/corpus" "$root/fuzz/corpus/$t" >"$work/log" 2>&1
    then
        rc=0
    else
        rc=$?
    fi
    end=$(date +%s)
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$work/log" | tail -n 1 || true)
    executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
    per_sec=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log")
    seeds=$(find "$root/fuzz/corpus/$t" -type f | wc -l)
    added=$(find "$work/corpus" -type f | wc -l)
    echo "   executions: ${executed:-?}  exec/s: ${per_sec:-?}  wall: $((end - start)) s"
    echo "   final: ${done_line:-none}"
    echo "   corpus: $seeds seeds + $added new inputs in $work/corpus"
    if [ "$rc" -ne 0 ]; then
        status=1
        echo "   CRASH (exit $rc); reproduce with: $build/fuzz/clmse_fuzz_$t INPUT" >&2
        for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
            if [ -e "$f" ]; then
                echo "   INPUT: $f" >&2
            fi
        done
        grep -E 'ERROR|SUMMARY|check failed|runtime error' "$work/log" | head -n 20 >&2 || true
    fi
done
exit "$status"
