# SPDX-License-Identifier: MIT
# clmse_embed_cl(<target> FILES a.cl b.cl ...): compiles each kernel file into <target> as data.
function(clmse_embed_cl target)
    cmake_parse_arguments(ARG "" "" "FILES" ${ARGN})
    foreach(cl IN LISTS ARG_FILES)
        get_filename_component(name "${cl}" NAME_WE)
        set(out "${CMAKE_CURRENT_BINARY_DIR}/cl_${name}.c")
        add_custom_command(
            OUTPUT "${out}"
            COMMAND ${CMAKE_COMMAND} -DIN=${cl} -DOUT=${out} -DNAME=${name}
                    -P "${PROJECT_SOURCE_DIR}/cmake/embed_cl.cmake"
            DEPENDS "${cl}" "${PROJECT_SOURCE_DIR}/cmake/embed_cl.cmake"
            COMMENT "Embedding ${name}.cl"
            VERBATIM)
        target_sources(${target} PRIVATE "${out}")
    endforeach()
endfunction()
