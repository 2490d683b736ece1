#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ThreadSanitizer check: configures a CLMSE_TSAN tree, builds only the device test runner, and
# runs the thread-stress suite (label `stress`) and clmse.context (a context shared by threads).
# Any TSan report fails the test (TSAN_OPTIONS in tests/CMakeLists.txt, tests/tsan.supp).
#   scripts/tsan.sh [BUILD_DIR]                 (default: build-tsan in the source tree)
#   CLMSE_STRESS_CALLS=1000 scripts/tsan.sh     a longer run: calls per thread (default 40)
# TSan slows the stress suite about sixfold: on two cores 1000 calls per thread take 80 s and
# 10000 take 9.5 minutes, close to the 900 s after which CTest stops clmse.stress. The 10^4
# long run is meant for a normal build (95 s there): CLMSE_STRESS_CALLS=10000 ctest -L stress.
set -euo pipefail

if [ $# -gt 1 ]; then
    echo "usage: $0 [BUILD_DIR]" >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-tsan}
jobs=$(nproc 2>/dev/null || echo 2)

# No CLI: the runner is all this needs, and without it configuring skips the conformance test.
cmake -S "$root" -B "$build" -DCLMSE_TSAN=ON -DCLMSE_SANITIZE=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLMSE_WERROR=ON -DCLMSE_BUILD_CLI=OFF
cmake --build "$build" -j "$jobs" --target clmse_device_tests

# gcc 12's TSan dies with "unexpected memory mapping" when the kernel randomises mmap with
# more than 28 bits (vm.mmap_rnd_bits; 32 on recent Ubuntu hosts) and, unlike LLVM 18's, does
# not re-run itself without ASLR: turn ASLR off for the tests there (google/sanitizers#1716).
no_aslr=()
if [ "$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0)" -gt 28 ]; then
    no_aslr=(setarch "$(uname -m)" -R)
    if ! "${no_aslr[@]}" true 2>/dev/null; then
        echo "tsan.sh: vm.mmap_rnd_bits > 28 breaks gcc's TSan, and setarch -R (personality" \
            "ADDR_NO_RANDOMIZE) is refused here, e.g. by a container's seccomp profile" >&2
        exit 1
    fi
fi
# A TSan run that skips for want of a device proves nothing.
export CLMSE_REQUIRE_DEVICE=${CLMSE_REQUIRE_DEVICE:-1}
"${no_aslr[@]}" ctest --test-dir "$build" --output-on-failure --no-tests=error -L stress
"${no_aslr[@]}" ctest --test-dir "$build" --output-on-failure --no-tests=error \
    -R '^clmse\.context$'
