#!/usr/bin/env bash
# Backpressure: Elasticsearch away, no disk buffer. The lane fills, the host stops polling, the
# source reads nothing more: the senders get no answer and block (TCP), bppipe's memory stays
# bounded, nothing is dropped; when Elasticsearch is back everything flows and every message is
# answered AA and stored once.
set -u
fail=0
t=$(mktemp -d)
sender=
trap '[ -n "$bp_pid" ] && kill -9 $bp_pid 2>/dev/null; [ -n "$sender" ] && kill $sender 2>/dev/null; es_stop_all; rm -rf "$t"' EXIT
. "$BPPIPE_SOURCE_DIR/tests/es/lib.sh"
. "$BPPIPE_SOURCE_DIR/tests/mllp/lib.sh"
total=1600
es_start main
mllp_ini "$t/p.ini" "$ES_PORT_main"
# a small lane (4 MiB) so the bound shows quickly; each message carries 50 kB of notes, so the
# 80 MB sent are far more than the lane, the socket buffers and the source's buffers together
sed -i 's/^stats_interval = 0$/stats_interval = 0\nlane_max_bytes = 4194304/' "$t/p.ini"
"${TOOL[@]}" gen $total "$t/all.mllp" --pad 50000
bp_start "$t/p.ini" "$t/err" --summary-json "$t/sum.json" || exit 1
es_fault "$ES_PORT_main" '{"refuse_s": 30}'
wait_for 10 "! curl -s -o /dev/null --max-time 1 http://127.0.0.1:$ES_PORT_main/"
"${TOOL[@]}" pipeline "$t/port" "$t/all.mllp" "$t/status" --conns 2 &
sender=$!
# stalled: what the senders managed to send has not moved for 2 s
last=-1
stalled=0
for _ in $(seq 200); do
    now=$(cut -d' ' -f1 "$t/status" 2>/dev/null || echo 0)
    if [ "$now" = "$last" ] && [ "$now" -gt 0 ]; then
        stalled=$((stalled + 1))
        [ $stalled -ge 4 ] && break
    else
        stalled=0
    fi
    last=$now
    sleep 0.5
done
read -r sent acked codes <"$t/status"
rss_kb=$(awk '/^VmRSS/ {print $2}' /proc/$bp_pid/status)
down=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$ES_PORT_main/" || true)
check "Elasticsearch was away while the senders stalled" "[ '$down' = 000 ]"
check "the senders are blocked: $sent of $total sent, none answered" "[ $sent -lt $total ] && [ $acked = 0 ]"
check "bppipe's memory stays bounded (${rss_kb} kB resident, less than 96 MB while 80 MB wait)" \
    "[ $rss_kb -lt 98304 ]"
wait_for 180 "! kill -0 $sender 2>/dev/null"
wait $sender
sender=
read -r sent acked codes <"$t/status"
check "when Elasticsearch is back every message is answered AA ($codes)" \
    "[ $acked = $total ] && [ '$codes' = 'AA=$total' ]"
bp_stop
check "bppipe stops cleanly (exit 0)" "[ $? = 0 ]"
es_ids "$ES_PORT_main" >"$t/es_ids"
check "every reading is in Elasticsearch exactly once ($total)" \
    "[ \$(wc -l <'$t/es_ids') = $total ] && [ \$(sort -u '$t/es_ids' | wc -l) = $total ]"
check "nothing dropped: the books balance, nothing invalid" \
    "[ \$(j '$t/sum.json' \"d['readings_in']\") = $total ] && [ \$(j '$t/sum.json' \"d['invalid']\") = 0 ] && [ \$(j '$t/sum.json' \"d['in_flight']\") = 0 ]"
[ $fail = 0 ] || tail -n 20 "$t/err"
exit $fail
