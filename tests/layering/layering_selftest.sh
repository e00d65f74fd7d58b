#!/usr/bin/env bash
# The layering check catches what it promises: a copy of the tree passes as it is, and each
# planted problem (a wrong-way include, a two-file cycle, a plugin including a host header, a
# typo, an ambiguous header, lib/ including src/, a plugin target in the host's CMake, a known
# violation that no longer occurs, a broken table, docs that show another table or miss a
# file) fails it with its own line.
set -u
src=${1:-$BPPIPE_SOURCE_DIR}
py=${BPPIPE_PYTHON3:-/usr/bin/python3}
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT

for d in src lib include plugins examples tools; do
    mkdir -p "$t/pristine/$d"
    cp -R "$src/$d/." "$t/pristine/$d/"
done
mkdir -p "$t/pristine/docs"
cp "$src/docs/architecture.md" "$t/pristine/docs/"

# fresh: a new copy of the untouched tree in $t/tree.
fresh() {
    rm -rf "$t/tree"
    cp -R "$t/pristine" "$t/tree"
}
# run: the check on $t/tree; its output in $t/out (shown, so the log holds the evidence).
run() {
    "$py" "$t/tree/tools/layering/check_layers.py" "$t/tree" >"$t/out" 2>&1
    rc=$?
    sed 's/^/     | /' "$t/out"
}
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
# expect TITLE LINE...: the check printed exactly this line (its pieces joined).
expect() {
    local title=$1 line
    shift
    line=$(printf '%s' "$@")
    if grep -qxF -- "$line" "$t/out"; then echo "ok   $title"; else
        echo "FAIL $title: no line \"$line\""
        fail=1
    fi
}

echo "== the unmodified copy"
fresh
run
check "the unmodified copy passes" "[ $rc = 0 ] && grep -q '^ok ' '$t/out'"

echo "== (a) a wrong-way include: src/base includes src/ops"
fresh
echo '#include "ops/metrics.h"' >>"$t/tree/src/base/arena.c"
run
check "exit 1" "[ $rc = 1 ]"
expect "the wrong-way line names file, header and the two folders" \
    'FAIL wrong-way include: src/base/arena.c includes "ops/metrics.h": ' \
    'src/base may not include src/ops'

echo "== (b) a two-file include cycle"
fresh
printf '#include "base/ring_b.h"\n' >"$t/tree/src/base/ring_a.h"
printf '#include "base/ring_a.h"\n' >"$t/tree/src/base/ring_b.h"
echo '| ring_a.h, ring_b.h | planted |' >>"$t/tree/docs/architecture.md"
run
check "exit 1" "[ $rc = 1 ]"
expect "the cycle is printed" \
    'FAIL include cycle: src/base/ring_a -> src/base/ring_b -> src/base/ring_a'
expect "with the includes that make it" \
    '       (src/base/ring_a.h includes "base/ring_b.h"; ' \
    'src/base/ring_b.h includes "base/ring_a.h")'
check "and nothing else" "[ \$(grep -c '^FAIL' '$t/out') = 1 ]"

echo "== (c) a plugin includes a header of the host"
fresh
echo '#include "pipeline/record.h"' >>"$t/tree/plugins/sink-file/file_names.c"
run
check "exit 1" "[ $rc = 1 ]"
expect "the plugin's line says what a plugin may include" \
    'FAIL wrong-way include: plugins/sink-file/file_names.c includes "pipeline/record.h": ' \
    'plugins/sink-file may not include src/pipeline ' \
    '(a plugin: include/, lib/ and its own folder, never the host)'

echo "== (d) lib/ includes src/"
fresh
echo '#include "base/log.h"' >>"$t/tree/lib/common/clock.c"
run
check "exit 1" "[ $rc = 1 ]"
expect "lib/common may not include src/base" \
    'FAIL wrong-way include: lib/common/clock.c includes "base/log.h": ' \
    'lib/common may not include src/base'

echo "== (e) a header that resolves nowhere, one without its folder, an ambiguous one"
fresh
echo '#include "base/lgo.h"' >>"$t/tree/src/config/config.c"
echo '#include "log.h"' >>"$t/tree/src/base/arena.c"
mkdir -p "$t/tree/plugins/sink-file/common"
cp "$t/tree/lib/common/sha256.h" "$t/tree/plugins/sink-file/common/sha256.h"
run
check "exit 1" "[ $rc = 1 ]"
expect "the typo" \
    'FAIL unresolved include: src/config/config.c includes "base/lgo.h", found nowhere'
expect "the include without its folder" \
    'FAIL unresolved include: src/base/arena.c includes "log.h", ' \
    'which names no folder: write "base/log.h"'
expect "the ambiguous header" \
    'FAIL ambiguous include: plugins/sink-file/file_names.c includes "common/sha256.h", ' \
    'found as plugins/sink-file/common/sha256.h and lib/common/sha256.h'

echo "== (f) CMake: the host names a plugin's target and file, a plugin the host's library"
fresh
echo 'target_link_libraries(bppipe_pipeline PRIVATE bp_trend)' >>"$t/tree/src/CMakeLists.txt"
echo 'target_sources(bppipe_pipeline PRIVATE ../plugins/sink-file/file_names.c)' \
    >>"$t/tree/src/CMakeLists.txt"
echo 'target_link_libraries(sink-file PRIVATE bppipe_pipeline)' \
    >>"$t/tree/plugins/sink-file/CMakeLists.txt"
run
check "exit 1" "[ $rc = 1 ]"
expect "src/ names bp_trend" \
    'FAIL cmake: src/CMakeLists.txt names bp_trend, a target defined under plugins/'
expect "src/ names a path under plugins/" \
    'FAIL cmake: src/CMakeLists.txt names plugins/sink-file/file_names.c, a path under plugins/'
expect "plugins/sink-file names bppipe_pipeline" \
    'FAIL cmake: plugins/sink-file/CMakeLists.txt names bppipe_pipeline, ' \
    'a library target defined under src/'

echo "== (g) the allow-list: a listed problem passes, a listed one that is gone fails"
fresh
printf '#include "base/ring_b.h"\n' >"$t/tree/src/base/ring_a.h"
printf '#include "base/ring_a.h"\n' >"$t/tree/src/base/ring_b.h"
echo '| ring_a.h, ring_b.h | planted |' >>"$t/tree/docs/architecture.md"
echo 'include cycle: src/base/ring_a -> src/base/ring_b -> src/base/ring_a  # planted' \
    >>"$t/tree/tools/layering/known_violations.txt"
run
check "a known violation is allowed" "[ $rc = 0 ]"
rm "$t/tree/src/base/ring_b.h"
echo '#include <stdio.h>' >"$t/tree/src/base/ring_b.h"
run
check "one that no longer occurs fails" "[ $rc = 1 ]"
expect "saying to remove it" \
    "FAIL no longer occurs, remove it from tools/layering/known_violations.txt " \
    "(line $(grep -c '' "$t/tree/tools/layering/known_violations.txt")): " \
    'include cycle: src/base/ring_a -> src/base/ring_b -> src/base/ring_a'

echo "== (h) the table itself: a cycle in it, lib/ given src/, a folder missing"
fresh
echo 'src/base : src/cli  # planted' >>"$t/tree/tools/layering/layers.txt"
run
check "a cycle in the table stops the check (exit 2)" \
    "[ $rc = 2 ] && grep -q '^FAIL layers.txt has a cycle: ' '$t/out'"
fresh
echo 'lib/kafka : src/base  # planted' >>"$t/tree/tools/layering/layers.txt"
run
check "lib/ given src/ stops the check (exit 2)" "[ $rc = 2 ]"
expect "saying why" 'FAIL layers.txt gives lib/kafka a folder of src/: only the host may'
fresh
mkdir -p "$t/tree/src/unlisted"
echo '#include "base/log.h"' >"$t/tree/src/unlisted/unlisted.c"
run
check "a folder with no line in the table fails" "[ $rc = 1 ]"
expect "naming it" 'FAIL unlisted folder: src/unlisted has no line in tools/layering/layers.txt'

echo "== (i) docs/architecture.md shows the table otherwise than layers.txt"
fresh
sed -i 's|^src/base       : lib/common |src/base       : lib/common src/ops |' \
    "$t/tree/docs/architecture.md"
run
check "exit 1" "[ $rc = 1 ]"
want='FAIL docs: docs/architecture.md shows the table otherwise than tools/layering/layers.txt: '
# the rule's number is its position in layers.txt (src/base's, counted from the `*` line)
n=$(grep -E "^[^#[:space:]]" "$src/tools/layering/layers.txt" | grep -n '^src/base ' | cut -d: -f1)
want+="rule $n is \"src/base : lib/common src/ops #"
check "the rule that differs is named" "grep -qF -- '$want' '$t/out'"

echo "== (j) a file of src/ that docs/architecture.md does not name"
fresh
echo '#include "base/log.h"' >"$t/tree/src/base/unnamed.c"
run
check "exit 1" "[ $rc = 1 ]"
expect "the file is named" \
    "FAIL docs: src/base/unnamed.c is not named in docs/architecture.md " \
    "(its folder's file table)"

exit $fail
