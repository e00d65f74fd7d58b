#!/usr/bin/env bash
# bppipe test (issue 13, point 2): the shipped ward tested from a test file, with its Kafka
# source replaced by the test's input and every sink (Elasticsearch, files, alarms) captured in
# memory. A file with one true and one false test exits 1 naming the false one, with
# "1 passed, 1 failed"; an all-true file exits 0; a broken file exits 2 with file:line and runs
# nothing; -o/-u edit the pipeline under test; nothing is written and nothing is connected to.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
# check NAME CONDITION [FILE to show on failure]
check() {
    if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; [ -n "${3:-}" ] && cat "$3"; fi
    return 0
}
ward="$BPPIPE_SOURCE_DIR/pipelines/ward.ini"

# Nothing answers on port 1: a Kafka source or Elasticsearch sink left in place would fail or
# wait (and be cut by timeout). Any file the ward's sinks wrote would land under WARD_DIR.
export KAFKA_BROKERS=127.0.0.1:1 ES_URL=http://127.0.0.1:1 WARD_DIR="$t/ward"
export BPPIPE_MODEL="$BPPIPE_SOURCE_DIR/models/bp_logreg.json"
unset ALERT_WEBHOOK ALERT_TOKEN

# Three readings: a hypertensive crisis (190/125), a normal one (118/76), a hypotension (85/55),
# then a line that is not JSON (a dead letter).
python3 - "$t/readings.ndjson" <<'PY'
import json, sys
def obs(i, patient, sys_, dia):
    return {"resourceType": "Observation", "id": "ptest-%d" % i, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
            "subject": {"reference": "Patient/%s" % patient},
            "effectiveDateTime": "2026-03-01T08:%02d:00Z" % i,
            "component": [
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                 "valueQuantity": {"value": sys_, "unit": "mmHg"}},
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                 "valueQuantity": {"value": dia, "unit": "mmHg"}}]}
with open(sys.argv[1], "w") as f:
    for o in (obs(1, "crisis", 190, 125), obs(2, "fine", 118, 76), obs(3, "low", 85, 55)):
        f.write(json.dumps(o) + "\n")
    f.write("not json\n")
PY

bp() { timeout 60 "$BPPIPE" test "$@"; }

# 1. One true and one false test.
cat >"$t/mixed.ini" <<INI
[test.crisis_alarms_once]
pipeline = $ward
input = readings.ndjson              ; relative to this file
expect.alarms.count = 1

[test.everything_is_a_crisis]
pipeline = $ward
input = readings.ndjson
expect.anomalies.bp_category = hypertensive_crisis   ; false: the hypotension is not
INI
bp "$t/mixed.ini" >"$t/out" 2>"$t/err"; rc=$?
check "mixed file exits 1" "[ $rc = 1 ]" "$t/err"
check "the true test passes" "grep -qx 'ok crisis_alarms_once' '$t/out'" "$t/out"
check "the false test is named with what was seen" \
    "grep -qx 'FAIL everything_is_a_crisis: expect.anomalies.bp_category = hypertensive_crisis, saw \"hypotension\" in 1 of 2 documents' '$t/out'" "$t/out"
check "the first document that differs is shown, not its payload" \
    "grep -q '^  first that differs: document 2 of 2 (stable_id \"ptest-3\", logical_id \"ptest-3\", patient_id \"low\", systolic_pressure 85, diastolic_pressure 55): bp_category = \"hypotension\"$' '$t/out' && ! grep -q component '$t/out'" "$t/out"
check "closing line 1 passed, 1 failed" "[ \"\$(tail -n 1 '$t/out')\" = '1 passed, 1 failed' ]" "$t/out"
check "nothing written, nothing connected" \
    "[ ! -e '$t/ward' ] && ! grep -qi 'kafka\|elasticsearch\|127.0.0.1:1' '$t/err'" "$t/err"

# 2. All true: counts, every document, a selector, numbers as numbers, a list's item, a path
# into an object, absent and present.
cat >"$t/good.ini" <<INI
[test.routes]
pipeline = $ward
input = readings.ndjson
expect.anomalies.count = 2
expect.normal.count = 1
expect.alarms.count = 1
expect.dead-letter.count = 1
expect.normal.bp_category = normal
expect.normal.anomaly = false
expect.anomalies.anomaly = true

[test.by_patient]
pipeline = $ward
input = readings.ndjson
expect.anomalies[patient_id=crisis].bp_category = hypertensive_crisis
expect.anomalies[patient_id=crisis].severity = critical
expect.anomalies[patient_id=low].anomaly_type = hypotension
expect.anomalies[patient_id=low].systolic_pressure = 85.0
expect.anomalies[patient_id=low].count = 1
expect.normal[systolic_pressure=118].diastolic_pressure = 76
expect.anomalies[anomaly_type=hypertension].count = 1
expect.anomalies[patient_id=low].anomaly_details = hypotension_systolic
expect.anomalies[patient_id=low].source.offset = 3

[test.fields]
pipeline = $ward
input = readings.ndjson
expect.normal.invalid_reason = <absent>
expect.normal.ml_risk_score = <present>
expect.dead-letter.invalid_reason = <present>
expect.dead-letter.route = invalid
expect.dead-letter.systolic_pressure = <absent>
INI
bp "$t/good.ini" >"$t/out" 2>"$t/err"; rc=$?
check "all-true file exits 0" "[ $rc = 0 ]" "$t/out"
check "one ok line per test, then 3 passed, 0 failed" \
    "[ \"\$(cat '$t/out')\" = \"\$(printf 'ok routes\nok by_patient\nok fields\n3 passed, 0 failed')\" ]" "$t/out"
check "still nothing written" "[ ! -e '$t/ward' ]"

# Several files, and a false count names what it saw.
cat >"$t/count.ini" <<INI
[test.two_alarms]
pipeline = $ward
input = readings.ndjson
expect.alarms.count = 2
expect.normal.heart_rate = <present>
INI
bp "$t/good.ini" "$t/count.ini" >"$t/out" 2>"$t/err"; rc=$?
check "two files: exit 1, 3 passed, 1 failed" \
    "[ $rc = 1 ] && [ \"\$(tail -n 1 '$t/out')\" = '3 passed, 1 failed' ]" "$t/out"
check "a false count says what it saw, and the next failure follows" \
    "grep -qx 'FAIL two_alarms: expect.alarms.count = 2, saw 1' '$t/out' && grep -qx '  also: expect.normal.heart_rate = <present>, saw <absent> in 1 of 1 documents' '$t/out'" "$t/out"

# 3. Broken files: exit 2 with file:line, no test run.
cat >"$t/broken.ini" <<INI
[test.ok_but_never_run]
pipeline = $ward
input = readings.ndjson
expect.alarms.count = 1

[test.broken]
pipeline = $ward
input = readings.ndjson
expect.alarms.count = one
expect.anomalies[patient_id].count = 1
expcet.alarms.count = 1
INI
bp "$t/broken.ini" >"$t/out" 2>"$t/err"; rc=$?
check "broken file exits 2" "[ $rc = 2 ]" "$t/err"
check "bad count syntax at file:line" \
    "grep -q '^error: $t/broken.ini:9: \[test.broken\] expect.alarms.count: count needs a whole number' '$t/err'" "$t/err"
check "bad selector at file:line" \
    "grep -q '^error: $t/broken.ini:10: .*a selector is \[FIELD=VALUE\]' '$t/err'" "$t/err"
check "unknown key at file:line" \
    "grep -q \"^error: $t/broken.ini:11: \[test.broken\] unknown key 'expcet.alarms.count'\" '$t/err'" "$t/err"
check "no test ran" "[ ! -s '$t/out' ]" "$t/out"
printf '[test.x]\npipeline = nowhere.ini\nexpect.alarms.count = 1\n' >"$t/missing.ini"
bp "$t/missing.ini" >"$t/out" 2>"$t/err"; rc=$?
check "missing pipeline and input: exit 2, file:line" \
    "[ $rc = 2 ] && grep -q '$t/missing.ini:2: \[test.x\] pipeline: no such file' '$t/err' && grep -q \"$t/missing.ini:1: \[test.x\] missing key 'input'\" '$t/err'" "$t/err"

# -o and -u edit the pipeline under test, as for run: without its alarm sink an expectation
# about it is broken; a lower plausibility limit turns the crisis into a dead letter.
bp "$t/mixed.ini" -u sink.alarms >"$t/out" 2>"$t/err"; rc=$?
check "-u sink.alarms: exit 2, the expectation named" \
    "[ $rc = 2 ] && grep -q 'mixed.ini:4: \[test.crisis_alarms_once\] expect.alarms.count = 1: the pipeline has no \[sink.alarms\]' '$t/err'" "$t/err"
bp "$t/good.ini" -o pipeline.plausible_systolic_max=150 >"$t/out" 2>"$t/err"; rc=$?
check "-o applies to the pipeline under test" \
    "[ $rc = 1 ] && grep -qx 'FAIL routes: expect.anomalies.count = 2, saw 1' '$t/out'" "$t/out"

# A test's own set. and unset keys; chdir runs the pipeline from another folder (the model's
# relative path then resolves there).
cat >"$t/edits.ini" <<INI
[test.own_edits]
pipeline = $ward
input = readings.ndjson
unset = sink.alarms detector.ml
set.pipeline.plausible_diastolic_min = 60
expect.normal.ml_risk_score = <absent>
expect.dead-letter.count = 2

[test.model_from_chdir]
pipeline = $ward
input = readings.ndjson
chdir = $BPPIPE_SOURCE_DIR
expect.normal.ml_risk_score = <present>
INI
(cd "$t" && BPPIPE_MODEL='' timeout 60 "$BPPIPE" test edits.ini) >"$t/out" 2>"$t/err"; rc=$?
check "set./unset/chdir in the test file" \
    "[ $rc = 0 ] && [ \"\$(tail -n 1 '$t/out')\" = '2 passed, 0 failed' ]" "$t/out"

# The shipped test file of the ward, run from the top folder as its header says.
(cd "$BPPIPE_SOURCE_DIR" && BPPIPE_MODEL='' timeout 60 "$BPPIPE" test tests/e2e/ward.test.ini) \
    >"$t/out" 2>"$t/err"; rc=$?
check "tests/e2e/ward.test.ini passes" "[ $rc = 0 ] && [ \"\$(tail -n 1 '$t/out')\" = '2 passed, 0 failed' ]" "$t/out"

# Help.
"$BPPIPE" test --help >"$t/out"; rc=$?
check "test --help" "[ $rc = 0 ] && grep -q 'expect.SINK.count' '$t/out' && grep -q '<absent>' '$t/out'" "$t/out"
"$BPPIPE" --help >"$t/out"
check "top-level help lists test" "grep -q '^  bppipe test FILE' '$t/out' && grep -q '^  test  ' '$t/out'" "$t/out"
"$BPPIPE" test >/dev/null 2>&1; rc=$?
check "no test file: exit 2" "[ $rc = 2 ]"
exit $fail
