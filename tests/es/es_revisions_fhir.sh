#!/usr/bin/env bash
# Corrections and retractions end to end, from FHIR to Elasticsearch (issue 26): an Observation
# `final` 160/100 (an anomaly), then `corrected` to 118/76 (normal): the anomaly index holds no
# document for it any more and the normal index holds the corrected one; another `final` 158/98,
# then `entered-in-error`: no document anywhere. The same file again changes nothing.
# Needs the decoders to fill logical id, version and revision (s3-decode) and the engine's ledger
# and routing (s3-engine); until a run's documents carry "logical_id" the test is skipped (77).
set -u
fail=0
t=$(mktemp -d)
trap 'es_stop_all; [ -n "${ES_KEEP:-}" ] && echo "kept $t" || rm -rf "$t"' EXIT
. "$BPPIPE_SOURCE_DIR/tests/es/lib.sh"

obs() { # obs ID VERSION STATUS SYS DIA
    printf '{"resourceType":"Observation","id":"%s","meta":{"versionId":"%s"},"status":"%s","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/p-rev"},"effectiveDateTime":"2026-03-01T10:00:00Z","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":%s,"unit":"mmHg"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":%s,"unit":"mmHg"}}]}\n' "$@"
}
{
    obs bp-c 1 final 160 100
    obs bp-c 2 corrected 118 76
    obs bp-r 1 final 158 98
    obs bp-r 2 entered-in-error 158 98
} >"$t/in.ndjson"

es_start main
P=$ES_PORT_main
URL=http://127.0.0.1:$P
cat >"$t/p.ini" <<INI
[pipeline]
stats_interval = 0
retry_initial_ms = 20
retry_max_ms = 100
[source.in]
plugin = source-file
path = $t/in.ndjson
[detector.rules]
plugin = detector-rules
[sink.anomalies]
plugin = sink-es
route = anomaly
url = $URL
index = bp-anomalies-%Y.%m
[sink.normal]
plugin = sink-es
route = normal
url = $URL
index = bp-normal-%Y.%m
[sink.dead]
plugin = sink-file
route = invalid
path = $t/dead
layout = ndjson
INI
doc() { # doc INDEX ID FIELD
    curl -s "$URL/$1/_doc/$2" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["_source"].get(sys.argv[1]) if d.get("found") else "missing")' "$3"
}
total() {
    curl -s -XPOST -H 'Content-Type: application/json' "$URL/bp-*/_count" -d '{}' |
        /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])'
}

timeout 60 "$BPPIPE" run "$t/p.ini" --summary-json "$t/sum1.json" >"$t/log1" 2>&1
check "the first run exits 0" "[ $? = 0 ]"
if ! curl -s -XPOST -H 'Content-Type: application/json' "$URL/bp-*/_search?size=100" -d '{}' |
    grep -q '"logical_id"'; then
    echo "skipped: the decoders do not fill logical_id yet (needs the s3-decode and s3-engine work)"
    exit 77
fi
A=bp-anomalies-2026.03
N=bp-normal-2026.03
check "the corrected reading left the anomaly index" '[ "$(doc $A bp-c systolic_pressure)" = missing ]'
check "the normal index holds the corrected values" \
    '[ "$(doc $N bp-c systolic_pressure)" = 118 ] && [ "$(doc $N bp-c revision)" = replace ]'
check "the reading entered in error is nowhere" \
    '[ "$(doc $A bp-r systolic_pressure)" = missing ] && [ "$(doc $N bp-r systolic_pressure)" = missing ]'
check "one document in all" '[ "$(total)" = 1 ]'

# the same file again (a replay): nothing changes
timeout 60 "$BPPIPE" run "$t/p.ini" --summary-json "$t/sum2.json" >"$t/log2" 2>&1
check "the replay exits 0" "[ $? = 0 ]"
check "the replay changed nothing" \
    '[ "$(total)" = 1 ] && [ "$(doc $N bp-c systolic_pressure)" = 118 ] && [ "$(doc $A bp-c systolic_pressure)" = missing ]'
check "nothing dead-lettered" '! cat "$t"/dead/*.ndjson 2>/dev/null | grep -q .'
[ $fail -eq 0 ] || cat "$t/log1" "$t/log2"
exit $fail
