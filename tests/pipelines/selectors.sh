#!/usr/bin/env bash
# The shipped pipelines' test files can fail: the same expectations made false are named, with
# what was seen, and exit 1. Also the selectors by a field that is absent or present
# ([FIELD=<absent>], [FIELD=<present>], docs/testing.md) on the ward's dead letters and
# anomalies, true and false.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() {
    if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; [ -n "${3:-}" ] && cat "$3"; fi
    return 0
}
here="$BPPIPE_SOURCE_DIR/tests/pipelines"
cat >"$t/sel.ini" <<INI
[test.true_selectors]
pipeline = $BPPIPE_SOURCE_DIR/pipelines/ward.ini
input = $here/readings.ndjson
chdir = $BPPIPE_SOURCE_DIR
expect.dead-letter[patient_id=<absent>].count = 2
expect.dead-letter[patient_id=<present>].patient_id = implausible
expect.anomalies[ml_risk_score=<absent>].patient_id = onevalue

[test.absent_count_false]
pipeline = $BPPIPE_SOURCE_DIR/pipelines/ward.ini
input = $here/readings.ndjson
chdir = $BPPIPE_SOURCE_DIR
expect.dead-letter[patient_id=<absent>].count = 3

[test.present_field_false]
pipeline = $BPPIPE_SOURCE_DIR/pipelines/ward.ini
input = $here/readings.ndjson
chdir = $BPPIPE_SOURCE_DIR
expect.anomalies[ml_risk_score=<present>].patient_id = onevalue

[test.none_selected]
pipeline = $BPPIPE_SOURCE_DIR/pipelines/ward.ini
input = $here/readings.ndjson
chdir = $BPPIPE_SOURCE_DIR
expect.normal[ml_risk_score=<absent>].patient_id = normal

[test.wrong_route_count]
pipeline = $BPPIPE_SOURCE_DIR/pipelines/ward.ini
input = $here/readings.ndjson
chdir = $BPPIPE_SOURCE_DIR
expect.anomalies.count = 5
INI
timeout 60 "$BPPIPE" test "$t/sel.ini" >"$t/out" 2>"$t/err"; rc=$?
check "false expectations: exit 1" "[ $rc = 1 ]" "$t/err"
check "the true selectors pass" "grep -qx 'ok true_selectors' '$t/out'" "$t/out"
check "[FIELD=<absent>] counts only the documents without it" \
    "grep -qx 'FAIL absent_count_false: expect.dead-letter\[patient_id=<absent>\].count = 3, saw 2' '$t/out'" "$t/out"
check "[FIELD=<present>] selects the documents with it" \
    "grep -qx 'FAIL present_field_false: expect.anomalies\[ml_risk_score=<present>\].patient_id = onevalue, saw \"stage2\" in 3 of 3 documents' '$t/out'" "$t/out"
check "a selection of nothing says so" \
    "grep -qx 'FAIL none_selected: expect.normal\[ml_risk_score=<absent>\].patient_id = normal, saw no document with ml_risk_score = <absent> (of 1)' '$t/out'" "$t/out"
check "a wrong count of the shipped ward fails" \
    "grep -qx 'FAIL wrong_route_count: expect.anomalies.count = 5, saw 4' '$t/out'" "$t/out"
check "closing line" "[ \"\$(tail -n 1 '$t/out')\" = '1 passed, 4 failed' ]" "$t/out"
exit $fail
