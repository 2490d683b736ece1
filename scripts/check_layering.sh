#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks that the library's source files call one another one way only: no two object files
# each use a symbol the other defines, and no longer cycle either. CTest runs it (clmse.layering)
# over the library's objects; it prints the call graph, one line per file. It reads symbol
# tables, so objects built with -flto (which hold none) cannot be checked: it refuses them.
#   scripts/check_layering.sh OBJECT...   (an argument may be a CMake list: a;b;c)
set -euo pipefail
objects=()
for a in "$@"; do
    IFS=';' read -ra parts <<<"$a"
    objects+=("${parts[@]}")
done
set -- "${objects[@]}"
[ $# -gt 0 ] || {
    echo "usage: $0 OBJECT..." >&2
    exit 2
}
nm=${NM:-nm}
name() { basename "$1" | sed 's/\.c\.o$//; s/\.o$//'; }

declare -A owner
for o in "$@"; do
    defined=0
    while read -r sym; do
        owner[$sym]=$(name "$o")
        defined=$((defined + 1))
    done < <("$nm" -g --defined-only "$o" | awk 'NF == 3 {print $3}')
    if [ "$defined" -eq 0 ]; then
        echo "check_layering: $o defines no symbol (built with -flto?): cannot check" >&2
        exit 2
    fi
done
edges=$(for o in "$@"; do
    from=$(name "$o")
    "$nm" -u "$o" | awk '{print $NF}' | while read -r sym; do
        to=${owner[$sym]:-}
        if [ -n "$to" ] && [ "$to" != "$from" ]; then echo "$from $to"; fi
    done
done | sort -u)
echo "$edges" | awk 'NF {a[$1] = a[$1] " " $2} END {for (k in a) print k " ->" a[k]}' | sort

rc=0
while read -r a b; do
    [ -n "$a" ] || continue
    if grep -qx "$b $a" <<<"$edges"; then
        echo "check_layering: $a.c and $b.c call each other" >&2
        rc=1
    fi
done <<<"$edges"
if ! tsort <<<"$edges" >/dev/null 2>&1; then
    echo "check_layering: a longer cycle of calls:" >&2
    tsort <<<"$edges" 2>&1 >/dev/null | sed 's/^/  /' >&2
    rc=1
fi
[ "$rc" -ne 0 ] || echo "check_layering: $# objects, calls go one way"
exit "$rc"
