# SPDX-License-Identifier: MIT
# `clmse tune` end to end: a usage error exits 2; a quick float32 tuning writes a file that the
# tool reads back, and `clmse info` run with that file shows the float32 plans as tuned.
# Usage: cmake -DCLMSE=path/to/clmse -DOUT=file.tune -P check_tune.cmake
file(REMOVE "${OUT}")
execute_process(COMMAND "${CLMSE}" tune --dtype f16 RESULT_VARIABLE _rc
                OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
if(NOT _rc EQUAL 2 OR NOT _err MATCHES "--dtype must be f32 or f64")
    message(FATAL_ERROR "clmse tune --dtype f16: exit ${_rc}, stderr: ${_err}")
endif()

execute_process(COMMAND "${CLMSE}" tune --quick --dtype f32 --output "${OUT}"
                RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
message("${_out}")
if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "clmse tune failed (exit ${_rc}): ${_err}")
endif()
string(FIND "${_out}" "tuning file: loaded ${OUT} (" _at)
if(_at EQUAL -1)
    message(FATAL_ERROR "clmse tune did not read back ${OUT}")
endif()
string(REGEX MATCHALL "f32 (small|medium|large) +n=[0-9]+ +(forward\\+fused|backward)" _rows
       "${_out}")
list(LENGTH _rows _n)
if(NOT _n EQUAL 6)
    message(FATAL_ERROR "clmse tune reported ${_n} float32 results, not 6")
endif()

set(ENV{CLMSE_TUNING_FILE} "${OUT}")
execute_process(COMMAND "${CLMSE}" info RESULT_VARIABLE _rc OUTPUT_VARIABLE _info
                ERROR_VARIABLE _err)
if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "clmse info with the tuning file failed (exit ${_rc}): ${_err}")
endif()
string(REGEX MATCHALL "\n  f32 +(forward|backward|fused) +(small|medium|large) +tuned " _tuned
       "${_info}")
list(LENGTH _tuned _n)
if(NOT _n EQUAL 9)
    message(FATAL_ERROR "clmse info shows ${_n} float32 plans as tuned, not 9:\n${_info}")
endif()
file(REMOVE "${OUT}")
