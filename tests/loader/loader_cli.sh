#!/usr/bin/env bash
# The loader's refusals as a user meets them: through `bppipe check` and `bppipe plugins`.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
expect() { # expect NAME EXPECTED_STATUS PATTERN CMD...
    local name=$1 want=$2 pattern=$3
    shift 3
    "$@" >"$t/out" 2>&1
    local got=$?
    if [ "$got" != "$want" ] || ! grep -q -- "$pattern" "$t/out"; then
        echo "FAIL $name: status $got (want $want), output:"; cat "$t/out"; fail=1
    else
        echo "ok   $name"
    fi
}
pipeline() { # pipeline PLUGIN_DIR DETECTOR_PLUGIN
    cat >"$t/p.ini" <<INI
[pipeline]
plugin_path = $1
[source.in]
plugin = source-file
path = $t/p.ini
[detector.x]
plugin = $2
[sink.out]
plugin = sink-file
path = $t/out-dir
INI
}
for case in "test-abi2:built for ABI 2" "test-minor:needs ABI 1.99" \
            "test-noentry:no exported symbol" "test-misnamed:calls itself" \
            "test-notelf:not a loadable shared object" "test-incomplete:needs open, close" \
            "test-truncated:refused: truncated: segment" \
            "test-shtrunc:refused: truncated: its section header table"; do
    name=${case%%:*}; pattern=${case#*:}
    pipeline "$LOADER_DIR/bad" "$name"
    expect "check refuses $name" 2 "$pattern" "$BPPIPE" check "$t/p.ini"
    # one line per refusal, naming the file
    grep -q "$name.so" "$t/out" || { echo "FAIL $name: file not named"; fail=1; }
done
# a truncated plugin is refused by name, never a crash (SIGBUS inside dlopen before)
BPPIPE_PLUGIN_PATH="$LOADER_DIR/bad" expect "plugins NAME refuses a truncated plugin" 2 \
    "error: .*bad/test-truncated.so: refused: truncated" "$BPPIPE" plugins test-truncated
BPPIPE_PLUGIN_PATH="$LOADER_DIR/bad" expect "plugins lists a truncated plugin as refused" 0 \
    "warning: .*bad/test-truncated.so: refused: truncated" "$BPPIPE" plugins
grep -q "sink-file" "$t/out" || { echo "FAIL plugins stopped at the truncated plugin"; fail=1; }
# a shipped plugin cut short early in the search path: refused by name, not skipped over to
# the whole copy of the build tree
mkdir -p "$t/cut"
so="$BPPIPE_BUILD_DIR/plugins/detector-rules.so"
head -c $(( $(stat -c %s "$so") / 2 )) "$so" >"$t/cut/detector-rules.so"
pipeline "$t/cut" detector-rules
expect "check refuses a truncated shipped plugin" 2 \
    "\[detector.x\] key 'plugin': .*cut/detector-rules.so: refused: truncated" "$BPPIPE" check "$t/p.ini"
grep -q "shadowed, not used: .*/plugins/detector-rules.so" "$t/out" \
    || { echo "FAIL the whole copy is not named as shadowed:"; cat "$t/out"; fail=1; }
# the same name twice: the first in the search order is used, the other is shadowed
pipeline "$LOADER_DIR/dup1:$LOADER_DIR/dup2" test-dup
expect "check uses the first of two plugins of one name" 0 "is valid" "$BPPIPE" check "$t/p.ini"
grep -q "plugin 'test-dup': using .*/dup1/test-dup.so (first in the search order); shadowed, not used: .*/dup2/test-dup.so" "$t/out" \
    || { echo "FAIL check does not warn about the shadowed plugin:"; cat "$t/out"; fail=1; }
[ "$(grep -c shadowed "$t/out")" = 1 ] || { echo "FAIL the shadow warning is not given once"; fail=1; }
BPPIPE_PLUGIN_PATH="$LOADER_DIR/dup2:$LOADER_DIR/dup1" expect "plugins says which copy is used" 0 \
    "dup1/test-dup.so: shadowed by .*dup2/test-dup.so (first in the search order), not used" \
    "$BPPIPE" plugins
[ "$(grep -c '^test-dup ' "$t/out")" = 2 ] || { echo "FAIL both copies are not listed"; fail=1; }
BPPIPE_PLUGIN_PATH="$LOADER_DIR/dup2:$LOADER_DIR/dup1" expect "plugins NAME shows the copy used" 0 \
    "file: .*dup2/test-dup.so" "$BPPIPE" plugins test-dup
grep -q "shadowed, not used: .*dup1/test-dup.so" "$t/out" || { echo "FAIL plugins NAME: no shadow warning"; fail=1; }
# a plugin outside the search path cannot be named by a path
mkdir -p "$t/elsewhere"
cp "$LOADER_DIR/good/test-good.so" "$t/elsewhere/"
pipeline "$LOADER_DIR/good" ../../../../../../../../../..$t/elsewhere/test-good
expect "check refuses a plugin path" 2 "is not a plugin name" "$BPPIPE" check "$t/p.ini"
BPPIPE_PLUGIN_PATH="$LOADER_DIR/good" expect "plugins NAME refuses a path" 2 "is not a plugin name" \
    "$BPPIPE" plugins "$t/elsewhere/test-good"
pipeline "$LOADER_DIR/good" test-missing
expect "check reports a missing plugin" 2 "plugin 'test-missing' not found" "$BPPIPE" check "$t/p.ini"
pipeline "$LOADER_DIR/good" test-good
expect "check accepts a good plugin from plugin_path" 0 "is valid" "$BPPIPE" check "$t/p.ini"
BPPIPE_PLUGIN_PATH="$LOADER_DIR/good" expect "env path adds a directory" 0 "test-good" \
    "$BPPIPE" plugins
BPPIPE_PLUGIN_PATH="$LOADER_DIR/bad" expect "plugins lists refusals as warnings" 0 \
    "warning: .*test-abi2.so: refused" "$BPPIPE" plugins
expect "plugins lists the build tree's own plugins with no path set" 0 "sink-file" \
    "$BPPIPE" plugins
BPPIPE_PLUGIN_PATH="$LOADER_DIR/good" expect "plugins NAME prints options" 0 "limit" \
    "$BPPIPE" plugins test-good
exit $fail
