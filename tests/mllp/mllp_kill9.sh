#!/usr/bin/env bash
# kill -9 of bppipe while a sender is mid-stream: every message the sender saw acknowledged is
# in Elasticsearch at that moment; after a restart the sender sends again what it saw no answer
# to, and every message then lands exactly once; the books of the second run balance.
set -u
fail=0
t=$(mktemp -d)
sender=
trap '[ -n "$bp_pid" ] && kill -9 $bp_pid 2>/dev/null; [ -n "$sender" ] && kill $sender 2>/dev/null; es_stop_all; rm -rf "$t"' EXIT
. "$BPPIPE_SOURCE_DIR/tests/es/lib.sh"
. "$BPPIPE_SOURCE_DIR/tests/mllp/lib.sh"
total=300
es_start main
mllp_ini "$t/p.ini" "$ES_PORT_main"
"${TOOL[@]}" gen $total "$t/all.mllp"
bp_start "$t/p.ini" "$t/err" || exit 1
touch "$t/acked1"
"${TOOL[@]}" send "$t/port" "$t/all.mllp" "$t/acked1" 2>/dev/null &
sender=$!
wait_for 60 "[ \$(wc -l <'$t/acked1' 2>/dev/null || echo 0) -ge 60 ]"
kill -9 $bp_pid
wait $bp_pid 2>/dev/null
bp_pid=
wait $sender 2>/dev/null
sender=
n1=$(wc -l <"$t/acked1")
check "the sender was mid-stream at the kill ($n1 of $total acknowledged)" "[ $n1 -ge 60 ] && [ $n1 -lt $total ]"
awk '$2 == "AA" {print $1}' "$t/acked1" | sort -u >"$t/acked_ids"
es_control_ids "$ES_PORT_main" >"$t/es_at_kill"
check "every message acknowledged before the kill is in Elasticsearch" \
    "[ -z \"\$(comm -23 '$t/acked_ids' '$t/es_at_kill')\" ] && [ \$(wc -l <'$t/acked_ids') = $n1 ]"

bp_start "$t/p.ini" "$t/err2" --summary-json "$t/sum.json" || exit 1
"${TOOL[@]}" send "$t/port" "$t/all.mllp" "$t/acked2" --skip "$t/acked1"
n2=$(wc -l <"$t/acked2")
check "after the restart the rest ($((total - n1))) is sent again and acknowledged AA" \
    "[ $n2 = $((total - n1)) ] && [ \$(grep -c ' AA$' '$t/acked2') = $n2 ]"
bp_stop
check "bppipe stops cleanly (exit 0)" "[ $? = 0 ]"
es_ids "$ES_PORT_main" >"$t/es_ids"
check "every message's reading is in Elasticsearch exactly once ($total)" \
    "[ \$(wc -l <'$t/es_ids') = $total ] && [ \$(sort -u '$t/es_ids' | wc -l) = $total ]"
check "and in the archive" "[ \$(archive_ids | sort -u | wc -l) = $total ]"
check "the books of the second run balance" \
    "[ \$(j '$t/sum.json' \"d['readings_in']\") = \$(j '$t/sum.json' \"d['anomaly']+d['normal']+d['invalid']\") ] && [ \$(j '$t/sum.json' \"d['in_flight']\") = 0 ] && [ \$(j '$t/sum.json' \"d['readings_in']\") -ge $n2 ]"
[ $fail = 0 ] || { tail -n 20 "$t/err" "$t/err2"; }
exit $fail
