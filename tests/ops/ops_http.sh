#!/usr/bin/env bash
# The operations listener (docs/operations.md): a ward with http_listen = 127.0.0.1:0 writes its
# address to http_port_file; /metrics is in the Prometheus text format (promtool check metrics)
# and, once the books stop moving, says what --summary-json says after the stop; the bearer
# token is asked for; /readyz turns 503 with the failing sink named while test-sink is down past
# ready_grace_ms and 200 again once it delivers; /healthz is 200 while the loop runs.
set -u
. "$(dirname "$0")/../wait.sh"
fail=0
t=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$t"; }
trap cleanup EXIT
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
check() { if eval "$2"; then ok "$1"; else bad "$1 ($2)"; fi; }
TOKEN=ops-test-token-3f1
export OPS_TOKEN=$TOKEN
get() { curl -s -m 5 -H "Authorization: Bearer $TOKEN" "http://$addr$1"; }
code() { curl -s -m 5 -o /dev/null -w '%{http_code}' "$@"; }
# metric NAME [LABELS]: the value of one sample of the last scrape
metric() {
    local k=$1
    [ $# -gt 1 ] && k="$1{$2}"
    awk -v k="$k " 'substr($0, 1, length(k)) == k {print $NF}' "$t/m.txt"
}
j() {
    python3 -c "import json,sys; d=json.load(open('$t/sum.json')); print(eval(sys.argv[1]))" "$1"
}
same() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) == float(sys.argv[2]) else 1)" \
         "${1:-x}" "${2:-y}" 2>/dev/null; }

obs() { # obs ID PATIENT SYSTOLIC DIASTOLIC
    printf '{"resourceType":"Observation","id":"%s","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2026-01-02T03:04:05Z","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":%s,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":%s,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}\n' "$1" "$2" "$3" "$4"
}
{
    for i in $(seq 1 40); do obs "n$i" "P-$i" 118 76; done
    for i in $(seq 1 7); do obs "a$i" "P-$i" 200 125; done
    for i in $(seq 1 3); do obs "r$i" "P-REJECT" 120 80; done # test-sink rejects these
    for i in $(seq 1 4); do echo "not json $i"; done
    obs i1 P-1 500 80; obs i2 P-2 510 80                       # implausible
} >"$t/in.ndjson"

wait_file() { wait_until 60 test -s "$1"; }

# 1. A ward whose books stop moving: ops-source hands out in.ndjson once, then idles.
cat >"$t/p.ini" <<INI
[pipeline]
plugin_path = $OPS_PLUGIN_DIR:$RUNNER_PLUGIN_DIR
stats_interval = 0
retry_initial_ms = 1
retry_max_ms = 2
http_listen = 127.0.0.1:0
http_port_file = $t/addr
http_token_env = OPS_TOKEN
[source.in]
plugin = ops-source
path = $t/in.ndjson
unassigned_file = $t/unassigned
[detector.rules]
plugin = detector-rules
[sink.out]
plugin = test-sink
route = all
path = $t/out
reject_patient = P-REJECT
retry_first = 2
[sink.dead]
plugin = sink-file
route = invalid
path = $t/dead
INI
"$BPPIPE" run "$t/p.ini" --summary-json "$t/sum.json" 2>"$t/err" &
pid=$!
wait_file "$t/addr"
addr=$(cat "$t/addr" 2>/dev/null)
check "the listener writes its address (port 0: a free one) to http_port_file" \
      "[[ '$addr' =~ ^127\.0\.0\.1:[0-9]+$ ]] && [ '${addr#*:}' != 0 ]"
check "the address is logged at info" "grep -q 'http listener on $addr' '$t/err'"
settled=
books_settled() {
    get /metrics >"$t/m.txt"
    done_n=$(awk '$1 ~ /^bppipe_readings_total\{route="(normal|anomaly|invalid)"\}$/ {s+=$2}
                  END {print s+0}' "$t/m.txt")
    [ "$done_n" = 56 ] && [ "$(metric bppipe_readings_in_flight)" = 0 ]
}
wait_until 60 books_settled && settled=1
check "/metrics counts every reading of the file under its route" "[ -n '$settled' ]"
check "promtool check metrics accepts /metrics" "promtool check metrics <'$t/m.txt' >'$t/lint' 2>&1"
check "a scrape without the token gets 401" "[ \$(code http://$addr/metrics) = 401 ]"
check "a wrong token gets 401" \
      "[ \$(code -H 'Authorization: Bearer nope' http://$addr/metrics) = 401 ]"
check "/healthz is 200 with the token" \
      "[ \$(code -H 'Authorization: Bearer $TOKEN' http://$addr/healthz) = 200 ]"
check "/readyz is 200 while every sink delivers" "[ \"\$(get /readyz)\" = '{\"ready\":true}' ]"
check "an unknown path is 404" "[ \$(code -H 'Authorization: Bearer $TOKEN' http://$addr/x) = 404 ]"
check "bppipe_up is 1" "[ '$(metric bppipe_up)' = 1 ]"
check "no patient id in any label" "! grep -q 'P-' '$t/m.txt'"
check "a plugin's count() counter is a sample" \
      "grep -q '^bppipe_plugin_value{instance=\"source.in\",name=\"partitions_assigned\"} 1$' '$t/m.txt'"
touch "$t/unassigned" # ops-source: partitions_assigned drops to 0, as in a Kafka rebalance
went=
unassigned() { [ "$(get /readyz)" = '{"ready":false,"reason":"source.in has no partitions assigned"}' ]; }
wait_until 60 unassigned && went=1
check "/readyz is 503 while the source has no partitions assigned" "[ -n '$went' ]"
rm -f "$t/unassigned"
back=
ready() { [ "$(get /readyz)" = '{"ready":true}' ]; }
wait_until 60 ready && back=1
check "/readyz is 200 again once they are assigned" "[ -n '$back' ]"
kill -TERM "$pid"
wait "$pid"
st=$?
pid=
check "the ward stops on SIGTERM, exit 0" "[ $st = 0 ]"
check "the listener is closed after the run" "! curl -s -m 2 http://$addr/healthz >/dev/null"
for r in normal anomaly invalid; do
    check "readings_total{route=$r} = summary's $r" \
          "same '$(metric bppipe_readings_total "route=\"$r\"")' '$(j "d['$r']")'"
done
check "payloads_total = summary's payloads" \
      "same '$(metric bppipe_payloads_total)' '$(j "d['payloads']")'"
for s in sink.out sink.dead; do
    for k in delivered rejected retries spooled; do
        check "$s: sink_${k}_total = summary's $k" \
              "same '$(metric "bppipe_sink_${k}_total" "sink=\"$s\"")' \
                    '$(j "d['sinks']['$s']['$k']")'"
    done
done
check "the run had rejections and retries to count" \
      "[ '$(j "d['sinks']['sink.out']['rejected']")' = 3 ] &&
       [ '$(j "d['sinks']['sink.out']['retries']")' -ge 2 ]"
check "dead letters by reason sum to the summary's invalid by reason" \
      "same \$(awk '/^bppipe_dead_letters_total/ && !/rejected by a sink/ {s+=\$NF}
                    END {print s}' '$t/m.txt') '$(j "sum(d['invalid_by_reason'].values())")'"
check "dead letters rejected by a sink = summary's sink_rejected" \
      "same '$(metric bppipe_dead_letters_total 'reason="rejected by a sink"')' \
            '$(j "d['sink_rejected']")'"
check "e2e latency histogram: one observation per committed reading" \
      "[ '$(metric bppipe_e2e_latency_seconds_count)' = 56 ] &&
       [ '$(metric bppipe_e2e_latency_seconds_bucket 'le="+Inf"')' = 56 ]"
check "e2e latency: buckets are cumulative, the smallest at most the count" \
      "[ '$(metric bppipe_e2e_latency_seconds_bucket 'le="0.005"')' -le 56 ]"
check "batch duration histogram counts the committed batches" \
      "[ '$(metric bppipe_batch_duration_seconds_count)' -ge 1 ]"
check "the reason label folds numbers (a bounded set)" \
      "grep -q 'reason=\"implausible_value: systolic N outside N-N mmHg\"' '$t/m.txt'"

# 2. Readiness: a paced ward whose sink goes down (test-sink down_file) for longer than
#    ready_grace_ms, then comes back. No token this time.
cat >"$t/r.ini" <<INI
[pipeline]
plugin_path = $RUNNER_PLUGIN_DIR
stats_interval = 0
retry_initial_ms = 50
retry_max_ms = 200
http_listen = 0
http_port_file = $t/addr2
ready_grace_ms = 1500
[source.faker]
plugin = source-faker
rate = 50
[sink.out]
plugin = test-sink
route = all
path = $t/out2
down_file = $t/down
INI
"$BPPIPE" run "$t/r.ini" 2>"$t/err2" &
pid=$!
wait_file "$t/addr2"
addr=$(cat "$t/addr2" 2>/dev/null)
check "a bare port 0 listens on 127.0.0.1" "[[ '$addr' =~ ^127\.0\.0\.1:[0-9]+$ ]]"
check "no token asked for when http_token_env is unset" "[ \$(code http://$addr/readyz) = 200 ]"
touch "$t/down"
went=
readyz_is() { [ "$(code "http://$addr/readyz")" = "$1" ]; }
wait_until 60 readyz_is 503 && went=1
body=$(curl -s -m 5 "http://$addr/readyz")
check "/readyz turns 503 while the sink is down past the grace" "[ -n '$went' ]"
check "the reason names the sink and how long" \
      "[[ '$body' =~ ^\\{\\\"ready\\\":false,\\\"reason\\\":\\\"sink.out\\ failing\\ for\\ [0-9]+\\ s\\\"\\}$ ]]"
check "/healthz stays 200 while a sink is down" "[ \$(code http://$addr/healthz) = 200 ]"
curl -s -m 5 "http://$addr/metrics" >"$t/m.txt"
check "sink_failing_seconds shows the outage" \
      "python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 1 else 1)' \
               '$(metric bppipe_sink_failing_seconds 'sink="sink.out"')'"
rm -f "$t/down"
back=
wait_until 60 readyz_is 200 && back=1
check "/readyz is 200 again once the sink delivers" "[ -n '$back' ]"
sed "s/^http_listen = .*/http_listen = $addr/; /^http_port_file/d" "$t/r.ini" >"$t/taken.ini"
timeout -k 5 30 "$BPPIPE" run "$t/taken.ini" 2>"$t/err5" </dev/null
check "a port already taken stops the run (exit 1), with the reason" \
      "[ $? = 1 ] && grep -q 'could not listen on $addr' '$t/err5'"
kill -TERM "$pid"
wait "$pid"
st=$?
pid=
check "the paced ward stops on SIGTERM, exit 0" "[ $st = 0 ]"
check "no sanitizer report from either run" "! grep -q 'Sanitizer' '$t/err' '$t/err2'"

# 3. What cannot listen is refused: check and run name the key (exit 2).
for bad in localhost:x 127.0.0.1:70000 ::1:9464 :9464; do
    sed "s/^http_listen = .*/http_listen = $bad/" "$t/r.ini" >"$t/bad.ini"
    "$BPPIPE" check "$t/bad.ini" >"$t/err3" 2>&1 </dev/null
    check "check refuses http_listen = $bad (exit 2, naming the key)" \
          "[ $? = 2 ] && grep -q \"key 'http_listen': '$bad'\" '$t/err3'"
done
"$BPPIPE" run "$t/bad.ini" 2>"$t/err3" </dev/null
check "run refuses it too (exit 2)" "[ $? = 2 ]"
sed "s/^http_listen = .*/http_listen = 0.0.0.0:0/" "$t/r.ini" >"$t/any.ini"
"$BPPIPE" check "$t/any.ini" >/dev/null 2>&1 </dev/null
check "check accepts HOST:PORT with an IPv4 host" "[ $? = 0 ]"
sed 's/^http_port_file = .*/http_token_env = OPS_UNSET_VAR/' "$t/r.ini" >"$t/bad2.ini"
env -u OPS_UNSET_VAR "$BPPIPE" run "$t/bad2.ini" 2>"$t/err4" </dev/null
check "an unset token variable stops the run" "[ $? = 1 ] && grep -q 'OPS_UNSET_VAR' '$t/err4'"

[ $fail = 0 ] || { echo "--- stderr"; tail -20 "$t/err"; cat "$t/lint" 2>/dev/null; }
exit $fail
