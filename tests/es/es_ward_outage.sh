#!/usr/bin/env bash
# Elasticsearch down for 20 s while the simulated ward runs (tests/es/ward_lanes.sh): alerts and
# normal readings keep being written during the outage, because each sink delivers on its own
# lane; after it every anomaly is in Elasticsearch exactly once and the books balance. Counts and
# orders only: the time limits just stop the waiting.
set -u
fail=0
t=$(mktemp -d)
ward=
trap '[ -n "$ward" ] && kill -9 $ward 2>/dev/null; es_stop_all; rm -rf "$t"' EXIT
. "$BPPIPE_SOURCE_DIR/tests/es/lib.sh"
. "$BPPIPE_SOURCE_DIR/tests/es/ward_lanes.sh"
es_start main
ward_ini "$t/ward.ini" "$ES_PORT_main" "path = $t/alerts.ndjson"
"$BPPIPE" run "$t/ward.ini" --duration 40 --summary-json "$t/sum.json" 2>"$t/err" &
ward=$!
indexed() { es_stats "$ES_PORT_main" documents; }
at_least() { [ "$("$1")" -ge "$2" ]; }
wait_until_costly 60 at_least indexed 1
before=$(indexed)
es_fault "$ES_PORT_main" '{"refuse_s": 20}'
# Conditions, not a fixed 2 s and 12 s: the cluster refuses (sink-es said so), then the archive
# and the alerts must grow while it does.
wait_until 60 grep -q 'sink.es\] .*will retry\|sink.es\] no cluster node answers' "$t/err"
alerts() { wc -l <"$t/alerts.ndjson"; }
n1=$(normal_count); a1=$(alerts)
wait_until 60 at_least normal_count $((n1 + 1))
wait_until 60 at_least alerts $((a1 + 1))
backlog_said() { grep -q 'sink.es: backlog [0-9]* record(s) in [0-9]* batch(es), [0-9.]* MiB, retrying' "$t/err"; }
wait_until 60 backlog_said
n2=$(normal_count); a2=$(alerts)
down_up=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$ES_PORT_main/" || true)
check "Elasticsearch was down while we counted" "[ '$down_up' = 000 ]"
check "normal readings kept being written during the outage ($n1, then $n2)" "[ $n1 -gt 0 ] && [ $n2 -gt $n1 ]"
check "alerts kept being written during the outage ($a1, then $a2)" "[ $a2 -gt $a1 ]"
check "the status line names the sink that cannot deliver and its backlog" \
    "grep -q 'sink.es: backlog [0-9]* record(s) in [0-9]* batch(es), [0-9.]* MiB, retrying' '$t/err'"
wait $ward
st=$?
ward=
check "the ward ends after its 40 s, exit 0" "[ $st = 0 ]"
anomalies=$(j "$t/sum.json" "d['anomaly']")
es_ids "$ES_PORT_main" >"$t/ids"
check "the outage began mid-run ($before documents before it)" \
    "[ $before -gt 0 ] && [ $before -lt \$(wc -l <'$t/ids') ]"
check "every anomaly ($anomalies) is in Elasticsearch exactly once" \
    "[ \$(wc -l <'$t/ids') = $anomalies ] && [ \$(sort -u '$t/ids' | wc -l) = $anomalies ]"
check "sink-es retried through the outage" "[ \$(j '$t/sum.json' \"d['sinks']['sink.es']['retries']\") -gt 0 ]"
check "every normal reading is in the archive" "[ \$(normal_count) = \$(j '$t/sum.json' \"d['normal']\") ]"
check "every critical reading is an alert" \
    "[ \$(wc -l <'$t/alerts.ndjson') = \$(j '$t/sum.json' \"d['sinks']['sink.alerts']['delivered']\") ]"
check "the books balance, nothing in flight" \
    "[ \$(j '$t/sum.json' \"d['readings_in']\") = \$(j '$t/sum.json' \"d['anomaly']+d['normal']+d['invalid']\") ] && [ \$(j '$t/sum.json' \"d['in_flight']\") = 0 ] && [ \$(j '$t/sum.json' \"d['readings_in']\") -gt 2000 ]"
[ $fail = 0 ] || tail -n 20 "$t/err"
exit $fail
