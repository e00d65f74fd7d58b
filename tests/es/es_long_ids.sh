#!/usr/bin/env bash
# Nothing cut on the way to Elasticsearch: readings whose ids share their first 500 bytes are two
# documents (ids were cut to 255 bytes, and the second create answered 409, counted as
# delivered: lost); a logical id (the Observation id) over Elasticsearch's 512-byte _id limit is a dead letter with the
# reason, never a cut _id; an ingest pipeline name of 2 100 bytes and an API key of 3 000 reach
# the cluster whole (fixed URL and header buffers cut them).
set -u
fail=0
t=$(mktemp -d)
trap 'es_stop_all; [ -n "${ES_KEEP:-}" ] && echo "kept $t" || rm -rf "$t"' EXIT
. "$BPPIPE_SOURCE_DIR/tests/es/lib.sh"

obs() { # obs ID SYS DIA
    printf '{"resourceType":"Observation","id":"%s","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-01-02T03:04:05Z","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":%s,"unit":"mmHg"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":%s,"unit":"mmHg"}}]}\n' "$1" "$2" "$3"
}
a500=$(printf 'a%.0s' $(seq 500))
a600=$(printf 'b%.0s' $(seq 600))
{
    obs "${a500}1" 120 80
    obs "${a500}2" 121 81
    obs "$a600" 122 82
    obs short 123 83
} >"$t/in.ndjson"
key=$(printf 'k%.0s' $(seq 3000))
pipeline=$(printf 'p%.0s' $(seq 2100))

es_start main --api-key "$key"
P=$ES_PORT_main
cat >"$t/p.ini" <<INI
[pipeline]
stats_interval = 0
retry_initial_ms = 20
retry_max_ms = 100
[source.in]
plugin = source-file
path = $t/in.ndjson
[sink.es]
plugin = sink-es
url = http://127.0.0.1:$P
api_key = \${ES_KEY}
[sink.dead]
plugin = sink-file
route = invalid
path = $t/dead
layout = ndjson
INI
# (an INI line holds 199 characters: the long values come from the environment and -o)
ES_KEY=$key timeout 60 "$BPPIPE" run "$t/p.ini" -o "sink.es.pipeline=$pipeline" \
    --summary-json "$t/sum.json" >"$t/log" 2>&1
check "the run exits 0 (the 3 000-byte API key was taken whole)" "[ $? = 0 ]"
curl -s -XPOST -H 'Content-Type: application/json' -H "Authorization: ApiKey $key" \
    "http://127.0.0.1:$P/bp-anomalies*/_search?size=100" -d '{}' |
    python3 -c 'import json,sys; [print(h["_id"]) for h in json.load(sys.stdin)["hits"]["hits"]]' \
    | sort >"$t/ids"
check "ids sharing their first 500 bytes are two documents" \
    'grep -qx "${a500}1" $t/ids && grep -qx "${a500}2" $t/ids'
check "the short one is indexed, the 600-byte one is not" \
    "grep -qx short $t/ids && [ \$(wc -l <$t/ids) = 3 ]"
check "the 600-byte id is a dead letter with the reason" \
    'grep -q "rejected by sink.es: logical id of 600 bytes is longer than the 512 bytes Elasticsearch allows for _id" $t/dead/*.ndjson && grep -q "\"stable_id\":\"$a600\"" $t/dead/*.ndjson'
check "the books count it once" \
    "python3 -c \"import json,sys; s=json.load(open('$t/sum.json')); sys.exit(not (s['readings_in'] == 4 and s['sink_rejected'] == 1))\""
es_stats "$P" pipelines >"$t/pipelines"
check "the ingest pipeline's whole name reached the cluster" \
    "[ \"\$(cat $t/pipelines)\" = \"['\$pipeline']\" ]"
exit $fail
