#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One command from a fresh Debian 12 machine to a working clmse:
#   scripts/quickstart.sh demo   install what is missing, build, run `clmse demo`
#   scripts/quickstart.sh test   install what is missing, check the formatting, build with
#                                -Werror, run every test, run the device suites again on Mesa
#                                rusticl and on Oclgrind (its reduced set), run the host
#                                tests, the errors suite and the tool under valgrind, check
#                                the installed package and the .deb, build with ASan + UBSan
#                                and run every test again, run the stress tests under
#                                ThreadSanitizer, and fuzz each libFuzzer target
set -euo pipefail

mode=${1:-}
case "$mode" in
demo | test) ;;
*)
    echo "usage: $0 demo|test" >&2
    exit 2
    ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)

packages=(gcc make cmake pkg-config ocl-icd-opencl-dev opencl-headers pocl-opencl-icd)
# Only `test` needs these: Check runs the unit tests and CLBlast is their cross-check (and a
# clmse-bench method); tests/conformance compares `clmse loss` with PyTorch; clmse.bench_plot
# draws clmse-bench's CSV with scripts/plot_bench.py (matplotlib); clang-format checks the
# formatting; clang and its runtimes build the libFuzzer targets of fuzz/; Mesa's rusticl and
# Oclgrind are the other two OpenCL implementations the device suites run on
# (scripts/run_impl.sh); Open MPI runs clmse.mpi and examples/mpi (libclmse never links it).
test_packages=(check libclblast-dev clang-format python3-numpy python3-torch python3-matplotlib
    python3-pytest python3-pyopencl python3-venv python3-wheel valgrind clang libclang-rt-14-dev
    mesa-opencl-icd oclgrind libopenmpi-dev openmpi-bin)

# install_missing PACKAGE...
install_missing() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "== installing: ${missing[*]}"
    local sudo=()
    [ "$(id -u)" -ne 0 ] && sudo=(sudo)
    "${sudo[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends \
        "${missing[@]}"
}

# build DIR [cmake options...]
build() {
    local dir=$1
    shift
    echo "== building in $dir ($*)"
    cmake -S "$root" -B "$dir" "$@" >/dev/null
    cmake --build "$dir" -j "$jobs"
}

# Kernel caches stay inside the build tree, never in $HOME.
run_tests() {
    local dir=$1
    echo "== testing $dir"
    CLMSE_REQUIRE_DEVICE=1 POCL_CACHE_DIR="$dir/pocl-cache" \
        ctest --test-dir "$dir" --output-on-failure --timeout 1800
}

if [ "$mode" = test ]; then
    install_missing "${packages[@]}" "${test_packages[@]}"
else
    install_missing "${packages[@]}"
fi
case "$mode" in
demo)
    build "$root/build" -DCMAKE_BUILD_TYPE=Release -DCLMSE_BUILD_TESTS=OFF \
        -DCLMSE_BUILD_BENCH=OFF
    POCL_CACHE_DIR="$root/build/pocl-cache" "$root/build/tools/clmse" demo
    ;;
test)
    "$root/scripts/check_format.sh"
    build "$root/build-ci" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLMSE_WERROR=ON -DCLMSE_PYTHON=ON
    run_tests "$root/build-ci"
    # The device suites on the two other implementations, each shown alone to the ICD loader:
    # rusticl (llvmpipe: no fp64, GPU-like SIMD, a loop cap) and Oclgrind (data races,
    # uninitialized values, bad accesses; any report fails; CLMSE_TEST_SCALE=small).
    "$root/scripts/run_impl.sh" rusticl "$root/build-ci"
    "$root/scripts/run_impl.sh" oclgrind "$root/build-ci"
    # Memcheck over the host suites, the errors suite and the clmse tool. The other device
    # suites stay with ASan: under valgrind, POCL spends minutes compiling each kernel.
    "$root/scripts/valgrind.sh" "$root/build-ci"
    # Install into a prefix, build the examples with find_package and pkg-config, build the
    # .deb and (as root) install it. Not on the sanitizer build: its library needs ASan's runtime.
    "$root/scripts/check_install.sh" "$root/build-ci"
    # A Release build (the demo's type) with -Werror, compiled only: gcc's -O3 inlining warns
    # (maybe-uninitialized) where RelWithDebInfo's -O2 does not.
    build "$root/build-release" -DCMAKE_BUILD_TYPE=Release -DCLMSE_WERROR=ON
    build "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DCLMSE_WERROR=ON -DCLMSE_SANITIZE=ON
    # Every installed implementation but Mesa's clover, whose leak no suppression can name
    # (tests/lsan.supp says why); rusticl stays, its leak is suppressed by library.
    vendors=$root/build-asan/icd/all-but-clover
    rm -rf "$vendors" && mkdir -p "$vendors"
    find /etc/OpenCL/vendors -name '*.icd' ! -name mesa.icd -exec cp {} "$vendors/" \;
    OCL_ICD_VENDORS=$vendors run_tests "$root/build-asan"
    # ThreadSanitizer over the thread-stress suite and the shared-context tests.
    echo "== ThreadSanitizer"
    "$root/scripts/tsan.sh" "$root/build-tsan"
    # A short burst of each libFuzzer target over its seed corpus (scripts/fuzz.sh runs 10^6).
    echo "== fuzzing"
    CC=clang build "$root/build-fuzz" -DCLMSE_FUZZ=ON -DBUILD_SHARED_LIBS=OFF \
        -DCLMSE_BUILD_TESTS=OFF -DCLMSE_BUILD_CLI=OFF -DCLMSE_BUILD_BENCH=OFF -DCLMSE_WERROR=ON
    ctest --test-dir "$root/build-fuzz" --output-on-failure --no-tests=error -L fuzz
    echo "== all tests passed"
    ;;
esac
