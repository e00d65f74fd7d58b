#!/usr/bin/env bash
# The command line: help texts, version, exit statuses, and that plugins take nothing from
# the executable.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
"$BPPIPE" --help >"$t/o" 2>&1;           check "--help exits 0" "[ $? = 0 ] && grep -q 'bppipe run FILE' '$t/o'"
"$BPPIPE" run --help >"$t/o" 2>&1;       check "run --help lists [pipeline] keys" "[ $? = 0 ] && grep -q 'batch_size' '$t/o' && grep -q -- '--max-records' '$t/o'"
"$BPPIPE" check --help >"$t/o" 2>&1;     check "check --help exits 0" "[ $? = 0 ]"
# check --help says what it checks: the file, the plugins' open(), and the services it asks
check "check --help names what open() checks and which services it asks" \
    "grep -q 'their metadata' '$t/o' && grep -q -- '--offline' '$t/o' && grep -q 'webhooks are not called' '$t/o'"
# bppipe help COMMAND is bppipe COMMAND --help
for c in run check plugins train broker version; do
    "$BPPIPE" "$c" --help >"$t/want" 2>&1
    "$BPPIPE" help "$c" >"$t/o" 2>&1
    check "help $c prints the help of $c" "[ $? = 0 ] && cmp -s '$t/want' '$t/o' && ! grep -q '^commands:' '$t/o'"
done
"$BPPIPE" help >"$t/o" 2>&1;             check "help alone prints the general help" "[ $? = 0 ] && grep -q '^commands:' '$t/o'"
"$BPPIPE" help frobnicate >"$t/o" 2>&1;  check "help of an unknown command exits 2" "[ $? = 2 ] && grep -q 'no such command' '$t/o'"
# integer bounds print as integers, an open side as "no limit"
"$BPPIPE" plugins source-faker >"$t/o" 2>&1
check "plugins prints integer bounds as integers" "grep -q 'count .* in \[0, no limit\]' '$t/o' && grep -q 'patients .* in \[1, 1000000\]' '$t/o' && ! grep -q 'e+' '$t/o'"
"$BPPIPE" run --help >"$t/o" 2>&1;       check "run --help prints no exponent" "! grep -q 'e+' '$t/o' && grep -q 'batch_size .* in \[1, 100000\]' '$t/o'"
"$BPPIPE" plugins --help >"$t/o" 2>&1;   check "plugins --help exits 0" "[ $? = 0 ]"
abi=$(sed -n 's/^#define BP_ABI_MAJOR \([0-9]*\)$/\1/p' "$BPPIPE_SOURCE_DIR/include/bppipe/plugin.h").$(sed -n 's/^#define BP_ABI_MINOR \([0-9]*\)$/\1/p' "$BPPIPE_SOURCE_DIR/include/bppipe/plugin.h")
"$BPPIPE" version >"$t/o" 2>&1;          check "version prints the header's ABI ($abi)" "[ $? = 0 ] && grep -qF 'plugin ABI $abi)' '$t/o'"
"$BPPIPE" >"$t/o" 2>&1;                  check "no command is a usage error" "[ $? = 2 ]"
"$BPPIPE" frobnicate >"$t/o" 2>&1;       check "unknown command exits 2" "[ $? = 2 ] && grep -q \"unknown command 'frobnicate'\" '$t/o'"
"$BPPIPE" run >"$t/o" 2>&1;              check "run without a file exits 2" "[ $? = 2 ]"
"$BPPIPE" run x.ini --bogus >"$t/o" 2>&1; check "unknown flag exits 2" "[ $? = 2 ] && grep -q \"unknown option '--bogus'\" '$t/o'"
"$BPPIPE" run x.ini --max-records -1 >"$t/o" 2>&1; check "bad --max-records exits 2" "[ $? = 2 ]"
"$BPPIPE" plugins no-such-plugin >"$t/o" 2>&1; check "plugins NAME for a missing plugin exits 2" "[ $? = 2 ]"
"$BPPIPE" plugins detector-rules >"$t/o" 2>&1
check "plugins NAME shows types, defaults and bounds" "grep -q 'systolic_high' '$t/o' && grep -q 'default:' '$t/o'"
"$BPPIPE" plugins >"$t/o" 2>&1
for p in source-faker source-file detector-rules sink-file; do
    check "plugins lists $p" "grep -q '^$p ' '$t/o'"
done
# --duration stops a source that never ends, cleanly
cat >"$t/live.ini" <<INI
[source.ward]
plugin = source-faker
rate = 5
[sink.out]
plugin = sink-file
path = $t/live
INI
start=$(date +%s.%N)
"$BPPIPE" run "$t/live.ini" --duration 1.5 >"$t/o" 2>&1
st=$?
took=$(python3 -c "import time; print(time.time() - $start)")
check "--duration stops the run and exits 0" "[ $st = 0 ] && python3 -c 'import sys; sys.exit(0 if 1.4 <= $took < 5 else 1)'"
check "--duration run wrote what it read" "grep -q 'in flight 0' '$t/o' && [ \$(cat '$t'/live/*.ndjson | wc -l) -gt 0 ]"
# plugins need nothing from the executable: no undefined bp_ symbols, one exported entry
for so in "$BPPIPE_BUILD_DIR"/plugins/*.so; do
    n=$(basename "$so")
    check "$n imports nothing from bppipe" "! nm -D --undefined-only '$so' | grep -q ' bp_'"
    check "$n exports bppipe_plugin" "nm -D --defined-only '$so' | grep -q ' bppipe_plugin$'"
done
exit $fail
