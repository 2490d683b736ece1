# SPDX-License-Identifier: MIT
# `clmse selftest` catches a wrong kernel and says where. CLMSE_KERNEL_DIR points the library at
# a copy of cl/ whose contiguous-path kernel (mse.cl) adds 1 to every squared difference; then
# `clmse selftest --quick` must exit 1, name forward and fused losses on the contiguous path
# with their dtype, plan, n, the value got and the value expected, and pass everything the
# patch leaves alone: the backward (gradients do not use the squares) and the strided path.
# A usage error exits 2.
# Usage: cmake -DCLMSE=path/to/clmse -DKERNELS=<source>/cl -DDIR=<scratch folder>
#              -P check_selftest.cmake
execute_process(COMMAND "${CLMSE}" selftest --no-such-option RESULT_VARIABLE _rc
                OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
if(NOT _rc EQUAL 2 OR NOT _err MATCHES "unknown option '--no-such-option'")
    message(FATAL_ERROR "clmse selftest --no-such-option: exit ${_rc}, stderr: ${_err}")
endif()

file(REMOVE_RECURSE "${DIR}")
file(MAKE_DIRECTORY "${DIR}")
file(GLOB _kernels "${KERNELS}/*.cl")
file(COPY ${_kernels} DESTINATION "${DIR}")
file(READ "${DIR}/mse.cl" _src)
# Every squared difference of the contiguous kernels, scalar and vector: `t = d * d;`.
string(REGEX MATCHALL "t = d \\* d;" _sites "${_src}")
list(LENGTH _sites _n)
if(_n EQUAL 0)
    message(FATAL_ERROR "cl/mse.cl no longer computes `t = d * d;`: update the wrong kernel that "
                        "cmake/check_selftest.cmake makes")
endif()
string(REPLACE "t = d * d;" "t = d * d + 1;" _src "${_src}")
file(WRITE "${DIR}/mse.cl" "${_src}")

set(ENV{CLMSE_KERNEL_DIR} "${DIR}")
execute_process(COMMAND "${CLMSE}" selftest --quick RESULT_VARIABLE _rc
                OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
# The lines hold semicolons, which CMake lists would split.
string(REPLACE ";" "," _text "${_out}")
string(REGEX MATCHALL "\nFAIL [^\n]*" _fails "${_text}")
string(REPLACE ";" "\n" _fail_text "${_fails}")
message("clmse selftest --quick with ${_n} squares patched in ${DIR}/mse.cl: exit ${_rc}\n"
        "${_fail_text}")
if(NOT _rc EQUAL 1)
    message(FATAL_ERROR "clmse selftest with a wrong kernel exited ${_rc}, not 1: ${_err}")
endif()
# One for each of forward and fused, with everything the line must name.
foreach(_op IN ITEMS forward fused)
    set(_line "\nFAIL +${_op} +(none|mean|sum) +float32 +contiguous +n=[0-9]+ +")
    string(APPEND _line "plan [a-z]+ [a-z]+ (cpu|gpu) wg=[0-9]+ [^\n]*: loss[^\n]* got [^\n]*, ")
    if(NOT _out MATCHES "${_line}expected ")
        message(FATAL_ERROR "no FAIL line names the ${_op} loss of float32 on the contiguous "
                            "path with its plan, n, got and expected:\n${_out}")
    endif()
endforeach()
if(_out MATCHES "\nFAIL +backward" OR _out MATCHES "\nFAIL [^\n]* strided/")
    message(FATAL_ERROR "selftest blamed a check the wrong kernel does not touch:\n${_fail_text}")
endif()
if(NOT _out MATCHES "\nselftest: [0-9]+ checks: [0-9]+ passed, [1-9][0-9]* failed" OR
   NOT _out MATCHES "\nfailed checks")
    message(FATAL_ERROR "the summary does not count and list the failures:\n${_out}")
endif()
file(REMOVE_RECURSE "${DIR}")
