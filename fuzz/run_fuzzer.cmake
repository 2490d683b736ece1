# SPDX-License-Identifier: MIT
# cmake -DFUZZER= -DCORPUS= -DWORK= -DRUNS= [-DSECONDS=] [-DDICT=] -P run_fuzzer.cmake: RUNS
# executions of one fuzzer from CORPUS, or SECONDS if that comes first (a bound for slow CI
# machines); new inputs and any crash input land in WORK, never in CORPUS.
foreach(_var IN ITEMS FUZZER CORPUS WORK RUNS)
    if(NOT DEFINED ${_var} OR "${${_var}}" STREQUAL "")
        message(FATAL_ERROR "run_fuzzer.cmake: -D${_var}=... is required")
    endif()
endforeach()

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/corpus")
set(_args -runs=${RUNS} -print_final_stats=1 -artifact_prefix=${WORK}/)
if(SECONDS)
    list(APPEND _args -max_total_time=${SECONDS})
endif()
if(DICT)
    list(APPEND _args -dict=${DICT})
endif()
# libFuzzer reads every corpus directory given and writes new inputs to the first alone.
execute_process(COMMAND "${FUZZER}" ${_args} "${WORK}/corpus" "${CORPUS}"
                RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
    file(GLOB _crashes "${WORK}/crash-*" "${WORK}/leak-*" "${WORK}/timeout-*" "${WORK}/oom-*")
    message(FATAL_ERROR "${FUZZER} failed (${_rc}); reproduce with: ${FUZZER} ${_crashes}")
endif()
