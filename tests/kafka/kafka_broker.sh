#!/usr/bin/env bash
# `bppipe broker`: kcat (an independent Kafka client) produces and consumes through it; topics
# and partitions as asked; the bootstrap file appears once it is up and goes away on SIGTERM.
. "$(dirname "$0")/lib.sh"

"$BPPIPE" broker --topic 'bad name' >/dev/null 2>"$t/e1"
check "a bad topic name is a usage error (2)" "[ $? = 2 ] && grep -q 'may only use' $t/e1"
"$BPPIPE" broker --topic bp:0 >/dev/null 2>"$t/e2"
check "zero partitions is a usage error (2)" "[ $? = 2 ] && grep -q '1-1000' $t/e2"
"$BPPIPE" broker --brokers 99 >/dev/null 2>"$t/e3"
check "too many brokers is a usage error (2)" "[ $? = 2 ]"
"$BPPIPE" broker --help >"$t/help"
check "help says it is for development only" "grep -q 'development and tests only' $t/help"

start_broker --topic blood-pressure:4 --topic other:2
check "bootstrap address is on 127.0.0.1" "[[ $BROKERS == 127.0.0.1:* ]]"
check "bootstrap printed on stdout" "grep -qx '$BROKERS' $t/broker.out"
kc -L >"$t/meta" 2>&1
check "metadata lists blood-pressure with 4 partitions" \
    "grep -q 'topic \"blood-pressure\" with 4 partitions' $t/meta"
check "metadata lists other with 2 partitions" "grep -q 'topic \"other\" with 2 partitions' $t/meta"

for i in $(seq 1 200); do echo "PAT-$((i % 7)):reading-$i"; done >"$t/msgs"
kc -P -t blood-pressure -K: -l "$t/msgs"
check "kcat produce exits 0" "[ $? = 0 ]"
kc -C -t blood-pressure -o beginning -e -f '%k %s %p\n' >"$t/got"
check "kcat consumes all 200 messages back" "[ \$(wc -l <$t/got) = 200 ]"
check "every value came back exactly once" \
    "[ \"\$(cut -d' ' -f2 $t/got | sort)\" = \"\$(cut -d: -f2 $t/msgs | sort)\" ]"
check "one key stays in one partition" \
    "[ \$(awk '\$1==\"PAT-3\"{print \$3}' $t/got | sort -u | wc -l) = 1 ]"
check "the keys spread over several partitions" "[ \$(cut -d' ' -f3 $t/got | sort -u | wc -l) -gt 1 ]"

kill -TERM "$broker_pid"
for _ in $(seq 1 50); do kill -0 "$broker_pid" 2>/dev/null || break; sleep 0.1; done
wait "$broker_pid"
check "SIGTERM stops the broker with status 0" "[ $? = 0 ]"
check "the bootstrap file is removed on exit" "[ ! -e $t/bootstrap ]"
exit $fail
