#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks that the C and OpenCL C sources follow .clang-format; CI runs it first.
#   scripts/check_format.sh          report every file clang-format would change; exit 1 if any
#   scripts/check_format.sh --fix    rewrite them in place
set -euo pipefail
cd "$(dirname "$0")/.."

fix=0
case "${1:-}" in
--fix) fix=1 ;;
"") ;;
*)
    echo "usage: $0 [--fix]" >&2
    exit 2
    ;;
esac
# clang-format 14 (Debian 12) is the version .clang-format was written for; another version
# may format some constructs differently.
cf=${CLANG_FORMAT:-clang-format}
command -v "$cf" >/dev/null || {
    echo "check_format: $cf not found (Debian: apt-get install clang-format)" >&2
    exit 2
}
mapfile -t files < <(git ls-files '*.c' '*.h' '*.cl')
if [ ${#files[@]} -eq 0 ]; then
    echo "check_format: no C or OpenCL C files found: run it in a git checkout of clmse" >&2
    exit 2
fi
if [ "$fix" -eq 1 ]; then
    "$cf" -i "${files[@]}"
elif ! "$cf" --dry-run -Werror "${files[@]}"; then
    echo "check_format: the files above differ from .clang-format; scripts/check_format.sh" \
        "--fix rewrites them" >&2
    exit 1
fi
echo "check_format: ${#files[@]} files follow .clang-format"
