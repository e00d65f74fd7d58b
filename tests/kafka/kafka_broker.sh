#!/usr/bin/env bash
# `bppipe broker`: kcat (an independent Kafka client) produces and consumes through it; topics
# and partitions as asked; the bootstrap file appears once it is up and goes away on SIGTERM;
# the mock's ~5 MiB per partition limit is told in the help and the banner, and the messages it
# drops are counted in a warning; its listening sockets have Nagle's algorithm off (TCP_NODELAY,
# read from the broker process with tests/kafka/socket_nodelay.py), also after an --outage.
. "$(dirname "$0")/lib.sh"

"$BPPIPE" broker --topic 'bad name' >/dev/null 2>"$t/e1"
check "a bad topic name is a usage error (2)" "[ $? = 2 ] && grep -q 'may only use' $t/e1"
"$BPPIPE" broker --topic bp:0 >/dev/null 2>"$t/e2"
check "zero partitions is a usage error (2)" "[ $? = 2 ] && grep -q '1-1000' $t/e2"
"$BPPIPE" broker --brokers 99 >/dev/null 2>"$t/e3"
check "too many brokers is a usage error (2)" "[ $? = 2 ]"
"$BPPIPE" broker --help >"$t/help"
check "help says it is for development only" "grep -q 'development and tests only' $t/help"
check "help says each partition keeps ~5 MiB" "grep -q 'most recent ~5 MiB' $t/help"
timeout 10 "$BPPIPE" broker --topic bp:1 >"$t/banner" 2>/dev/null &
banner=$!
track $banner
for _ in $(seq 1 50); do grep -q '^stop with' "$t/banner" && break; sleep 0.1; done
check "the banner says each partition keeps ~5 MiB" "grep -q 'most recent ~5 MiB' $t/banner"
kill -TERM $banner

start_broker --topic blood-pressure:4 --topic other:2 --topic small:1
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

# 7 000 messages of 1 KB on one partition: the mock keeps ~5 MiB and drops the oldest.
python3 -c "
for i in range(7000):
    print('%05d' % i + 'x' * 1000)" >"$t/big"
kc -P -t small -l "$t/big"
kept=$(kc -C -t small -o beginning -e -f 'x\n' | wc -l)
check "some of the 7000 messages were dropped ($kept kept)" "[ $kept -gt 0 ] && [ $kept -lt 7000 ]"
# The broker looks every 2 s, perhaps once while kcat was still producing.
for _ in $(seq 1 100); do
    grep -q "; $((7000 - kept)) dropped in all" "$t/broker.err" && break
    sleep 0.1
done
check "the broker warns about the drop, with the count" \
    "grep -q 'small partition 0 dropped its .*; $((7000 - kept)) dropped in all' $t/broker.err"

# Nagle's algorithm off, as a real Kafka broker has it: with it on, a response written while an
# earlier one was unacknowledged waited for the client's delayed ACK (40 ms a changelog flush).
nodelay() { /usr/bin/python3 "$BPPIPE_SOURCE_DIR/tests/kafka/socket_nodelay.py" "$1" "${2##*:}"; }
check "the broker's socket has TCP_NODELAY" "[ \"\$(nodelay $broker_pid $BROKERS)\" = 1 ]"
# --outage: the broker listens anew when it comes back, with Nagle off again
"$BPPIPE" broker --quiet --outage 1 --bootstrap-file "$t/bootstrap2" >/dev/null 2>"$t/b2.err" &
b2=$!
track $b2
wait_until 60 test -s "$t/bootstrap2" || bad "the second broker started"
kill -USR1 $b2
wait_until 60 grep -q 'down (SIGUSR1)' "$t/b2.err"
kill -USR2 $b2
wait_until 60 grep -q 'up again (SIGUSR2)' "$t/b2.err"
_nodelay() { [ "$(nodelay $b2 "$(cat "$t/bootstrap2")" 2>/dev/null)" = 1 ]; }
wait_until 60 _nodelay
check "after an outage the broker's new socket has TCP_NODELAY" \
    "[ \"\$(nodelay $b2 \$(cat $t/bootstrap2))\" = 1 ]"
kill -TERM $b2

kill -TERM "$broker_pid"
for _ in $(seq 1 50); do kill -0 "$broker_pid" 2>/dev/null || break; sleep 0.1; done
wait "$broker_pid"
check "SIGTERM stops the broker with status 0" "[ $? = 0 ]"
check "the bootstrap file is removed on exit" "[ ! -e $t/bootstrap ]"
check "and the total dropped is said at exit" \
    "grep -q '$((7000 - kept)) message(s) were dropped in all' $t/broker.err"
exit $fail
