# The plugin SDK, installed by `cmake --install` and packaged as bppipe-dev: the header, a
# CMake package (find_package(bppipe) gives bppipe::plugin, bppipe_add_plugin() and the plugin
# dir), a pkg-config file, the plugin guide and the example plugin. Every file finds the others
# relative to itself, so an install or an unpacked package can be moved.
include(CMakePackageConfigHelpers)

# The ABI the header declares, for the CMake package and the .pc file.
file(STRINGS include/bppipe/plugin.h abi_lines REGEX "^#define BP_ABI_(MAJOR|MINOR) [0-9]+")
foreach(line IN LISTS abi_lines)
  if(line MATCHES "^#define BP_ABI_(MAJOR|MINOR) ([0-9]+)")
    set(BPPIPE_ABI_${CMAKE_MATCH_1} "${CMAKE_MATCH_2}")
  endif()
endforeach()
if(NOT DEFINED BPPIPE_ABI_MAJOR OR NOT DEFINED BPPIPE_ABI_MINOR)
  message(FATAL_ERROR "include/bppipe/plugin.h: BP_ABI_MAJOR/BP_ABI_MINOR not found")
endif()

set(BPPIPE_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/bppipe")
set(BPPIPE_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig")

# bppipe::plugin: what a plugin compiles against (the header alone; nothing to link).
add_library(bppipe_plugin_sdk INTERFACE)
target_include_directories(bppipe_plugin_sdk INTERFACE
  "$<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>"
  "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>")
set_target_properties(bppipe_plugin_sdk PROPERTIES EXPORT_NAME plugin)
install(TARGETS bppipe_plugin_sdk EXPORT bppipeTargets COMPONENT dev)
install(EXPORT bppipeTargets NAMESPACE bppipe:: DESTINATION "${BPPIPE_INSTALL_CMAKEDIR}"
        COMPONENT dev)

configure_package_config_file(cmake/bppipeConfig.cmake.in
  "${CMAKE_CURRENT_BINARY_DIR}/sdk/bppipeConfig.cmake"
  INSTALL_DESTINATION "${BPPIPE_INSTALL_CMAKEDIR}"
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR BPPIPE_INSTALL_PLUGIN_DIR CMAKE_INSTALL_BINDIR)
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/sdk/bppipeConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}" COMPATIBILITY SameMajorVersion)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/sdk/bppipeConfig.cmake"
              "${CMAKE_CURRENT_BINARY_DIR}/sdk/bppipeConfigVersion.cmake"
        DESTINATION "${BPPIPE_INSTALL_CMAKEDIR}" COMPONENT dev)

# pkg-config: the prefix is taken from where the .pc file lies (${pcfiledir}), not written in.
file(RELATIVE_PATH BPPIPE_PC_PREFIX_FROM_PCDIR
     "/prefix/${BPPIPE_INSTALL_PKGCONFIGDIR}" "/prefix")
string(REGEX REPLACE "/$" "" BPPIPE_PC_PREFIX_FROM_PCDIR "${BPPIPE_PC_PREFIX_FROM_PCDIR}")
configure_file(cmake/bppipe.pc.in "${CMAKE_CURRENT_BINARY_DIR}/sdk/bppipe.pc" @ONLY)
# Two names for one file: `bppipe` and `bppipe-plugin` (what a plugin's build asks for).
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/sdk/bppipe.pc"
        DESTINATION "${BPPIPE_INSTALL_PKGCONFIGDIR}" COMPONENT dev)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/sdk/bppipe.pc"
        DESTINATION "${BPPIPE_INSTALL_PKGCONFIGDIR}" RENAME bppipe-plugin.pc COMPONENT dev)

install(FILES include/bppipe/plugin.h DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/bppipe"
        COMPONENT dev)
install(FILES docs/plugin-guide.md docs/packaging.md DESTINATION "${CMAKE_INSTALL_DOCDIR}"
        COMPONENT dev)
# The example plugin's sources and build files (nothing a build left inside the folder).
install(DIRECTORY examples/ DESTINATION "${CMAKE_INSTALL_DOCDIR}/examples" COMPONENT dev
        FILES_MATCHING PATTERN "*.c" PATTERN "*.h" PATTERN "*.md" PATTERN "CMakeLists.txt"
        PATTERN "Makefile" PATTERN "build*" EXCLUDE)
