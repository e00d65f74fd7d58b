#!/usr/bin/env bash
# sink-capture (what `bppipe test` puts in place of every sink) takes corrections and
# retractions as they come (BP_CAP_REVISIONS), and its lines keep logical_id, version and
# revision, which `expect.SINK[revision=retract]` selects (docs/testing.md). Fed by sink_feed
# until the decoders and the engine make such records.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
feed="$BPPIPE_BUILD_DIR/tests/plugins/sink_feed"
printf '%s\n' 'a1 P1 190 125 0 1 L1 1 -' 'a1c P1 130 85 0 0 L1 2 replace' \
    'a1x P1 - - 1 0 L1 3 retract' |
    "$feed" "$BPPIPE_BUILD_DIR/plugins/sink-capture.so" -o fd=3 3>"$t/captured" >"$t/out"
check "every record delivered" "[ $? = 0 ] && [ \$(grep -c delivered '$t/out') = 3 ]"
check "the captured lines keep logical_id, version and revision" "/usr/bin/python3 - '$t/captured' <<'PY'
import json, sys
d = [json.loads(l) for l in open(sys.argv[1])]
assert [x.get('revision') for x in d] == [None, 'replace', 'retract'], d
assert [x.get('version') for x in d] == [1, 2, 3] and {x['logical_id'] for x in d} == {'L1'}
assert 'systolic_pressure' not in d[2]
PY"
for p in sink-capture sink-file sink-kafka sink-alert; do
    check "$p declares BP_CAP_REVISIONS" "[ \"\$('$feed' '$BPPIPE_BUILD_DIR/plugins/$p.so' --caps)\" = revisions ]"
done
exit $fail
