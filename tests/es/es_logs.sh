#!/usr/bin/env bash
# What sink-es says, true and once a while (against the Elasticsearch emulator):
#  1. the cluster goes away with buffer = disk: the outage is said once (its cause changes on the
#     way: a reset, refusals, timeouts), with where the readings go (its disk buffer), never that
#     the source is held back (it is not); its return once;
#  2. a storm of per-item 429s: a line a while, in the same words, the count in es_items_retried;
#  3. a proxy's HTML 413 page: the dead letter's reason is its status, type, length and title,
#     said to be shortened, never the page;
#  4. TLS: a certificate for another host name with the right CA given names the host, not the
#     CA; a ca_file that is not there is named.
set -u
fail=0
t=$(mktemp -d)
run=
trap '[ -n "$run" ] && kill -9 $run 2>/dev/null; es_stop_all; rm -rf "$t"' EXIT
. "$BPPIPE_SOURCE_DIR/tests/es/lib.sh"
j() { /usr/bin/python3 -c "import json,sys; d=json.load(open('$1')); print(eval(sys.argv[1]))" "$2"; }
# wait_for FILE PATTERN [SECONDS]: until grep -E finds PATTERN in FILE
wait_for() {
    for _ in $(seq $((${3:-60} * 10))); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
# ini FILE URL RATE COUNT [lines for sink.es...]: the simulated ward, anomalies to sink-es,
# dead letters to a file
ini() {
    local file=$1 url=$2 rate=$3 count=$4
    shift 4
    {
        cat <<INI
[pipeline]
batch_size = 50
stats_interval = 0
retry_initial_ms = 20
retry_max_ms = 200
[source.ward]
plugin = source-faker
patients = 20
rate = $rate
count = $count
seed = 5
[detector.rules]
plugin = detector-rules
[sink.dead]
plugin = sink-file
route = invalid
path = $t/dead-$(basename "$file" .ini)
layout = ndjson
[sink.es]
plugin = sink-es
route = anomaly
url = $url
timeout_ms = 2000
connect_timeout_ms = 500
INI
        for kv in "$@"; do echo "$kv"; done
    } >"$file"
}

# 1. an outage with a disk buffer (a paced ward: it runs until stopped)
es_start main
P=$ES_PORT_main
ini "$t/outage.ini" "http://127.0.0.1:$P" 5 0 "buffer = disk" "buffer_path = $t/spool"
"$BPPIPE" run "$t/outage.ini" 2>"$t/outage.err" &
run=$!
for _ in $(seq 300); do [ "$(es_stats "$P" documents)" -gt 0 ] && break; sleep 0.1; done
es_fault "$P" '{"refuse_s": 12}'
check "1: the outage reaches the disk buffer" "wait_for '$t/outage.err' 'written to its disk buffer'"
check "1: and its end is said" "wait_for '$t/outage.err' 'sink.es\] http://127.0.0.1:$P answers again'"
check "1: and the disk buffer's end of retries" \
    "wait_for '$t/outage.err' 'its disk buffer delivers again after [0-9]+ failed attempt\\(s\\) in [0-9]+ s'"
kill -TERM $run
wait $run
check "1: the run stops cleanly" "[ $? = 0 ]"
run=
said=$(grep -E 'warn  \[sink.es\] (no cluster node answers|bulk request failed)' "$t/outage.err")
check "1: the outage is said, saying where the readings go" \
    "[ -n \"\$said\" ] && ! echo \"\$said\" | grep -qv 'its readings go to its disk buffer meanwhile'"
check "1: once, not through the outage ($(echo "$said" | grep -c .) lines)" \
    "[ \$(echo \"\$said\" | grep -c .) = 1 ]"
check "1: never that the source is held back" "! grep -q 'held back' '$t/outage.err'"
# the disk buffer's chunk is offered again and again through the outage (before: a warning per
# attempt, 38 in a 15 s outage): the first attempt and one per 10 s with the attempts since
drain=$(grep -c 'warn  \[sink.es\] .* of its disk buffer not yet delivered' "$t/outage.err")
tries=$(sed -n 's/.*its disk buffer delivers again after \([0-9]*\) failed.*/\1/p' "$t/outage.err" | head -1)
check "1: the disk buffer's $tries retries in a line a while ($drain lines)" \
    "[ $drain -ge 1 ] && [ $drain -le 3 ] && [ $drain -lt ${tries:-0} ]"

# 2. a third of the items refused with 429, fast
es_start storm --item-429-every 3
ini "$t/storm.ini" "http://127.0.0.1:$ES_PORT_storm" 0 4000
"$BPPIPE" run "$t/storm.ini" --summary-json "$t/storm.json" 2>"$t/storm.err"
check "2: the run exits 0" "[ $? = 0 ]"
retried=$(j "$t/storm.json" "d['counters']['sink.es']['es_items_retried']" 2>/dev/null || echo 0)
lines=$(grep -c 'warn  \[sink.es\] .*not taken now' "$t/storm.err")
check "2: many items were retried ($retried)" "[ $retried -gt 200 ]"
check "2: in a line a while, not one per write ($lines lines)" "[ $lines -ge 1 ] && [ $lines -le 3 ]"
check "2: in words that stay the same" \
    "grep -q 'warn  \[sink.es\] documents not taken now (item status 429, es_rejected_execution_exception); retrying only those (counted in es_items_retried)' '$t/storm.err'"

# 3. a proxy in front of the cluster answers every bulk request with its HTML 413 page
es_start proxy
es_fault "$ES_PORT_proxy" '{"proxy_413": 100000}'
ini "$t/proxy.ini" "http://127.0.0.1:$ES_PORT_proxy" 0 200
"$BPPIPE" run "$t/proxy.ini" 2>"$t/proxy.err"
check "3: the run exits 0" "[ $? = 0 ]"
cat "$t"/dead-proxy/*.ndjson 2>/dev/null | /usr/bin/python3 -c '
import json, sys
for line in sys.stdin:
    d = json.loads(line)
    if d.get("invalid_reason", "").startswith("rejected by sink.es"):
        print(d["invalid_reason"])' >"$t/reasons"
check "3: the refused readings are dead letters ($(wc -l <"$t/reasons"))" "[ -s '$t/reasons' ]"
want='rejected by sink.es: HTTP 413: text/html answer of [0-9]+ bytes, title "413 Request Entity Too Large" \(shortened: the answer itself is not kept\)$'
check "3: each reason is the status, type, length and title, said to be shortened" \
    "! grep -vqE '$want' '$t/reasons'"
check "3: never the page" "! grep -qiE '<html|<center|nginx' '$t/reasons'"

# 4. TLS
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=wrong.example \
    -addext subjectAltName=DNS:wrong.example -keyout "$t/key.pem" -out "$t/cert.pem" 2>/dev/null
es_start tls --tls-cert "$t/cert.pem" --tls-key "$t/key.pem"
ini "$t/wrong.ini" "https://127.0.0.1:$ES_PORT_tls" 0 10 "ca_file = $t/cert.pem"
"$BPPIPE" check "$t/wrong.ini" >"$t/wrong.out" 2>&1
check "4: the right CA and a certificate for another name: refused, naming the host" \
    "[ $? != 0 ] && grep -q 'error \[sink.es\] TLS: the certificate of https://127.0.0.1:$ES_PORT_tls is issued for another host name than 127.0.0.1 (its CA is trusted, ca_file = $t/cert.pem' '$t/wrong.out'"
check "4: and not the CA" "! grep -q 'give the cluster.s CA' '$t/wrong.out'"
ini "$t/noca.ini" "https://127.0.0.1:$ES_PORT_tls" 0 10 "ca_file = $t/nowhere.pem"
"$BPPIPE" check --offline "$t/noca.ini" >"$t/noca.out" 2>&1
check "4: a ca_file that is not there is named, with why" \
    "[ $? = 2 ] && grep -q 'ca_file = $t/nowhere.pem cannot be read: No such file or directory' '$t/noca.out'"
[ $fail = 0 ] || tail -n 15 "$t"/*.err "$t"/*.out
exit $fail
