#!/usr/bin/env bash
# examples/detector-streak, a third-party detector with per-patient state in the host's keyed
# state: it builds with CMake and find_package(bppipe) against the installed SDK alone, loads,
# flags the third consecutive high reading of a patient (and no other patient's), and with
# state_file a second run continues the counts where the first left them.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
"$CMAKE_COMMAND" --install "$BPPIPE_BUILD_DIR" --component dev --prefix "$t/prefix" >"$t/log" 2>&1
check "the SDK installs" "[ $? = 0 ] && [ -f '$t/prefix/include/bppipe/plugin.h' ]"
"$CMAKE_COMMAND" -S "$BPPIPE_SOURCE_DIR/examples/detector-streak" -B "$t/ex" \
    -DCMAKE_PREFIX_PATH="$t/prefix" >"$t/ex.log" 2>&1 && "$CMAKE_COMMAND" --build "$t/ex" >>"$t/ex.log" 2>&1
check "examples/detector-streak builds with find_package(bppipe) against the install" \
    "[ $? = 0 ] && [ -f '$t/ex/detector-streak.so' ] && grep -q '$t/prefix/include' '$t/ex/CMakeFiles/detector-streak.dir/flags.make'"
obs() { # obs ID PATIENT MINUTE SYS
    printf '{"resourceType":"Observation","id":"%s","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2026-03-01T10:%02d:00Z","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":%s,"code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":80,"code":"mm[Hg]"}}]}\n' "$1" "$2" "$3" "$4"
}
{ obs a1 A 0 150; obs b1 B 1 150; obs a2 A 2 145; obs b2 B 3 120; obs a3 A 4 160; obs b3 B 5 150; } >"$t/1.ndjson"
{ obs b4 B 6 150; obs b5 B 7 150; obs a4 A 8 120; } >"$t/2.ndjson"
cat >"$t/p.ini" <<INI
[pipeline]
stats_interval = 0
batch_size = 2
[source.in]
plugin = source-file
path = $t/1.ndjson
[detector.streak]
plugin = detector-streak
state_file = $t/streak.state
[sink.out]
plugin = sink-file
path = $t/out1
INI
export BPPIPE_PLUGIN_PATH="$t/ex"
doc() { grep -h "\"observation_id\":\"$2\"" "$t/$1"/*.ndjson; }
"$BPPIPE" run "$t/p.ini" 2>"$t/err1"
check "run 1: the third high reading of A is flagged, with its count" \
    "[ $? = 0 ] && doc out1 a3 | grep -q streak_high && doc out1 a3 | grep -q '\"streak_count\":3' && ! doc out1 a2 | grep -q streak_high"
check "run 1: B's normal reading ends B's streak" "doc out1 b3 | grep -q '\"streak_count\":1' && ! doc out1 b3 | grep -q streak_high"
"$BPPIPE" run "$t/p.ini" -o source.in.path="$t/2.ndjson" -o sink.out.path="$t/out2" 2>"$t/err2"
check "run 2 restores the counts from the host's snapshot" "[ $? = 0 ] && grep -q 'restored 2 keys from' '$t/err2'"
check "run 2: B's streak goes on from run 1 (flagged at its third)" \
    "doc out2 b4 | grep -q '\"streak_count\":2' && doc out2 b5 | grep -q streak_high && doc out2 a4 | grep -q '\"streak_count\":0'"
exit $fail
