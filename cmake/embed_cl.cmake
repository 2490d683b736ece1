# SPDX-License-Identifier: MIT
# Script mode (cmake -P): turns one .cl file into C data so the library needs no files at run
# time. Inputs: IN (the .cl file), OUT (the .c file), NAME (C identifier suffix).
file(READ "${IN}" _hex HEX)
string(LENGTH "${_hex}" _hexlen)
math(EXPR _len "${_hexlen} / 2")
# Bytes as 0x.. literals, 16 per line, so no compiler meets an over-long string literal.
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," _bytes "${_hex}")
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n    " _bytes "${_bytes}")
file(WRITE "${OUT}.tmp"
"/* Generated from ${IN} by cmake/embed_cl.cmake: do not edit. */\n"
"#include <stddef.h>\n"
"extern const char clmse__cl_${NAME}[];\n"
"extern const size_t clmse__cl_${NAME}_len;\n"
"const char clmse__cl_${NAME}[] = {\n    ${_bytes}0x00\n};\n"
"const size_t clmse__cl_${NAME}_len = ${_len};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
