#!/usr/bin/env bash
# An install (cmake --install) finds its own plugins with nothing configured, from any
# working directory, and installs the header a plugin author builds against.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
"$CMAKE_COMMAND" --install "$BPPIPE_BUILD_DIR" --prefix "$t/prefix" >"$t/log" 2>&1
check "install succeeds" "[ $? = 0 ]"
check "executable installed" "[ -x '$t/prefix/bin/bppipe' ]"
check "header installed" "[ -f '$t/prefix/include/bppipe/plugin.h' ]"
libdir=$(ls -d "$t"/prefix/lib*/bppipe/plugins 2>/dev/null | head -n1)
check "plugins installed" "[ -n '$libdir' ] && [ -f '$libdir/sink-file.so' ]"
(cd "$t" && env -u BPPIPE_PLUGIN_PATH "$t/prefix/bin/bppipe" plugins >"$t/plugins" 2>&1)
check "installed bppipe lists its installed plugins" "grep -q '^sink-file ' '$t/plugins' && grep -q '$libdir/sink-file.so' '$t/plugins'"
check "and not the build tree's" "! grep -q '$BPPIPE_BUILD_DIR' '$t/plugins'"
# the pipelines find the model and the index template from the shared folder, as in the source tree
share="$t/prefix/share/bppipe"
check "pipelines, model and deploy/ installed side by side" \
    "[ -f '$share/pipelines/ward.ini' ] && [ -f '$share/models/bp_logreg.json' ] && [ -f '$share/deploy/elasticsearch/bp-anomalies-template.json' ] && [ -x '$share/deploy/kibana/setup.sh' ]"
(cd "$share" && env -u BPPIPE_PLUGIN_PATH "$t/prefix/bin/bppipe" check --offline pipelines/ward.ini \
    -o sink.anomalies.url=http://127.0.0.1:1 -o sink.anomalies.connect_timeout_ms=200 \
    -o sink.anomalies.install_template=true \
    -o sink.anomalies.ilm_policy=deploy/elasticsearch/bp-anomalies-ilm.json >"$t/ward-check" 2>&1)
check "the installed ward.ini checks out from there, with the shipped model and template" \
    "[ $? = 0 ] && grep -q 'model models/bp_logreg.json: clinical features' '$t/ward-check'"
# the header is self-contained C99: a plugin compiles against it alone
cat >"$t/mine.c" <<'C'
#include <bppipe/plugin.h>
static int o(const bp_host *h, bp_ctx *c, void **s) { (void)h; (void)c; *s = 0; return BP_OK; }
static void cl(void *s) { (void)s; }
static int d(void *s, bp_batch *b) { (void)s; (void)b; return BP_OK; }
static const bp_plugin desc = {.struct_size = sizeof(bp_plugin), .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR, .name = "detector-mine", .version = "1", .kind = BP_KIND_DETECTOR,
    .description = "mine", .open = o, .close = cl, .detect = d};
BP_PLUGIN(desc)
C
cc -std=c99 -Wall -Wextra -Werror -pedantic -shared -fPIC -fvisibility=hidden \
    -I"$t/prefix/include" "$t/mine.c" -o "$t/detector-mine.so" 2>"$t/cc"
check "a plugin builds against the installed header alone (C99, -pedantic)" "[ $? = 0 ]"
BPPIPE_PLUGIN_PATH="$t" "$t/prefix/bin/bppipe" plugins detector-mine >"$t/one" 2>&1
check "and the installed bppipe loads it" "grep -q 'detector-mine 1 (detector plugin' '$t/one'"
# the shipped out-of-tree example builds with its own Makefile against the install alone
cp "$BPPIPE_SOURCE_DIR"/examples/detector-pulse-pressure/* "$t/" 2>/dev/null
make -s -C "$t" PREFIX="$t/prefix" >"$t/make" 2>&1
check "examples/detector-pulse-pressure builds against the installed SDK" "[ $? = 0 ] && [ -f '$t/detector-pulse-pressure.so' ]"
BPPIPE_PLUGIN_PATH="$t" "$t/prefix/bin/bppipe" plugins detector-pulse-pressure >"$t/one" 2>&1
check "and loads, with its options" "grep -q 'wide_above' '$t/one'"
# the SDK for plugin authors: pkg-config file, CMake package, the guide (docs/packaging.md)
check "pkg-config file, CMake package and plugin guide installed" \
    "[ -n \"\$(find '$t/prefix' -path '*/pkgconfig/bppipe-plugin.pc')\" ] && [ -n \"\$(find '$t/prefix' -path '*/cmake/bppipe/bppipeConfig.cmake')\" ] && [ -f '$t/prefix/share/doc/bppipe/plugin-guide.md' ]"
"$CMAKE_COMMAND" -S "$BPPIPE_SOURCE_DIR/examples/detector-pulse-pressure" -B "$t/ex" \
    -DCMAKE_PREFIX_PATH="$t/prefix" >"$t/ex.log" 2>&1 && "$CMAKE_COMMAND" --build "$t/ex" >>"$t/ex.log" 2>&1
check "examples/detector-pulse-pressure builds with CMake and find_package(bppipe) against the install" \
    "[ $? = 0 ] && [ -f '$t/ex/detector-pulse-pressure.so' ] && grep -q '$t/prefix/include' '$t/ex/CMakeFiles/detector-pulse-pressure.dir/flags.make'"
exit $fail
