#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Proves a built clmse installs and is usable: install into a temp prefix and build and run
# examples/host and examples/embed against it through CMake and through pkg-config (and, through
# pkg-config, a tiny consumer of the experimental clmse_tuning.h), and examples/mpi through
# CMake with 1 and 3 MPI ranks (skipped without Open MPI, except under CI=true); build
# examples/subproject, which builds clmse by add_subdirectory with its tests, CLI and bench off;
# then build the .deb with CPack and, as root, install it, do the same against the system, and
# remove it.
# The Python package: installed offline into a venv from python/ (always), and, when BUILD_DIR
# has -DCLMSE_PYTHON=ON, imported from the prefix and from the system package, where it must
# find the installed library by itself.
#   scripts/check_install.sh BUILD_DIR     (BUILD_DIR: a configured and built clmse tree)
set -euo pipefail

if [ $# -ne 1 ] || [ ! -f "$1/CMakeCache.txt" ]; then
    echo "usage: $0 BUILD_DIR   (a configured and built clmse build tree)" >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/clmse-check-install.XXXXXX")
prefix=$tmp/prefix
deb_installed=0

cleanup() {
    local rc=$?
    # Never leave the package behind, even when a step failed.
    if [ "$deb_installed" -eq 1 ]; then
        echo "== removing the clmse package after a failure" >&2
        dpkg --purge clmse >/dev/null || true
    fi
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
fail() {
    echo "check_install: $*" >&2
    exit 1
}
cache_value() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }

libdir=$(cache_value CMAKE_INSTALL_LIBDIR)
includedir=$(cache_value CMAKE_INSTALL_INCLUDEDIR)
bindir=$(cache_value CMAKE_INSTALL_BINDIR)
mandir=$(cache_value CMAKE_INSTALL_MANDIR)
mandir=${mandir:-$(cache_value CMAKE_INSTALL_DATAROOTDIR)/man} # GNUInstallDirs' default
shared=1
case "$(cache_value BUILD_SHARED_LIBS)" in
OFF | FALSE | NO | 0 | off | false | no) shared=0 ;;
esac
python_pkg=0
case "$(cache_value CLMSE_PYTHON)" in
ON | TRUE | YES | 1 | on | true | yes) python_pkg=1 ;;
esac
pydir=$(cache_value CLMSE_PYTHON_INSTALL_DIR)
cli=1
case "$(cache_value CLMSE_BUILD_CLI)" in
OFF | FALSE | NO | 0 | off | false | no) cli=0 ;;
esac
# The examples must compile cleanly under the strictest flags we ask of ourselves.
strict=(-std=c11 -Wall -Wextra -Wpedantic -Werror)
pc_static=()
[ "$shared" -eq 0 ] && pc_static=(--static)
# Kernel caches go to the temp dir, never to $HOME.
export POCL_CACHE_DIR=$tmp/pocl-cache
# The experimental header is installed beside clmse.h and usable on its own (no device needed).
cat >"$tmp/tuning.c" <<'EOF'
#include <clmse_tuning.h>
int main(void) { return clmse_size_class_of(1) == CLMSE_SIZE_SMALL ? 0 : 1; }
EOF

# run_example LABEL EXAMPLE BINARY [ENV...]: runs it; the first run of each example prints its
# output, later runs must print exactly the same (the examples are deterministic).
run_example() {
    local label=$1 name=$2 exe=$3
    shift 3
    echo "-- running $name ($label)"
    if ! env "$@" "$exe" >"$tmp/$name.out"; then
        cat "$tmp/$name.out"
        fail "$name ($label) failed"
    fi
    if [ ! -f "$tmp/$name.expected" ]; then
        cp "$tmp/$name.out" "$tmp/$name.expected"
        sed 's/^/   | /' "$tmp/$name.out"
    elif ! diff -u "$tmp/$name.expected" "$tmp/$name.out"; then
        fail "$name ($label) printed something else than its first run"
    else
        echo "   (same output as the first run)"
    fi
}

# cmake_examples LABEL WANT_DIR [CMAKE ARGS...]: builds both examples with find_package(clmse),
# checks that clmse was found under WANT_DIR, and runs them.
cmake_examples() {
    local label=$1 want=$2
    shift 2
    for name in host embed; do
        local dir=$tmp/cmake-$label-$name found
        cmake -S "$root/examples/$name" -B "$dir" -DCMAKE_C_FLAGS=-Werror "$@" >/dev/null
        found=$(sed -n 's/^clmse_DIR:PATH=//p' "$dir/CMakeCache.txt")
        case "$found" in
        "$want"/*) echo "-- $name: find_package(clmse) used $found" ;;
        *) fail "$name: find_package(clmse) found '$found', not one under $want" ;;
        esac
        cmake --build "$dir" >/dev/null
        run_example "$label, CMake" "$name" "$dir/$name"
    done
}

# mpi_example LABEL WANT_DIR [CMAKE ARGS...]: builds examples/mpi with find_package(clmse) and
# MPI, checks that clmse was found under WANT_DIR, and runs it with 1 rank, then 3 (uneven
# shards; the program fails unless every rank holds the same loss and weights). The first run
# also fills POCL's kernel cache, so the three ranks that then start together find the kernels
# built instead of all compiling them into the same folder at once. Runs are compared with
# their first as run_example does, less the timing line.
mpi_example() {
    local label=$1 want=$2 dir=$tmp/cmake-$1-mpi found
    shift 2
    if ! command -v mpirun >/dev/null || ! command -v mpicc >/dev/null; then
        [ "${CI:-}" = true ] &&
            fail "examples/mpi needs Open MPI: apt-get install libopenmpi-dev openmpi-bin"
        echo "-- mpi: skipped, no Open MPI (apt-get install libopenmpi-dev openmpi-bin)"
        return 0
    fi
    cmake -S "$root/examples/mpi" -B "$dir" -DCMAKE_C_FLAGS=-Werror "$@" >/dev/null
    found=$(sed -n 's/^clmse_DIR:PATH=//p' "$dir/CMakeCache.txt")
    case "$found" in
    "$want"/*) echo "-- mpi: find_package(clmse) used $found" ;;
    *) fail "mpi: find_package(clmse) found '$found', not one under $want" ;;
    esac
    cmake --build "$dir" >/dev/null
    for np in 1 3; do
        local name=mpi_train-np$np
        echo "-- running mpirun -np $np mpi_train ($label, CMake)"
        # Open MPI refuses root without both variables; --oversubscribe: 3 ranks on 2 cores.
        if ! env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe \
            --mca btl self,vader -np "$np" "$dir/mpi_train" >"$tmp/$name.out"; then
            cat "$tmp/$name.out"
            fail "mpirun -np $np mpi_train ($label) failed"
        fi
        sed -i '/^time per step: /d' "$tmp/$name.out"
        if [ ! -f "$tmp/$name.expected" ]; then
            cp "$tmp/$name.out" "$tmp/$name.expected"
            sed 's/^/   | /' "$tmp/$name.out"
        elif ! diff -u "$tmp/$name.expected" "$tmp/$name.out"; then
            fail "mpirun -np $np mpi_train ($label) printed something else than its first run"
        else
            echo "   (same output as the first run, but for the time per step)"
        fi
    done
}

# pkgconfig_examples LABEL [VAR=VALUE...]: builds both examples with plain cc and
# `pkg-config --cflags --libs clmse` under the given environment, and runs them.
pkgconfig_examples() {
    local label=$1 flags libs_dir
    shift
    flags=$(env "$@" pkg-config "${pc_static[@]}" --cflags --libs clmse)
    libs_dir=$(env "$@" pkg-config --variable=libdir clmse)
    echo "-- pkg-config --cflags --libs clmse: $flags"
    for name in host embed; do
        local exe=$tmp/pc-$label-$name
        # shellcheck disable=SC2086 # the flags are words
        ${CC:-cc} "${strict[@]}" "$root/examples/$name/$name.c" -o "$exe" $flags
        run_example "$label, pkg-config" "$name" "$exe" "LD_LIBRARY_PATH=$libs_dir"
    done
    # shellcheck disable=SC2086 # the flags are words
    ${CC:-cc} "${strict[@]}" "$tmp/tuning.c" -o "$tmp/pc-$label-tuning" $flags
    env "LD_LIBRARY_PATH=$libs_dir" "$tmp/pc-$label-tuning" ||
        fail "a consumer of clmse_tuning.h ($label, pkg-config) failed"
    echo "-- clmse_tuning.h: a consumer built and ran ($label, pkg-config)"
}

# python_import LABEL WANT_LIBRARY [VAR=VALUE...]: imports the clmse package with Debian's
# python3 (CLMSE_LIBRARY unset), checks which library it loaded and computes a loss.
python_import() {
    local label=$1 want=$2 got
    shift 2
    got=$(env -u CLMSE_LIBRARY "$@" /usr/bin/python3 -c '
import clmse, numpy as np
loss = clmse.mse_loss(np.float32([2.5, 3.1, 4.8]), np.float32([2.0, 3.3, 5.0]))
assert abs(float(loss) - 0.11) < 1e-6, loss
print(clmse.__file__, clmse.library_path)') || fail "the Python package ($label) failed"
    echo "-- python3: $got"
    [ "${got#* }" = "$want" ] || fail "the Python package ($label) loaded ${got#* }, not $want"
}

step "cmake --install $build --prefix <tmp>/prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
(cd "$prefix" && find . ! -type d | sed 's|^\./|   |' | sort)
need=("$includedir/clmse.h" "$includedir/clmse_tuning.h" "$libdir/cmake/clmse/clmseConfig.cmake"
    "$libdir/cmake/clmse/clmseConfigVersion.cmake" "$libdir/cmake/clmse/clmseTargets.cmake"
    "$libdir/pkgconfig/clmse.pc")
if [ "$shared" -eq 1 ]; then
    need+=("$libdir/libclmse.so")
else
    need+=("$libdir/libclmse.a")
fi
[ "$cli" -eq 1 ] && need+=("$bindir/clmse" "$mandir/man1/clmse.1")
for f in "${need[@]}"; do
    [ -e "$prefix/$f" ] || fail "not installed: $f"
done
if [ "$shared" -eq 1 ]; then
    soname=$(readelf -d "$prefix/$libdir/libclmse.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    if [ -z "$soname" ] || [ ! -e "$prefix/$libdir/$soname" ]; then
        fail "libclmse.so has no SONAME, or no file of that name: '$soname'"
    fi
    echo "-- SONAME $soname; libclmse.so -> $(readlink "$prefix/$libdir/libclmse.so")"
fi
[ -e "$prefix/$bindir/clmse-bench" ] && fail "clmse-bench is a build-tree tool; it was installed"
if [ "$cli" -eq 1 ]; then
    echo "-- installed tool: $(LD_LIBRARY_PATH=$prefix/$libdir "$prefix/$bindir/clmse" --version)"
    # The tool is a thin client of the library: no CLBlast, no OpenMP (those are clmse-bench's).
    linked=$(LD_LIBRARY_PATH=$prefix/$libdir ldd "$prefix/$bindir/clmse")
    if grep -Eiq 'clblast|gomp|libomp' <<<"$linked"; then
        fail "the installed clmse links CLBlast or OpenMP: $linked"
    fi
    echo "-- ldd clmse: no CLBlast, no OpenMP"
    if command -v groff >/dev/null; then
        warnings=$(groff -man -ww -z "$prefix/$mandir/man1/clmse.1" 2>&1)
        [ -z "$warnings" ] || fail "man page: $warnings"
        echo "-- man page: groff -man -ww reports nothing"
    fi
fi

if [ "$python_pkg" -eq 1 ]; then
    step "the Python package in the prefix: it finds <prefix>/$libdir/libclmse.so.0 itself"
    [ -f "$prefix/$pydir/clmse/_libpath.py" ] || fail "not installed: $pydir/clmse/_libpath.py"
    python_import prefix "$prefix/$libdir/libclmse.so.0" "PYTHONPATH=$prefix/$pydir"
fi

step "the Python package, offline into a venv: pip install --no-index --no-build-isolation"
if /usr/bin/python3 -c 'import ensurepip, numpy, wheel' 2>/dev/null; then
    # A copy of python/: setuptools builds in the source folder.
    cp -r "$root/python" "$tmp/python-src"
    /usr/bin/python3 -m venv --system-site-packages "$tmp/venv"
    "$tmp/venv/bin/pip" install -q --no-index --no-build-isolation "$tmp/python-src" ||
        fail "pip install of python/ failed offline"
    got=$(CLMSE_LIBRARY="$prefix/$libdir/libclmse.so.0" "$tmp/venv/bin/python" -c \
        'import clmse, numpy as np; print(clmse.__file__, clmse.mse_loss(np.ones(3), np.zeros(3)))') ||
        fail "the venv's clmse failed"
    case "$got" in
    "$tmp/venv/"*" 1.0") echo "-- venv: $got" ;;
    *) fail "the venv's clmse: $got" ;;
    esac
elif [ "${CI:-}" = true ]; then
    fail "/usr/bin/python3 lacks venv (ensurepip), numpy or wheel: apt-get install python3-venv python3-numpy python3-wheel"
else
    echo "-- skipped: /usr/bin/python3 lacks venv (ensurepip), numpy or wheel"
fi

step "examples against the prefix: find_package(clmse CONFIG) with CMAKE_PREFIX_PATH"
cmake_examples prefix "$prefix" "-DCMAKE_PREFIX_PATH=$prefix"
mpi_example prefix "$prefix" "-DCMAKE_PREFIX_PATH=$prefix"

step "examples against the prefix: cc \$(pkg-config --cflags --libs clmse)"
pkgconfig_examples prefix "PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig"

step "examples/subproject: clmse built by add_subdirectory inside a consumer"
sub=$tmp/subproject
cmake -S "$root/examples/subproject" -B "$sub" -DCLMSE_SOURCE_DIR="$root" \
    -DCMAKE_C_FLAGS=-Werror >/dev/null
for opt in CLMSE_BUILD_TESTS CLMSE_BUILD_CLI CLMSE_BUILD_BENCH; do
    v=$(sed -n "s/^$opt:BOOL=//p" "$sub/CMakeCache.txt")
    [ "$v" = OFF ] || fail "as a subproject, $opt is '$v', not OFF"
done
for d in tests tools bench; do
    [ ! -e "$sub/clmse/$d" ] || fail "as a subproject, clmse configured its $d/ folder"
done
[ ! -e "$sub/CPackConfig.cmake" ] || fail "as a subproject, clmse set up CPack"
echo "-- CLMSE_BUILD_TESTS, CLMSE_BUILD_CLI and CLMSE_BUILD_BENCH default to OFF"
cmake --build "$sub" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
run_example "subproject" host "$sub/subproject"

step "cpack -G DEB in $build"
rm -f "$build"/clmse_*.deb
(cd "$build" && cpack -G DEB >/dev/null)
debs=("$build"/clmse_*.deb)
[ -f "${debs[0]}" ] || fail "cpack wrote no clmse_*.deb"
deb=${debs[0]}
echo "-- $deb"
dpkg-deb --field "$deb" Package Version Architecture Depends Recommends | sed 's/^/   /'
if dpkg-deb --field "$deb" Depends | grep -Eiq 'clblast|gomp|libomp'; then
    fail "the package depends on CLBlast or OpenMP: $(dpkg-deb --field "$deb" Depends)"
fi
if [ "$python_pkg" -eq 1 ]; then
    dpkg-deb --field "$deb" Depends | grep -Eq '(^|, )python3( |,|$)' ||
        fail "CLMSE_PYTHON=ON, but the package does not depend on python3"
    [ "$(dpkg-deb --field "$deb" Recommends)" = "python3-numpy, python3-torch, python3-pyopencl" ] ||
        fail "Recommends is '$(dpkg-deb --field "$deb" Recommends)'"
    # Not `dpkg-deb | grep -q`: grep's early exit would break dpkg-deb's pipe (pipefail).
    grep -q "/$pydir/clmse/_libpath.py" <<<"$(dpkg-deb --contents "$deb")" ||
        fail "the package lacks $pydir/clmse/_libpath.py"
fi
dpkg-deb --contents "$deb" | awk '{print "   " $6 ($7 ? " " $7 " " $8 : "")}'

if [ "$(id -u)" -ne 0 ]; then
    step "skipping dpkg -i of the package: not root (CI runs this as root)"
elif dpkg-query -W -f='${Status}' clmse 2>/dev/null | grep -q "install ok installed"; then
    step "skipping dpkg -i of the package: a clmse package is already installed; not touching it"
else
    step "dpkg -i $(basename "$deb")"
    deb_installed=1
    dpkg -i "$deb" >/dev/null ||
        fail "dpkg -i failed; its dependencies (ocl-icd-opencl-dev) may be missing"

    step "examples against the system package: find_package(clmse CONFIG), no prefix"
    cmake_examples system /usr
    mpi_example system /usr

    step "examples against the system package: cc \$(pkg-config --cflags --libs clmse)"
    pkgconfig_examples system "PKG_CONFIG_PATH="
    if [ "$cli" -eq 1 ]; then
        echo "-- $(command -v clmse): $(clmse --version)"
        if command -v man >/dev/null; then
            echo "-- man -w clmse: $(man -w clmse)"
        fi
    fi

    if [ "$python_pkg" -eq 1 ]; then
        step "the Python package from the system package: import clmse, no PYTHONPATH"
        python_import system "/usr/$libdir/libclmse.so.0"
    fi

    step "dpkg --purge clmse (dpkg -r would leave it in state rc)"
    dpkg --purge clmse >/dev/null
    deb_installed=0
    if dpkg-query -W clmse >/dev/null 2>&1 || [ -e /usr/include/clmse.h ] ||
        [ -e /usr/include/clmse_tuning.h ]; then
        fail "dpkg --purge left clmse behind"
    fi
fi

step "install checks passed"
