#!/usr/bin/env bash
# Valid FHIR that is not blood pressure: skipped, counted by reason beside the books, handed to
# route = skipped sinks only (never to route = all), and never a dead letter; what is broken
# still is one.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
check() { if eval "$2"; then ok "$1"; else bad "$1 ($2)"; fi; }

loinc() { printf '"code":{"coding":[{"system":"http://loinc.org","code":"%s"}]}' "$1"; }
subj='"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-01-02T03:04:05Z"'
comp() { printf '{%s,"valueQuantity":{"value":%s,"unit":"mmHg"}}' "$(loinc "$1")" "$2"; }
bp='{"resourceType":"Observation","id":"bp1","status":"final",'"$(loinc 85354-9),$subj"',"component":['"$(comp 8480-6 120),$(comp 8462-4 80)"']}'
hr='{"resourceType":"Observation","id":"hr1","status":"final",'"$(loinc 8867-4),$subj"',"valueQuantity":{"value":72,"unit":"/min"}}'
cond='{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p1"}}'
{
    echo '{"resourceType":"Bundle","type":"collection","entry":[{"resource":'"$cond"'},{"resource":'"$hr"'},{"resource":'"$bp"'}]}'
    echo "$hr" | sed 's/"hr1"/"hr2"/'  # a top-level heart rate
    echo '{"status":"final"}'          # JSON, not FHIR: a dead letter
} >"$t/in.ndjson"

cat >"$t/p.ini" <<INI
[pipeline]
plugin_path = $RUNNER_PLUGIN_DIR
stats_interval = 0
[source.in]
plugin = source-file
path = $t/in.ndjson
[sink.all]
plugin = test-sink
path = $t/all
[sink.skip]
plugin = test-sink
route = skipped
path = $t/skip
[sink.dead]
plugin = test-sink
route = invalid
path = $t/dead
INI

"$BPPIPE" check "$t/p.ini" >/dev/null 2>"$t/check"
check "check accepts route = skipped" "[ $? = 0 ]"
"$BPPIPE" run "$t/p.ini" --summary-json "$t/sum.json" 2>"$t/err"
check "run exits 0" "[ $? = 0 ]"
lines() { [ -f "$1" ] && wc -l <"$1" | tr -d ' ' || echo 0; }
check "route = all takes the one reading, no skipped resource" \
    "[ $(lines "$t/all") = 1 ] && grep -q '\"stable_id\":\"bp1\"' '$t/all' && ! grep -q skip_reason '$t/all'"
check "route = skipped receives the three skipped resources" "[ $(lines "$t/skip") = 3 ]"
check "the dead letter holds only what is broken" \
    "[ $(lines "$t/dead") = 1 ] && grep -q 'no resourceType' '$t/dead'"
py() { python3 -c "import json,sys; d=[json.loads(l) for l in open('$t/skip')]; s=json.load(open('$t/sum.json')); sys.exit(0 if ($1) else 1)"; }
check "skipped documents say what was skipped" \
    "py \"[(x['route'], x['skip_reason'], x.get('resource_type'), x.get('resource_code'), x['stable_id'], x['source']['resource_index']) for x in d[:2]] == [('skipped', 'resource is not an Observation', 'Condition', None, 'Condition/c1', 0), ('skipped', 'Observation is not blood pressure', 'Observation', '8867-4', 'Observation/hr1', 1)]\""
check "a skipped Bundle entry carries no payload; a skipped whole payload does" \
    "py \"'payload' not in d[0] and 'payload' not in d[1] and d[2]['payload'].startswith('{') and d[2]['stable_id'] == 'Observation/hr2'\""
check "skipped documents carry no verdict" "py \"all('anomaly' not in x and 'severity' not in x for x in d)\""
check "the books hold readings only: 2 in = 1 normal + 1 invalid" \
    "py \"s['readings_in'] == 2 and s['normal'] == 1 and s['anomaly'] == 0 and s['invalid'] == 1\""
check "skipped counted by reason beside the books" \
    "py \"s['skipped'] == 3 and s['skipped_by_reason'] == {'resource is not an Observation': 1, 'Observation is not blood pressure': 2}\""
check "summary says so on stderr" \
    "grep -q 'readings in    2 = anomaly 0 + normal 1 + invalid 1 + in flight 0$' '$t/err' && grep -q 'skipped        3 resources that are not blood-pressure readings (beside the books' '$t/err' && grep -q '       2  Observation is not blood pressure$' '$t/err'"

# Without a route = skipped sink: still counted, still no dead letter.
sed '/\[sink.skip\]/,/path = .*skip$/d' "$t/p.ini" >"$t/q.ini"
rm -f "$t/all" "$t/dead"
"$BPPIPE" run "$t/q.ini" --summary-json "$t/sum2.json" 2>"$t/err2"
check "without a skipped sink: counted, not dead-lettered" \
    "[ $? = 0 ] && [ $(python3 -c "import json; print(json.load(open('$t/sum2.json'))['skipped'])") = 3 ] && [ \$(wc -l <'$t/dead') = 1 ]"

# A misspelt route is refused, and the list it gives names skipped.
sed 's/^route = skipped$/route = skipd/' "$t/p.ini" >"$t/r.ini"
"$BPPIPE" check "$t/r.ini" >/dev/null 2>"$t/rerr"
check "an unknown route lists skipped among the routes" \
    "[ $? = 2 ] && grep -q 'critical|invalid|skipped' '$t/rerr'"
exit $fail
