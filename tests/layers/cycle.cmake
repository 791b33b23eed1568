# cmake -DEDGES="a:b;b:c;..." -P cycle.cmake: runs the layer graph check of
# cmake/Layers.cmake on the given graph (tests/CMakeLists.txt feeds it one
# with a cycle, which must fail, and the real shape, which must pass).
include(${CMAKE_CURRENT_LIST_DIR}/../../cmake/Layers.cmake)
set(layers "")
foreach(e IN LISTS EDGES)
  string(REPLACE ":" ";" pair "${e}")
  list(GET pair 0 from)
  list(GET pair 1 to)
  list(APPEND layers ${from} ${to})
  list(APPEND AUTHRELAY_LAYER_${from}_DEPS ${to})
endforeach()
list(REMOVE_DUPLICATES layers)
_authrelay_layer_check_acyclic("${layers}")
message(STATUS "layer graph is acyclic")
