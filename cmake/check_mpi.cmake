# SPDX-License-Identifier: MIT
# clmse.mpi: runs tests/mpi/mpi_check.c with 1, 2 and 4 ranks, twice each. Every run checks its
# own ranks (same bits everywhere, within one ulp of one process, gradients bitwise equal);
# this script checks that the two runs of each rank count print the same loss bits. Different
# rank counts are promised one ulp (each run checks it against one process), not the same
# bits: each partial carries its sum in double or compensated precision and the fold rounds
# once, so shardings can disagree only where the exact mean lies within those sums' rounding
# error of a rounding boundary. The script says whether they agreed (with this test's data, on
# POCL and rusticl, they do).
# Usage: cmake -DMPIEXEC=mpiexec -DNP_FLAG=-n -DPROGRAM=mpi_check [-DN=1000003]
#              [-DRANKS=1;2;4] [-DREPEATS=2] -P check_mpi.cmake
if(NOT RANKS)
    set(RANKS 1 2 4)
endif()
if(NOT REPEATS)
    set(REPEATS 2)
endif()

# Open MPI's options: more ranks than cores (CI machines have two), shared memory between the
# ranks of one host and nothing else (no network probing), and no single-copy (CMA) transfers,
# which containers without ptrace permission refuse. Other MPIs get none of them.
set(_flags "")
execute_process(COMMAND "${MPIEXEC}" --version OUTPUT_VARIABLE _version ERROR_VARIABLE _version
                RESULT_VARIABLE _rc)
if(_version MATCHES "Open MPI|OpenRTE")
    set(_flags --oversubscribe --mca btl self,vader --mca btl_vader_single_copy_mechanism none)
endif()

set(_first "")
set(_table "")
foreach(_np IN LISTS RANKS)
    foreach(_run RANGE 1 ${REPEATS})
        set(_cmd "${MPIEXEC}" ${_flags} ${NP_FLAG} ${_np} "${PROGRAM}" ${N})
        string(REPLACE ";" " " _shown "${_cmd}")
        message("== ${_shown}  (run ${_run})")
        execute_process(COMMAND ${_cmd} RESULT_VARIABLE _rc OUTPUT_VARIABLE _out
                        ERROR_VARIABLE _err TIMEOUT 600)
        message("${_out}${_err}")
        if(_out MATCHES "clmse\\.mpi: skipped: ")
            return() # no device: the test's SKIP_REGULAR_EXPRESSION makes it a skip
        endif()
        if(NOT _rc EQUAL 0)
            message(FATAL_ERROR "${_shown} failed (exit ${_rc})")
        endif()
        if(NOT _out MATCHES "clmse\\.mpi ranks=${_np} n=[0-9]+ loss_bits=(0x[0-9a-f]+) ")
            message(FATAL_ERROR "${_shown} printed no summary line for ${_np} ranks")
        endif()
        set(_bits ${CMAKE_MATCH_1})
        string(REGEX MATCH " step_ms=([0-9.]+)" _ "${_out}")
        string(APPEND _table "  ranks ${_np} run ${_run}: loss_bits ${_bits}, "
                             "${CMAKE_MATCH_1} ms per step\n")
        if(_run EQUAL 1)
            set(_this_np ${_bits})
        elseif(NOT _bits STREQUAL _this_np)
            message(FATAL_ERROR "${_shown} gave loss bits ${_bits}, its first run ${_this_np}:\n"
                                "${_table}")
        endif()
        if(NOT _first)
            set(_first ${_bits})
        elseif(NOT _bits STREQUAL _first)
            set(_differ TRUE)
        endif()
    endforeach()
endforeach()
if(_differ)
    message("clmse.mpi: repeated runs agree; rank counts differ within the promised ulp\n"
            "${_table}")
else()
    message("clmse.mpi: every run gave loss bits ${_first}\n${_table}")
endif()
