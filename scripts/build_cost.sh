#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The cost of building clmse's kernel programs, as DESIGN.md §5 asks to measure before caching:
# `clmse info --build` in a first process on an empty POCL kernel cache, then in a second
# process on the cache the first one filled. A one-line kernel is built first in each: it takes
# the driver's one-time start-up (POCL sets up LLVM on the first build of a process).
# Usage: scripts/build_cost.sh [BUILD_DIR]   (default: build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
clmse=$build/tools/clmse
[ -x "$clmse" ] || { echo "build_cost.sh: no $clmse; build first" >&2; exit 2; }
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
export POCL_CACHE_DIR=$cache CLMSE_TUNING_FILE=off

echo "== first process, empty driver cache ($cache)"
"$clmse" info --build | sed -n '/^program builds/,$p'
echo "== second process, same cache"
"$clmse" info --build | sed -n '/^program builds/,$p'
