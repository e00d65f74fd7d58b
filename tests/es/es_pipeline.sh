#!/usr/bin/env bash
# sink-es end to end against the Elasticsearch emulator (tests/es/es_emulator.py):
#  - a simulated ward run: every anomaly is indexed exactly once, with the very document the
#    file sink got, into the index of the readings' own month; keep-alive, NDJSON, no Expect;
#  - the same run replayed: zero new documents (every create is a 409, counted as delivered);
#  - per-item 429s, whole-request 503s and 429s, a 413 (split), a response slower than the
#    timeout and a cluster that goes away mid-run: all retried, nothing lost, nothing twice;
#  - a mapping rejection (a strict template installed by the sink) goes to the dead letter with
#    Elasticsearch's type and reason; the rest is indexed;
#  - OpenSearch mode with gzip bodies, a node list with a dead first node, a cluster that is
#    down when the run starts (waited for), wrong credentials (stop, secret never printed),
#    a server that is not Elasticsearch (refused), and `bppipe check` saying what it found.
set -u
fail=0
t=$(mktemp -d)
other=
trap 'es_stop_all; [ -n "$other" ] && kill $other 2>/dev/null; [ -n "${ES_KEEP:-}" ] && echo "kept $t" || rm -rf "$t"' EXIT
. "$BPPIPE_SOURCE_DIR/tests/es/lib.sh"
src=$BPPIPE_SOURCE_DIR

# ward.ini's shape on the simulated ward: rules, model and trends, anomalies to sink-es and to a
# file copy (the reference), dead letters to a file.
ward_ini() { # ward_ini FILE URL [extra lines for sink.es...]
    local file=$1 url=$2
    shift 2
    {
        cat <<INI
[pipeline]
batch_size = 250
stats_interval = 0
retry_initial_ms = 20
retry_max_ms = 200
[source.ward]
plugin = source-faker
patients = 40
rate = \${WARD_RATE:-0}
count = \${WARD_COUNT:-3000}
seed = 11
start_time = 2026-03-31T23:59:30Z
invalid_rate = 0.01
[detector.rules]
plugin = detector-rules
[detector.ml]
plugin = detector-logreg
model = $src/models/bp_logreg.json
[detector.trend]
plugin = detector-trend
[sink.copy]
plugin = sink-file
route = anomaly
path = \${COPY_DIR}
layout = ndjson
[sink.dead]
plugin = sink-file
route = invalid
path = \${DEAD_DIR}
layout = ndjson
[sink.es]
plugin = sink-es
route = anomaly
url = $url
INI
        for line in "$@"; do echo "$line"; done
    } >"$file"
}
run() { # run NAME INI [args]: runs into $t/NAME.{copy,dead,log}; sets rc
    local name=$1 ini=$2
    shift 2
    mkdir -p "$t/$name.copy" "$t/$name.dead"
    COPY_DIR=$t/$name.copy DEAD_DIR=$t/$name.dead "$BPPIPE" run "$ini" "$@" >"$t/$name.log" 2>&1
    rc=$?
}

# --- exactly once, then a replay -------------------------------------------------------------
es_start main
P=$ES_PORT_main
ward_ini "$t/ward.ini" "http://127.0.0.1:$P"
conn0=$(es_stats "$P" connections)
run ward "$t/ward.ini"
conn1=$(es_stats "$P" connections)
check "ward run succeeds" '[ $rc = 0 ]'
file_ids "$t/ward.copy" >"$t/want"
es_ids "$P" >"$t/got"
n=$(wc -l <"$t/want")
check "the run produced anomalies ($n)" '[ "$n" -gt 300 ]'
check "every anomaly indexed exactly once" 'cmp -s "$t/want" "$t/got"'
check "no duplicate ids" '[ -z "$(uniq -d "$t/got")" ]'
check "emulator holds exactly the anomalies" '[ "$(es_stats "$P" documents)" = "$n" ]'
check "indices from the readings' own months" \
    '[ "$(es_stats "$P" indices)" = "['"'"'bp-anomalies-2026.03'"'"', '"'"'bp-anomalies-2026.04'"'"']" ]'
curl -s -XPOST -H 'Content-Type: application/json' \
    "http://127.0.0.1:$P/bp-anomalies*/_search?size=10000000" -d '{}' >"$t/hits.json"
/usr/bin/python3 - "$t/hits.json" "$t/ward.copy" >"$t/cmp.out" <<'PY'
import glob, json, sys
hits = {h["_id"]: h for h in json.load(open(sys.argv[1]))["hits"]["hits"]}
bad = 0
for path in glob.glob(sys.argv[2] + "/*.ndjson"):
    for line in open(path):
        doc = json.loads(line)
        hit = hits.get(doc["stable_id"])
        month = doc["@timestamp"][:7].replace("-", ".")
        if hit is None or hit["_source"] != doc or hit["_index"] != "bp-anomalies-" + month:
            bad += 1
print(bad)
PY
check "every indexed document equals the file sink's, in its month's index" \
    '[ "$(cat "$t/cmp.out")" = 0 ]'
check "one keep-alive connection for the whole run" '[ $(( conn1 - conn0 - 1 )) = 1 ]'
check "no Expect: 100-continue" '[ "$(es_stats "$P" expect_100)" = 0 ]'
check "bodies sent as application/x-ndjson" \
    '[ "$(es_stats "$P" content_types)" = "['"'"'application/x-ndjson'"'"']" ]'
check "summary counts the created documents" 'grep -q "es_created *$n" "$t/ward.log"'

run replay "$t/ward.ini"
check "replay succeeds" '[ $rc = 0 ]'
check "replay adds zero documents" '[ "$(es_stats "$P" documents)" = "$n" ]'
check "replay: every create answered 409" '[ "$(es_stats "$P" conflicts)" = "$n" ]'
check "replay: 409s count as delivered" 'grep -q "sink-es, route anomaly: delivered $n, rejected 0" "$t/replay.log"'
check "replay: summary says they were there already" 'grep -q "es_already_there *$n" "$t/replay.log"'

# --- faults: all retried, nothing lost, nothing twice ---------------------------------------
es_start faults --item-429 60 --request-503 3 --request-429 2 --request-413 1
F=$ES_PORT_faults
es_fault "$F" '{"slow_next": 1, "slow_next_ms": 1500}'
ward_ini "$t/faults.ini" "http://127.0.0.1:$F" "timeout_ms = 700"
run faults "$t/faults.ini"
check "fault run succeeds" '[ $rc = 0 ]'
file_ids "$t/faults.copy" >"$t/fwant"
es_ids "$F" >"$t/fgot"
check "faults: every anomaly exactly once" 'cmp -s "$t/fwant" "$t/fgot"'
check "faults: all 60 item 429s were injected" '[ "$(es_stats "$F" injected_item_429)" = 60 ]'
check "faults: 503s, 429s and the 413 were injected" \
    '[ "$(es_stats "$F" injected_503)$(es_stats "$F" injected_429)$(es_stats "$F" injected_413)" = 321 ]'
check "faults: only the refused items were resent" \
    '[ "$(es_stats "$F" items)" -lt $(( $(wc -l <"$t/fwant") * 13 / 10 )) ]'
check "faults: the 413 was split" 'grep -q "es_splits *1" "$t/faults.log"'
check "faults: the item 429 reason is logged" \
    'grep -q "es_rejected_execution_exception" "$t/faults.log"'
check "faults: no record rejected" 'grep -q "sink-es, route anomaly: delivered [0-9]*, rejected 0, retries [1-9]" "$t/faults.log"'

# --- the cluster goes away mid-run ----------------------------------------------------------
es_start outage
O=$ES_PORT_outage
ward_ini "$t/outage.ini" "http://127.0.0.1:$O" "timeout_ms = 1000" "connect_timeout_ms = 500"
# the cluster goes away once it has taken documents: mid-run by a condition, not after a fixed
# second a loaded machine may spend starting the ward
_took_items() { [ "$(es_stats "$O" items 2>/dev/null || echo 0)" -gt 0 ]; }
( wait_until 120 _took_items && es_fault "$O" '{"refuse_s": 2.5}' ) &
WARD_RATE=25 WARD_COUNT=4000 run outage "$t/outage.ini"
check "outage run succeeds" '[ $rc = 0 ]'
check "outage: the outage was seen" 'grep -q "will retry" "$t/outage.log"'
file_ids "$t/outage.copy" >"$t/owant"
es_ids "$O" >"$t/ogot"
check "outage: every anomaly exactly once" 'cmp -s "$t/owant" "$t/ogot" && [ -s "$t/owant" ]'

# --- an answer slower than timeout_ms: the documents were indexed, the retry is a 409 --------
es_start slow
Z=$ES_PORT_slow
es_fault "$Z" '{"slow_next": 1, "slow_next_ms": 1500}'
ward_ini "$t/slow.ini" "http://127.0.0.1:$Z" "timeout_ms = 500" "batch_bytes = 20000"
WARD_COUNT=600 run slow "$t/slow.ini"
file_ids "$t/slow.copy" >"$t/zwant"
es_ids "$Z" >"$t/zgot"
check "slow: the request timed out and was retried" 'grep -q "timed out after .*); will retry" "$t/slow.log"'
check "slow: its documents came back as 409" '[ "$(es_stats "$Z" conflicts)" -gt 0 ]'
check "slow: every anomaly exactly once" '[ $rc = 0 ] && cmp -s "$t/zwant" "$t/zgot"'
check "batch_bytes = 20000: no body larger, several documents in one" \
    '[ "$(es_stats "$Z" max_bulk_bytes)" -le 20000 ] && [ "$(es_stats "$Z" max_bulk_items)" -gt 5 ]'

# --- a mapping rejection goes to the dead letter with Elasticsearch's reason ----------------
/usr/bin/python3 - "$src/deploy/elasticsearch/bp-anomalies-template.json" "$t/strict.json" <<'PY'
import json, sys
tpl = json.load(open(sys.argv[1]))
tpl["template"]["mappings"]["dynamic"] = "strict"
del tpl["template"]["mappings"]["properties"]["trend_z"]
json.dump(tpl, open(sys.argv[2], "w"))
PY
es_start strict
S=$ES_PORT_strict
# (compress = true too: only bulk bodies are gzipped, the template and policy are sent plain)
ward_ini "$t/strict.ini" "http://127.0.0.1:$S" "install_template = true" "compress = true" \
    "template = $t/strict.json" "ilm_policy = $src/deploy/elasticsearch/bp-anomalies-ilm.json"
run strict "$t/strict.ini"
check "strict run succeeds" '[ $rc = 0 ]'
with_z=$(cat "$t/strict.copy"/*.ndjson | grep -c '"trend_z"')
all=$(cat "$t/strict.copy"/*.ndjson | wc -l)
reason='rejected by sink.es: strict_dynamic_mapping_exception: [1:2] mapping set to strict, dynamic introduction of [trend_z] within [_doc] is not allowed'
dead=$(cat "$t/strict.dead"/*.ndjson | grep -cF "\"invalid_reason\":\"$reason\"")
check "strict: some anomalies carry trend_z ($with_z of $all)" '[ "$with_z" -gt 0 ] && [ "$with_z" -lt "$all" ]'
check "strict: each of them is a dead letter with ES's reason" '[ "$dead" = "$with_z" ]'
lines=$(grep -c "sink rejected [0-9]* reading(s), routed as dead letters with their reasons; the first: strict_dynamic_mapping_exception" "$t/strict.log")
check "strict: refusals logged once per request, not per reading ($lines lines)" \
    '[ "$lines" -gt 0 ] && [ "$lines" -lt "$with_z" ] && [ "$(grep -c "sink rejected" "$t/strict.log")" = "$lines" ]'
check "strict: the others are indexed" '[ "$(es_stats "$S" documents)" = $(( all - with_z )) ]'
check "strict: bulk bodies were gzipped" '[ "$(es_stats "$S" gzip_requests)" -gt 0 ]'
check "strict: the template and policy were installed" \
    'grep -q "installed the index template /_index_template/bp-anomalies" "$t/strict.log" && curl -sf "http://127.0.0.1:$S/_ilm/policy/bp-anomalies" >/dev/null'

# --- OpenSearch, gzip, a dead first node -----------------------------------------------------
es_start os --opensearch
Q=$ES_PORT_os
ward_ini "$t/os.ini" "http://127.0.0.1:1, http://127.0.0.1:$Q/" "compress = true" \
    "pipeline = bp-enrich&v=2" "batch_size = 7"
run os "$t/os.ini"
check "opensearch run succeeds" '[ $rc = 0 ]'
check "opensearch: recognised" 'grep -q "connected to OpenSearch 2.11.0" "$t/os.log"'
file_ids "$t/os.copy" >"$t/qwant"
es_ids "$Q" >"$t/qgot"
check "opensearch: every anomaly exactly once" 'cmp -s "$t/qwant" "$t/qgot"'
check "gzip bodies" '[ "$(es_stats "$Q" gzip_requests)" -gt 0 ]'
check "batch_size = 7: at most 7 documents per request" '[ "$(es_stats "$Q" max_bulk_items)" = 7 ]'
check "the ingest pipeline is named on every request, its name URL-escaped" \
    '[ "$(es_stats "$Q" pipelines)" = "['"'"'bp-enrich&v=2'"'"']" ]'

# --- down when the run starts: waited for ---------------------------------------------------
es_start late
L=$ES_PORT_late
# the emulator stops listening on its next check (every 0.5 s): waited for, then the ward starts
# into an outage of 4 s
es_fault "$L" '{"refuse_s": 4}'
_refusing() { ! curl -s -m 1 -o /dev/null "http://127.0.0.1:$L/"; }
wait_until 30 _refusing
ward_ini "$t/late.ini" "http://127.0.0.1:$L" "connect_timeout_ms = 300"
WARD_COUNT=500 run late "$t/late.ini"
check "late cluster: run succeeds" '[ $rc = 0 ]'
check "late cluster: the wait is logged" 'grep -q "no cluster node answers" "$t/late.log"'
file_ids "$t/late.copy" >"$t/lwant"
es_ids "$L" >"$t/lgot"
check "late cluster: every anomaly exactly once" 'cmp -s "$t/lwant" "$t/lgot" && [ -s "$t/lwant" ]'

# --- credentials ------------------------------------------------------------------------------
es_start auth --api-key good-key-123 --basic elastic:s3cret-pw
A=$ES_PORT_auth
ward_ini "$t/key.ini" "http://127.0.0.1:$A" 'api_key = ${ES_API_KEY}'
ES_API_KEY=wrong-key-456 WARD_COUNT=300 run badkey "$t/key.ini"
check "wrong api key: the run stops" '[ $rc != 0 ]'
check "wrong api key: says so" 'grep -q "refused the credentials (HTTP 401: security_exception" "$t/badkey.log"'
check "wrong api key: never printed" '! grep -q "wrong-key-456" "$t/badkey.log"'
ES_API_KEY=good-key-123 WARD_COUNT=300 run goodkey "$t/key.ini"
check "right api key: delivered" '[ $rc = 0 ] && [ "$(es_stats "$A" documents)" -gt 0 ]'
ward_ini "$t/basic.ini" "http://127.0.0.1:$A" "username = elastic" 'password = ${ES_PASSWORD}'
ES_PASSWORD=s3cret-pw WARD_COUNT=300 run basic "$t/basic.ini"
check "basic auth: delivered" '[ $rc = 0 ] && grep -q "es_already_there" "$t/basic.log"'
check "basic auth: password never printed" '! grep -q "s3cret-pw" "$t/basic.log"'
ES_PASSWORD=nope COPY_DIR=$t/c DEAD_DIR=$t/d "$BPPIPE" check "$t/basic.ini" >"$t/check-bad.log" 2>&1
rc=$?
check "check: wrong password is an error" '[ $rc != 0 ] && grep -q "refused the credentials" "$t/check-bad.log"'

# --- not Elasticsearch --------------------------------------------------------------------------
mkdir -p "$t/www"
(cd "$t/www" && exec /usr/bin/python3 -m http.server --bind 127.0.0.1 0 >"$t/www.log" 2>&1) &
other=$!
for _ in $(seq 50); do grep -q "port" "$t/www.log" 2>/dev/null && break; sleep 0.1; done
W=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$t/www.log" | head -1)
ward_ini "$t/www.ini" "http://127.0.0.1:$W"
WARD_COUNT=100 run www "$t/www.ini"
check "not a cluster: the run stops" '[ $rc != 0 ]'
check "not a cluster: says so" 'grep -q "is not an Elasticsearch or OpenSearch cluster" "$t/www.log"'

# --- TLS: verified by default, ca_file trusts a private CA, verify = false warns -------------
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$t/key.pem" -out "$t/cert.pem" 2>/dev/null
es_start tls --tls-cert "$t/cert.pem" --tls-key "$t/key.pem"
T=$ES_PORT_tls
ward_ini "$t/tls.ini" "https://127.0.0.1:$T" 'ca_file = ${ES_CA:-}' 'verify = ${ES_VERIFY:-true}'
WARD_COUNT=300 timeout 60 bash -c 'COPY_DIR=$1/c DEAD_DIR=$1/d "$BPPIPE" run "$1/tls.ini" >"$1/tls-untrusted.log" 2>&1' _ "$t"
rc=$?
check "tls: an untrusted certificate stops the run" '[ $rc = 1 ] || [ $rc = 2 ]'
check "tls: and says what to do" 'grep -q "TLS: .*give the cluster.s CA as ca_file" "$t/tls-untrusted.log"'
ES_CA=$t/cert.pem WARD_COUNT=300 run tls "$t/tls.ini"
check "tls: with ca_file the run succeeds" '[ $rc = 0 ] && [ "$(es_stats_tls documents)" -gt 0 ]'
check "tls: no warning when verified" '! grep -q "TLS verification is OFF" "$t/tls.log"'
ES_VERIFY=false WARD_COUNT=300 run tlsoff "$t/tls.ini"
check "tls: verify = false works and warns" '[ $rc = 0 ] && grep -q "TLS verification is OFF" "$t/tlsoff.log"'

# --- [pipeline] linger_ms: a slow source's readings gathered into full requests ---------------
# 300 readings at 200/s with batch_size 100: lingering, every batch waits until it has 100; without
# it, each poll's few due readings are a batch (and a bulk request) of their own.
cat >"$t/linger.ini" <<INI
[pipeline]
batch_size = 100
stats_interval = 0
linger_ms = \${LINGER:-5000}
[source.ward]
plugin = source-faker
patients = 1
rate = 200
count = 300
seed = 3
start_time = 2026-03-01T00:00:00Z
[detector.rules]
plugin = detector-rules
[sink.es]
plugin = sink-es
route = all
url = http://127.0.0.1:\${PORT}
INI
es_start linger
LINGER=5000 PORT=$ES_PORT_linger "$BPPIPE" run "$t/linger.ini" >"$t/linger.log" 2>&1
rc=$?
check "linger: 300 readings in 3 bulk requests of 100" \
    '[ $rc = 0 ] && [ "$(es_stats "$ES_PORT_linger" bulk_requests)" = 3 ] && [ "$(es_stats "$ES_PORT_linger" max_bulk_items)" = 100 ]'
es_start nolinger
LINGER=0 PORT=$ES_PORT_nolinger "$BPPIPE" run "$t/linger.ini" >"$t/nolinger.log" 2>&1
rc=$?
check "linger_ms = 0: batches as the source has them (more than 10 requests)" \
    '[ $rc = 0 ] && [ "$(es_stats "$ES_PORT_nolinger" bulk_requests)" -gt 10 ]'
check "both runs indexed the same documents" \
    '[ "$(es_ids "$ES_PORT_linger" | md5sum)" = "$(es_ids "$ES_PORT_nolinger" | md5sum)" ] && [ "$(es_stats "$ES_PORT_linger" documents)" -gt 250 ]'

# --- bppipe check reports what it found --------------------------------------------------------
b0=$(es_stats "$P" bulk_requests)
COPY_DIR=$t/c DEAD_DIR=$t/d "$BPPIPE" check "$t/ward.ini" >"$t/check.log" 2>&1
rc=$?
check "check: ok" '[ $rc = 0 ]'
check "check: names the cluster and version" 'grep -q "connected to Elasticsearch 8.12.1" "$t/check.log"'
check "check: writes nothing" '[ "$(es_stats "$P" bulk_requests)" = "$b0" ] && [ "$(es_stats "$P" documents)" = "$n" ]'
ward_ini "$t/notpl.ini" "http://127.0.0.1:$P" "install_template = true" "template = $t/nope.json"
COPY_DIR=$t/c DEAD_DIR=$t/d "$BPPIPE" check "$t/notpl.ini" >"$t/check-notpl.log" 2>&1
rc=$?
check "check: a template file that is not there is an error before anything runs" \
    '[ $rc != 0 ] && grep -q "cannot read the index template $t/nope.json: No such file" "$t/check-notpl.log"'
echo '[1, 2]' >"$t/array.json"
ward_ini "$t/badtpl.ini" "http://127.0.0.1:$P" "install_template = true" \
    "template = $src/deploy/elasticsearch/bp-anomalies-template.json" "ilm_policy = $t/array.json"
COPY_DIR=$t/c DEAD_DIR=$t/d "$BPPIPE" check "$t/badtpl.ini" >"$t/check-badtpl.log" 2>&1
rc=$?
check "check: an ILM policy file that is not a JSON object is an error" \
    '[ $rc != 0 ] && grep -q "the ILM policy $t/array.json is not a JSON object" "$t/check-badtpl.log"'
ward_ini "$t/down.ini" "http://127.0.0.1:1" "connect_timeout_ms = 300"
COPY_DIR=$t/c DEAD_DIR=$t/d "$BPPIPE" check "$t/down.ini" >"$t/check-down.log" 2>&1
rc=$?
check "check: a cluster that does not answer is an error (it asks the services)" \
    '[ $rc = 2 ] && grep -q "no cluster node answers (http://127.0.0.1:1: .*); check url" "$t/check-down.log"'
COPY_DIR=$t/c DEAD_DIR=$t/d "$BPPIPE" check "$t/down.ini" --offline >"$t/check-offline.log" 2>&1
rc=$?
check "check --offline: a cluster that does not answer is a warning, not an error" \
    '[ $rc = 0 ] && grep -q "no cluster node answers (http://127.0.0.1:1: .*); a run starts anyway" "$t/check-offline.log"'

if [ $fail != 0 ] && [ -z "${ES_QUIET:-}" ]; then
    for f in "$t"/*.log; do echo "== $f"; tail -15 "$f"; done
fi
exit $fail
