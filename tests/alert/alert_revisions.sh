#!/usr/bin/env bash
# sink-alert, route = critical (no [alarms]), honours revisions (issue 26;
# docs/plugins/sink-alert.md, "Corrections and retractions"), fed by sink_feed (records the
# host's decoder made, with logical id, version and revision set on them, until the decoders and
# the engine set them): a correction of a reading it alerted on, still critical, amends that alert
# (same id, status amended); a retraction withdraws it (same id, status entered-in-error), and so
# does the engine's companion of a correction routed elsewhere (no longer critical); the
# withdrawal ends the cooldown it started; replays change nothing; a retraction of a reading it
# never alerted on sends nothing.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
feed="$BPPIPE_BUILD_DIR/tests/plugins/sink_feed"
# ID PATIENT SYS DIA MINUTE CRITICAL LOGICAL_ID VERSION REVISION; "write": one write() each
printf '%s\n' 'a1 P1 190 125 0 1 L1 1 -' 'b1 P2 195 128 1 1 L2 1 -' write \
    'a1c P1 185 120 2 1 L1 2 replace' write 'a1c P1 185 120 2 1 L1 2 replace' write \
    'b2c P2 130 85 3 0 L2 2 companion' write 'a1x P1 - - 4 0 L1 3 retract' write \
    'a1x P1 - - 4 0 L1 3 retract' 'z1 P3 - - 5 0 L9 1 retract' write \
    'a5 P1 192 126 6 1 L5 1 -' 'c1c P4 200 130 7 1 L6 2 replace' >"$t/feed"
"$feed" "$BPPIPE_BUILD_DIR/plugins/sink-alert.so" -o "path=$t/alerts.ndjson" -o cooldown=600 \
    <"$t/feed" >"$t/out" 2>"$t/err"
check "every record delivered" "[ $? = 0 ] && [ \$(grep -c delivered '$t/out') = 10 ]"
check "the alerts, amendments and withdrawals, in order" "/usr/bin/python3 - '$t/alerts.ndjson' <<'PY'
import json, sys
d = [json.loads(l) for l in open(sys.argv[1])]
got = [(x['id'], x['status']) for x in d]
want = [('bp-alert-a1', 'final'), ('bp-alert-b1', 'final'), ('bp-alert-a1', 'amended'),
        ('bp-alert-b1', 'entered-in-error'), ('bp-alert-a1', 'entered-in-error'),
        ('bp-alert-a5', 'final'), ('bp-alert-c1c', 'final')]
assert got == want, got
assert all(x['resourceType'] == 'DetectedIssue' for x in d)
assert '185/120' in d[2]['detail'] and 'corrected' in d[2]['detail'], d[2]
assert 'not critical' in d[3]['detail'] and d[3]['patient']['reference'] == 'Patient/P2', d[3]
assert 'entered in error' in d[4]['detail'] and d[4]['implicated'][0]['reference'] == 'Observation/a1c', d[4]  # the version it amended to
PY"
exit $fail
