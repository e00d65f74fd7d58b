# Debian packages: `cmake --build BUILD --target package` writes, into BUILD,
#   bppipe                the executable, the plugins below, pipelines, model, deploy/
#   bppipe-kafka          source-kafka, sink-kafka, bppipe-broker (what `bppipe broker` runs)
#   bppipe-elasticsearch  sink-es
#   bppipe-dev            the plugin SDK (header, CMake package, pkg-config, guide, example)
# Each install() rule names its component; plugins pick theirs in
# BPPIPE_PLUGIN_COMPONENT_<name> (top-level CMakeLists.txt), the rest is `runtime`. Library
# dependencies are computed by dpkg-shlibdeps from the ELF files, never written here; the only
# Depends written are between these packages (same version), and come from the components.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME bppipe)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
if(NOT CPACK_PACKAGE_CONTACT)
  set(CPACK_PACKAGE_CONTACT "bppipe maintainers <bppipe@localhost>")
endif()
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime kafka elasticsearch dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME bppipe)
set(CPACK_DEBIAN_KAFKA_PACKAGE_NAME bppipe-kafka)
set(CPACK_DEBIAN_ELASTICSEARCH_PACKAGE_NAME bppipe-elasticsearch)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME bppipe-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# The SDK's files depend on no library; its Depends is bppipe alone.
set(CPACK_DEBIAN_DEV_PACKAGE_SHLIBDEPS OFF)

# Synopsis line, then the extended description (no CPACK_PACKAGE_DESCRIPTION_SUMMARY: CPack
# would put that one synopsis above every package's).
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "FHIR blood-pressure stream processor with plugins
bppipe judges FHIR R4 blood-pressure Observations with detector plugins and
routes them by verdict to sinks. This package holds bppipe (run, check, test,
plugins, conform, train), the plugins that need neither Kafka nor Elasticsearch,
and the shipped pipelines with the model and deploy/ in /usr/share/bppipe.
It links no Kafka library: `bppipe broker` needs bppipe-kafka.")
set(CPACK_DEBIAN_KAFKA_DESCRIPTION "bppipe Kafka plugins: source-kafka, sink-kafka, bppipe broker
source-kafka reads a consumer group and commits only what every sink has;
sink-kafka is an idempotent producer keyed by patient. The helper that
`bppipe broker` runs, an in-memory Kafka broker for development, is here too.")
set(CPACK_DEBIAN_ELASTICSEARCH_DESCRIPTION "bppipe Elasticsearch sink: sink-es
sink-es writes Elasticsearch or OpenSearch with _bulk create and stable ids,
retries only failed items and dead-letters mapping rejections.")
set(CPACK_DEBIAN_DEV_DESCRIPTION "bppipe plugin SDK
The plugin ABI header <bppipe/plugin.h>, a CMake package (find_package(bppipe),
bppipe_add_plugin()), a pkg-config file (bppipe, bppipe-plugin), the plugin
guide and an example plugin that builds and packages itself.")

include(CPack)
cpack_add_component(runtime DISPLAY_NAME "bppipe"
  DESCRIPTION "bppipe run/check/test/plugins/conform/train, the plugins without Kafka or \
Elasticsearch, the shipped pipelines with the model and deploy/")
cpack_add_component(kafka DISPLAY_NAME "Kafka plugins" DEPENDS runtime
  DESCRIPTION "source-kafka (a consumer group), sink-kafka (an idempotent producer) and \
bppipe-broker, the in-memory development broker `bppipe broker` runs")
cpack_add_component(elasticsearch DISPLAY_NAME "Elasticsearch sink" DEPENDS runtime
  DESCRIPTION "sink-es: Elasticsearch/OpenSearch _bulk create with stable ids")
cpack_add_component(dev DISPLAY_NAME "plugin SDK" DEPENDS runtime
  DESCRIPTION "<bppipe/plugin.h>, find_package(bppipe), bppipe.pc, the plugin guide, an example")
