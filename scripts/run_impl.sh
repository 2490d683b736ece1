#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs a built tree's device tests on one OpenCL implementation, whatever else is installed:
#   scripts/run_impl.sh pocl|rusticl|oclgrind BUILD_DIR [ctest arguments...]
# The ICD loader is shown only that implementation's .icd file (OCL_ICD_VENDORS names a folder
# made under BUILD_DIR/icd/). Without ctest arguments it runs the device suites that run there
# (labels in tests/CMakeLists.txt); with them, exactly what they select.
#   pocl      the default elsewhere; POCL_CACHE_DIR in the build tree
#   rusticl   Mesa's llvmpipe device (RUSTICL_ENABLE=llvmpipe); no fp64; MESA_SHADER_CACHE_DIR
#             in the build tree
#   oclgrind  the Oclgrind simulator with its data-race and uninitialized-value checks, kernels
#             built with -cl-opt-disable (Oclgrind 21.10 cannot run LLVM's `freeze`), and the
#             reduced set CLMSE_TEST_SCALE=small (README "Testing"). Any Oclgrind report fails
#             the test that printed it (FAIL_REGULAR_EXPRESSION in tests/CMakeLists.txt); the
#             script prints how many there were.
set -euo pipefail

usage() {
    echo "usage: $0 pocl|rusticl|oclgrind BUILD_DIR [ctest arguments...]" >&2
    exit 2
}
[ $# -ge 2 ] || usage
impl=$1
[ -f "$2/CTestTestfile.cmake" ] || {
    echo "$0: $2 is not a configured build tree" >&2
    exit 2
}
build=$(cd "$2" && pwd)
shift 2

# first_file CANDIDATE...: the first that exists.
first_file() {
    for f in "$@"; do
        [ -f "$f" ] && {
            echo "$f"
            return 0
        }
    done
    return 1
}

vendors=$build/icd/$impl
rm -rf "$vendors"
mkdir -p "$vendors"
default_args=(-L device)
case "$impl" in
pocl)
    icd=$(first_file /etc/OpenCL/vendors/pocl.icd) || {
        echo "$0: POCL's ICD file is missing: apt-get install pocl-opencl-icd" >&2
        exit 1
    }
    cp "$icd" "$vendors/"
    ;;
rusticl)
    icd=$(first_file /etc/OpenCL/vendors/rusticl.icd) || {
        echo "$0: rusticl's ICD file is missing: apt-get install mesa-opencl-icd" >&2
        exit 1
    }
    cp "$icd" "$vendors/"
    export RUSTICL_ENABLE=llvmpipe MESA_SHADER_CACHE_DIR=$build/mesa-cache
    ;;
oclgrind)
    # Debian's package installs the ICD library but no .icd file.
    lib=$(first_file /usr/lib/oclgrind/liboclgrind-rt-icd.so \
        /usr/lib/x86_64-linux-gnu/liboclgrind-rt-icd.so /usr/local/lib/liboclgrind-rt-icd.so) || {
        echo "$0: liboclgrind-rt-icd.so not found: apt-get install oclgrind" >&2
        exit 1
    }
    echo "$lib" >"$vendors/oclgrind.icd"
    export OCLGRIND_DATA_RACES=1 OCLGRIND_UNINITIALIZED=1 OCLGRIND_BUILD_OPTIONS=-cl-opt-disable
    export CLMSE_TEST_SCALE=${CLMSE_TEST_SCALE:-small}
    # The simulator is slow: Check's per-test limits (tests/helpers.h) stretch to match.
    export CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-3}
    default_args=(-L oclgrind)
    ;;
*) usage ;;
esac
export OCL_ICD_VENDORS=$vendors POCL_CACHE_DIR=$build/pocl-cache
export CLMSE_REQUIRE_DEVICE=${CLMSE_REQUIRE_DEVICE:-1}
[ $# -gt 0 ] || set -- "${default_args[@]}"

echo "== $impl: OCL_ICD_VENDORS=$vendors ctest $*"
rc=0
ctest --test-dir "$build" --output-on-failure --no-tests=error "$@" || rc=$?
if [ "$impl" = oclgrind ]; then
    # One line per report: a kernel's report (a race, an uninitialized value, a bad access, a
    # fatal error such as "Unsupported instruction") names the kernel on an indented "Kernel:"
    # line; a program's fatal error and a runtime error have their own lines.
    log=$build/Testing/Temporary/LastTest.log
    reports=$'^\tKernel:|^When (initializing program scope|creating kernel)'
    reports+='|^Oclgrind - OpenCL runtime error'
    n=$(grep -cE "$reports" "$log" || true)
    echo "== oclgrind: $n report(s)"
fi
exit "$rc"
