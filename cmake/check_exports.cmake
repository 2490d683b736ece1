# SPDX-License-Identifier: MIT
# Script mode (cmake -P): fails unless the shared library exports exactly the public API.
# Inputs: LIB (the shared library), HEADERS (the installed headers, a ;-list: include/clmse.h
# and include/clmse_tuning.h), NM (optional; default: nm).
# Every dynamic symbol the library defines must start with clmse_ (and not clmse__, the internal
# prefix) and be declared in one of HEADERS, and every `CLMSE_API <type> <name>(` declared in
# HEADERS must be among them.
cmake_minimum_required(VERSION 3.16)
if(NOT LIB OR NOT EXISTS "${LIB}")
    message(FATAL_ERROR "check_exports: LIB='${LIB}' is not a file")
endif()
if(NOT HEADERS)
    message(FATAL_ERROR "check_exports: HEADERS is empty")
endif()
foreach(_header IN LISTS HEADERS)
    if(NOT EXISTS "${_header}")
        message(FATAL_ERROR "check_exports: header '${_header}' is not a file")
    endif()
endforeach()
if(NOT NM)
    find_program(NM nm)
    if(NOT NM)
        message(FATAL_ERROR "check_exports: nm not found")
    endif()
endif()

execute_process(COMMAND "${NM}" -D --defined-only "${LIB}"
    OUTPUT_VARIABLE _nm_out ERROR_VARIABLE _nm_err RESULT_VARIABLE _nm_rc)
if(NOT _nm_rc EQUAL 0)
    message(FATAL_ERROR
            "check_exports: ${NM} -D --defined-only ${LIB} failed (${_nm_rc}): ${_nm_err}")
endif()

# Lines are "<address> <type> <name>[@version]"; absolute (A) symbols are the version nodes.
string(REPLACE "\n" ";" _nm_lines "${_nm_out}")
set(_exported "")
set(_bad "")
foreach(_line IN LISTS _nm_lines)
    if(NOT _line MATCHES "^[0-9a-fA-F]* *([A-Za-z]) ([^ @]+)")
        continue()
    endif()
    set(_type "${CMAKE_MATCH_1}")
    set(_name "${CMAKE_MATCH_2}")
    if(_type STREQUAL "A")
        continue()
    endif()
    # Symbols some linkers add to every shared object; none is ours to hide.
    if(_name MATCHES "^(_init|_fini|_edata|_end|__bss_start)$")
        continue()
    endif()
    if(_name MATCHES "^clmse_" AND NOT _name MATCHES "^clmse__")
        list(APPEND _exported "${_name}")
    else()
        list(APPEND _bad "${_name} (${_type})")
    endif()
endforeach()

# The declarations: one per line, as "CLMSE_API <return type> <name>(". Each header must
# declare at least one, so that a wrong path cannot pass unnoticed.
set(_declared "")
foreach(_header IN LISTS HEADERS)
    file(STRINGS "${_header}" _decls REGEX "^[ \t]*CLMSE_API[ \t]")
    set(_in_header 0)
    foreach(_line IN LISTS _decls)
        if(NOT _line MATCHES "CLMSE_API") # the rest of a line split at a ';'
            continue()
        endif()
        if(_line MATCHES "^[ \t]*CLMSE_API[ \t]+[^(;]*[ \t*]([A-Za-z_][A-Za-z0-9_]*)[ \t]*\\(")
            list(APPEND _declared "${CMAKE_MATCH_1}")
            math(EXPR _in_header "${_in_header} + 1")
        else()
            list(APPEND _bad "unparsed declaration: ${_line}")
        endif()
    endforeach()
    if(_in_header EQUAL 0)
        message(FATAL_ERROR "check_exports: no CLMSE_API function found in ${_header}")
    endif()
endforeach()

set(_missing "")
foreach(_fn IN LISTS _declared)
    if(NOT _fn IN_LIST _exported)
        list(APPEND _missing "${_fn}")
    endif()
endforeach()
set(_undeclared "")
foreach(_fn IN LISTS _exported)
    if(NOT _fn IN_LIST _declared)
        list(APPEND _undeclared "${_fn}")
    endif()
endforeach()

list(LENGTH _exported _n_exported)
list(LENGTH _declared _n_declared)
if(_bad OR _missing OR _undeclared)
    foreach(_list IN ITEMS _bad _missing _undeclared)
        if(NOT ${_list})
            set(${_list} "(none)")
        endif()
    endforeach()
    string(REPLACE ";" "\n  " _bad "${_bad}")
    string(REPLACE ";" "\n  " _missing "${_missing}")
    string(REPLACE ";" "\n  " _undeclared "${_undeclared}")
    string(REPLACE ";" ", " _headers "${HEADERS}")
    message(FATAL_ERROR "check_exports: ${LIB}\n"
        "exported symbols outside the public clmse_ API:\n  ${_bad}\n"
        "exported clmse_ symbols declared in none of ${_headers}:\n  ${_undeclared}\n"
        "CLMSE_API functions of ${_headers} not exported:\n  ${_missing}")
endif()
list(LENGTH HEADERS _n_headers)
message(STATUS "check_exports: ${_n_exported} symbols exported, all clmse_ and declared; "
    "all ${_n_declared} CLMSE_API functions of ${_n_headers} headers present")
