#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the host test runner, a device suite and the clmse command-line tool under valgrind
# memcheck; any memory error or definite leak fails. Suppressions: tests/valgrind.supp.
#   scripts/valgrind.sh BUILD_DIR     (BUILD_DIR: a configured and built, non-sanitizer tree)
set -euo pipefail

if [ $# -ne 1 ] || [ ! -x "$1/tools/clmse" ] || [ ! -x "$1/tests/clmse_host_tests" ]; then
    echo "usage: $0 BUILD_DIR   (a built clmse tree with the tool and the tests)" >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
clmse=$build/tools/clmse
tmp=$(mktemp -d "${TMPDIR:-/tmp}/clmse-valgrind.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export POCL_CACHE_DIR=$build/pocl-cache
# Exit status 99 marks a memcheck finding, so an expected exit 2 or 1 of the tool stays
# distinguishable from it.
# Each kernel is compiled once more under valgrind (POCL sees valgrind's simulated CPU, not
# this one), which is most of the time this takes: the cases share their programs.
# Children are not traced: POCL runs the system linker, which must not run under memcheck.
# --num-callers: POCL's compile stacks run deep into LLVM, and a suppression can only match
# frames that were recorded.
vg=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --num-callers=40 --suppressions="$root/tests/valgrind.supp")

python=/usr/bin/python3
"$python" -c 'import numpy' 2>/dev/null || python=python3
"$python" -c 'import numpy' || {
    echo "valgrind.sh: needs python3 with numpy to write its .npy inputs" >&2
    exit 2
}
"$python" - "$tmp" <<'EOF'
import sys, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(7)
np.save(d + "/x.npy", np.array([2.5, 3.1, 4.8], np.float32))
np.save(d + "/y.npy", np.array([2.0, 3.3, 5.0], np.float32))
np.save(d + "/x23.npy", rng.standard_normal((2, 3)).astype(np.float32))
np.save(d + "/y13.npy", rng.standard_normal((1, 3)).astype(np.float16))
np.save(d + "/x64.npy", np.asfortranarray(rng.standard_normal((5, 4))))
np.save(d + "/g23.npy", rng.standard_normal((2, 3)).astype(np.float32))
open(d + "/cut.npy", "wb").write(open(d + "/x23.npy", "rb").read()[:-5])
EOF

failed=0
# check WANT_RC LABEL [VAR=VALUE...] CMD...: runs CMD under memcheck, with those variables set,
# and wants exit status WANT_RC.
check() {
    local want=$1 label=$2
    shift 2
    local vars=()
    while [ $# -gt 0 ] && [[ $1 == *=* ]]; do
        vars+=("$1")
        shift
    done
    local rc=0 t0=$SECONDS
    env "${vars[@]}" "${vg[@]}" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "FAIL  $label: exit $rc, want $want" >&2
        sed 's/^/      /' "$tmp/err" | tail -n 60 >&2
        failed=$((failed + 1))
    else
        echo "ok    $label ($((SECONDS - t0)) s)"
    fi
}

loss_cases=(
    "0|loss mean|$tmp/x.npy $tmp/y.npy"
    "0|loss none, broadcast, float16 target, both gradients|$tmp/x23.npy $tmp/y13.npy \
        --reduction none --grad-output $tmp/g23.npy --out $tmp/o.npy \
        --grad-input $tmp/gi.npy --grad-target $tmp/gt.npy"
    "2|loss of a truncated file (exit 2)|$tmp/cut.npy $tmp/y.npy"
    "2|loss of shapes that do not broadcast (exit 2)|$tmp/x23.npy $tmp/x64.npy"
)

echo "== valgrind memcheck"
check 0 "host test runner (status, npy, tensor, partial)" CK_FORK=no "$build/tests/clmse_host_tests"
check 0 "clmse info" "$clmse" info
for c in "${loss_cases[@]}"; do
    IFS='|' read -r want label args <<<"$c"
    # shellcheck disable=SC2086 # word splitting of the argument list is intended
    check "$want" "$label" "$clmse" loss $args
done
check 0 "device suite errors" CK_FORK=no CK_RUN_SUITE=errors "$build/tests/clmse_device_tests"
if [ "$failed" -ne 0 ]; then
    echo "== valgrind: $failed run(s) failed" >&2
    exit 1
fi
echo "== valgrind: clean"
