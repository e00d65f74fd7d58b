#!/usr/bin/env bash
# The alert webhook down while the simulated ward runs (tests/es/ward_lanes.sh): Elasticsearch
# and the archive keep up during it; once the webhook is back every alert is delivered, once.
set -u
fail=0
t=$(mktemp -d)
ward=
rx=
trap '[ -n "$ward" ] && kill -9 $ward 2>/dev/null; [ -n "$rx" ] && kill $rx 2>/dev/null; es_stop_all; rm -rf "$t"' EXIT
. "$BPPIPE_SOURCE_DIR/tests/es/lib.sh"
. "$BPPIPE_SOURCE_DIR/tests/es/ward_lanes.sh"
es_start main
touch "$t/webhook-down"
/usr/bin/python3 "$BPPIPE_SOURCE_DIR/tests/alert/receiver.py" "$t/port" "$t/received" 0 200 \
    "$t/webhook-down" &
rx=$!
wait_until 60 test -s "$t/port"
ward_ini "$t/ward.ini" "$ES_PORT_main" "webhook = http://127.0.0.1:$(cat "$t/port")/alerts" \
    "timeout_ms = 1000"
"$BPPIPE" run "$t/ward.ini" --summary-json "$t/sum.json" 2>"$t/err" &
ward=$!
# Conditions, not a fixed 1 s and 6 s: the webhook refused an alert and the status line shows
# its backlog; then, with the webhook still down, Elasticsearch and the archive must grow.
indexed() { es_stats "$ES_PORT_main" documents; }
refusing() {
    [ "$(indexed)" -gt 0 ] && grep -q 'will retry' "$t/err" &&
        grep -q 'sink.alerts: backlog [0-9]* record(s)' "$t/err"
}
wait_until_costly 60 refusing
e1=$(indexed); n1=$(normal_count)
grown() { [ "$(indexed)" -gt "$e1" ] && [ "$(normal_count)" -gt "$n1" ]; }
wait_until_costly 60 grown
e2=$(indexed); n2=$(normal_count)
check "the webhook was refusing alerts meanwhile" "grep -q 'will retry' '$t/err' && [ ! -s '$t/received' ]"
check "Elasticsearch kept up while the webhook was down ($e1, then $e2)" "[ $e1 -gt 0 ] && [ $e2 -gt $e1 ]"
check "the archive kept up while the webhook was down ($n1, then $n2)" "[ $n1 -gt 0 ] && [ $n2 -gt $n1 ]"
check "the status line names the alert sink and its backlog" \
    "grep -q 'sink.alerts: backlog [0-9]* record(s) in [0-9]* batch(es), [0-9.]* MiB, retrying' '$t/err'"
rm -f "$t/webhook-down"
# the webhook takes alerts again; SIGTERM then drains what waits for it
wait_until 60 test -s "$t/received"
kill -TERM $ward
wait $ward
st=$?
ward=
check "the ward stops on SIGTERM, exit 0" "[ $st = 0 ]"
sent=$(j "$t/sum.json" "d['sinks']['sink.alerts']['delivered']")
check "every critical reading ($sent) reached the webhook once" \
    "[ $sent -gt 0 ] && [ \$(wc -l <'$t/received') = $sent ] && [ \$(/usr/bin/python3 -c 'import json,sys; print(len({json.loads(l)[\"id\"] for l in open(sys.argv[1])}))' '$t/received') = $sent ]"
es_ids "$ES_PORT_main" >"$t/ids"
check "every anomaly is in Elasticsearch once" \
    "[ \$(wc -l <'$t/ids') = \$(j '$t/sum.json' \"d['anomaly']\") ] && [ \$(sort -u '$t/ids' | wc -l) = \$(wc -l <'$t/ids') ]"
check "the books balance, nothing in flight" \
    "[ \$(j '$t/sum.json' \"d['readings_in']\") = \$(j '$t/sum.json' \"d['anomaly']+d['normal']+d['invalid']\") ] && [ \$(j '$t/sum.json' \"d['in_flight']\") = 0 ]"
[ $fail = 0 ] || tail -n 20 "$t/err"
exit $fail
