# bppipe_add_plugin(NAME SOURCES src... [LIBS lib...])
# Builds plugins/NAME.so into the build tree's plugins/ folder. Plugins are linked with
# --no-undefined: they may use the libraries they name and nothing from the executable.
# It is installed into the plugin dir as part of the install component (and so the .deb)
# BPPIPE_PLUGIN_COMPONENT_<NAME> names, `runtime` (the bppipe package) when unset.
function(bppipe_add_plugin name)
  cmake_parse_arguments(P "" "" "SOURCES;LIBS" ${ARGN})
  add_library(${name} MODULE ${P_SOURCES})
  set_target_properties(${name} PROPERTIES
    PREFIX "" OUTPUT_NAME "${name}"
    LIBRARY_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/plugins"
    C_VISIBILITY_PRESET hidden)
  target_include_directories(${name} PRIVATE "${PROJECT_SOURCE_DIR}/include")
  if(NOT BPPIPE_SANITIZE AND NOT BPPIPE_TSAN)
    # With sanitizers the runtime lives in the executable, so --no-undefined cannot hold.
    target_link_options(${name} PRIVATE "-Wl,--no-undefined")
  endif()
  target_link_libraries(${name} PRIVATE ${P_LIBS})
  set(component runtime)
  if(DEFINED BPPIPE_PLUGIN_COMPONENT_${name})
    set(component "${BPPIPE_PLUGIN_COMPONENT_${name}}")
  endif()
  install(TARGETS ${name} LIBRARY DESTINATION "${BPPIPE_INSTALL_PLUGIN_DIR}"
          COMPONENT "${component}")
endfunction()
