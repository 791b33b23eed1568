# Layers: one static library per folder of src/, with its dependencies on
# other folders declared, and two checks that make the declaration binding
# (docs/DESIGN.md §9):
#
#  1. At configure time the declared graph must be acyclic. CMake itself
#     accepts cycles between static libraries (it repeats them on the link
#     line), so without this a cycle would build and grow unnoticed.
#  2. At build time every #include "<folder>/..." in src/<folder>/ must name
#     a folder the layer may see: itself, its declared dependencies, and
#     what those export PUBLIC. The same holds for the third-party headers
#     we police (OpenSSL, Cyrus SASL, libcurl, LMDB, Berkeley DB, Boost.Log):
#     a layer sees one only if it, or a PUBLIC dependency it sees, declares
#     it. All layers share the include root src/, so the compiler alone
#     could not tell a legal include from an illegal one.
#
# The graph functions (_authrelay_layer_*) work on plain variables so the
# self-tests in tests/layers/ can run them in script mode (cmake -P).

# Every third-party header prefix a layer may declare with EXTERNAL_*.
set(AUTHRELAY_POLICED_HEADERS openssl/ sasl/ curl/ lmdb.h db.h boost/log/ nlohmann/ sha2.h)

# Fails with the cycle spelled out ("smtp -> config -> smtp") if the graph
# held in AUTHRELAY_LAYER_<name>_DEPS over the names in layers has one.
function(_authrelay_layer_check_acyclic layers)
  foreach(l IN LISTS layers)
    set(state_${l} 0)  # 0 unvisited, 1 on the current path, 2 done
  endforeach()
  foreach(start IN LISTS layers)
    if(NOT state_${start} EQUAL 0)
      continue()
    endif()
    # Iterative DFS: the stack holds "layer" entries; path the current chain.
    set(path ${start})
    set(state_${start} 1)
    set(next_${start} ${AUTHRELAY_LAYER_${start}_DEPS})
    while(path)
      list(GET path -1 top)
      if(next_${top})
        list(POP_FRONT next_${top} dep)
        if(NOT DEFINED state_${dep})
          message(FATAL_ERROR "layer ${top} depends on ${dep}, which is not a declared layer")
        endif()
        if(state_${dep} EQUAL 1)
          list(FIND path ${dep} at)
          list(SUBLIST path ${at} -1 cycle)
          list(APPEND cycle ${dep})
          list(JOIN cycle " -> " text)
          message(FATAL_ERROR "layer dependency cycle: ${text}\n"
                              "Folders must form layers; move the shared piece down instead.")
        elseif(state_${dep} EQUAL 0)
          set(state_${dep} 1)
          set(next_${dep} ${AUTHRELAY_LAYER_${dep}_DEPS})
          list(APPEND path ${dep})
        endif()
      else()
        set(state_${top} 2)
        list(POP_BACK path)
      endif()
    endwhile()
  endforeach()
endfunction()

# out_var = the public closure of layer l (l and, recursively, its PUBLIC deps).
function(_authrelay_layer_public_closure l out_var)
  set(seen "")
  set(todo ${l})
  while(todo)
    list(POP_FRONT todo x)
    if(x IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${x})
    list(APPEND todo ${AUTHRELAY_LAYER_${x}_PUBLIC})
  endwhile()
  set(${out_var} ${seen} PARENT_SCOPE)
endfunction()

# Writes the visibility table the include check reads: for each layer the
# folders and the policed third-party headers its files may include.
function(_authrelay_layer_write_table layers file)
  set(text "set(AUTHRELAY_LAYERS ${layers})\nset(AUTHRELAY_POLICED_HEADERS ${AUTHRELAY_POLICED_HEADERS})\n")
  foreach(l IN LISTS layers)
    set(visible ${l})
    foreach(d IN LISTS AUTHRELAY_LAYER_${l}_DEPS)
      _authrelay_layer_public_closure(${d} c)
      list(APPEND visible ${c})
    endforeach()
    list(REMOVE_DUPLICATES visible)
    set(ext ${AUTHRELAY_LAYER_${l}_EXT_PRIVATE})
    foreach(v IN LISTS visible)
      list(APPEND ext ${AUTHRELAY_LAYER_${v}_EXT_PUBLIC})
    endforeach()
    list(REMOVE_DUPLICATES ext)
    string(APPEND text "set(AUTHRELAY_LAYER_${l}_VISIBLE ${visible})\nset(AUTHRELAY_LAYER_${l}_EXT \"${ext}\")\n")
  endforeach()
  file(WRITE ${file} "${text}")
endfunction()

# authrelay_layer(<folder>
#   [PUBLIC <folders>...]  [PRIVATE <folders>...]     our layers
#   [LINK_PUBLIC <targets>...] [LINK_PRIVATE <targets>...]  third-party
#   [EXTERNAL_PUBLIC <header prefixes>...] [EXTERNAL_PRIVATE <prefixes>...])
# Makes the static library authrelay_<folder> from src/<folder>/*.cc.
# PUBLIC: the folder's headers include that layer's headers.
function(authrelay_layer name)
  cmake_parse_arguments(L "" "" "PUBLIC;PRIVATE;LINK_PUBLIC;LINK_PRIVATE;EXTERNAL_PUBLIC;EXTERNAL_PRIVATE" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${name}/*.cc)
  file(GLOB hdrs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${name}/*.h)
  add_library(authrelay_${name} STATIC ${srcs} ${hdrs})
  target_include_directories(authrelay_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(authrelay_${name} PRIVATE ${AUTHRELAY_WARNINGS} ${AUTHRELAY_HARDENING})
  list(TRANSFORM L_PUBLIC PREPEND authrelay_ OUTPUT_VARIABLE pub)
  list(TRANSFORM L_PRIVATE PREPEND authrelay_ OUTPUT_VARIABLE priv)
  target_link_libraries(authrelay_${name} PUBLIC ${pub} ${L_LINK_PUBLIC} PRIVATE ${priv} ${L_LINK_PRIVATE})
  set_property(GLOBAL APPEND PROPERTY AUTHRELAY_LAYERS ${name})
  foreach(k PUBLIC PRIVATE EXTERNAL_PUBLIC EXTERNAL_PRIVATE)
    set_property(GLOBAL PROPERTY AUTHRELAY_LAYER_${name}_${k} ${L_${k}})
  endforeach()
endfunction()

# Call once after every authrelay_layer(): checks the graph, writes the
# table and adds the build-time include check (target authrelay_layers,
# built by default; every layer library waits for it).
function(authrelay_check_layers)
  get_property(layers GLOBAL PROPERTY AUTHRELAY_LAYERS)
  foreach(l IN LISTS layers)
    foreach(k PUBLIC PRIVATE EXTERNAL_PUBLIC EXTERNAL_PRIVATE)
      get_property(AUTHRELAY_LAYER_${l}_${k} GLOBAL PROPERTY AUTHRELAY_LAYER_${l}_${k})
    endforeach()
    set(AUTHRELAY_LAYER_${l}_EXT_PUBLIC ${AUTHRELAY_LAYER_${l}_EXTERNAL_PUBLIC})
    set(AUTHRELAY_LAYER_${l}_EXT_PRIVATE ${AUTHRELAY_LAYER_${l}_EXTERNAL_PRIVATE})
    set(AUTHRELAY_LAYER_${l}_DEPS ${AUTHRELAY_LAYER_${l}_PUBLIC} ${AUTHRELAY_LAYER_${l}_PRIVATE})
  endforeach()
  _authrelay_layer_check_acyclic("${layers}")
  set(table ${CMAKE_BINARY_DIR}/layers-table.cmake)
  _authrelay_layer_write_table("${layers}" ${table})

  set(files "")
  foreach(l IN LISTS layers)
    file(GLOB f CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${l}/*.cc ${PROJECT_SOURCE_DIR}/src/${l}/*.h)
    list(APPEND files ${f})
  endforeach()
  set(stamp ${CMAKE_BINARY_DIR}/layers.stamp)
  add_custom_command(OUTPUT ${stamp}
    COMMAND ${CMAKE_COMMAND} -DTABLE=${table} -DSRC=${PROJECT_SOURCE_DIR}/src
            -P ${PROJECT_SOURCE_DIR}/cmake/CheckLayerIncludes.cmake
    COMMAND ${CMAKE_COMMAND} -E touch ${stamp}
    DEPENDS ${files} ${table} ${PROJECT_SOURCE_DIR}/cmake/CheckLayerIncludes.cmake
    COMMENT "Checking that every #include respects the layers"
    VERBATIM)
  add_custom_target(authrelay_layers ALL DEPENDS ${stamp})
  foreach(l IN LISTS layers)
    add_dependencies(authrelay_${l} authrelay_layers)
  endforeach()
endfunction()
