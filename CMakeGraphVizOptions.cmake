# cmake --graphviz=layers.dot: our layers only (docs/layers.md).
set(GRAPHVIZ_EXTERNAL_LIBS FALSE)
set(GRAPHVIZ_EXECUTABLES TRUE)
set(GRAPHVIZ_GENERATE_PER_TARGET FALSE)
set(GRAPHVIZ_GENERATE_DEPENDERS FALSE)
set(GRAPHVIZ_IGNORE_TARGETS "authrelay_all;authrelay_unit_tests;authrelay_protocol_tests;.*_fuzz;authrelay_layers;compressed_docs")
