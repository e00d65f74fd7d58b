#!/usr/bin/env bash
# bppipe check reaches the services (bp_plugin.probe, ABI 1.4): with the embedded broker and the
# Elasticsearch emulator up, the ward checks out and says what answered; with the broker, then
# Elasticsearch, unreachable it is exit 2 with a line naming the brokers or the url and what to
# check; a cluster that refuses the credentials is exit 2 too; --offline checks the file alone;
# --timeout bounds the wait. And run, with no broker to reach, says so in one clear line.
. "$(dirname "$0")/lib.sh"
start_broker --topic blood-pressure:2
start_es
export WARD_DIR=$t/ward KAFKA_GROUP=check-services
ward="$BPPIPE_SOURCE_DIR/pipelines/ward.ini"
"$BPPIPE" check "$ward" >"$t/ok.out" 2>&1
check "with Kafka and Elasticsearch up, check is exit 0" "[ $? = 0 ]" || tail -n 5 "$t/ok.out"
check "it says the brokers and the topic answered" \
    "grep -q 'Kafka answers: 1 broker(s) from brokers = $BROKERS' '$t/ok.out' && grep -q 'topic blood-pressure: 2 partition(s)' '$t/ok.out'"
check "it says which Elasticsearch answered" "grep -q 'connected to Elasticsearch' '$t/ok.out'"
start=$(date +%s)
KAFKA_BROKERS=127.0.0.1:1 "$BPPIPE" check "$ward" --timeout 2 >"$t/nokafka.out" 2>&1
st=$?
took=$(( $(date +%s) - start ))
check "unreachable brokers: exit 2" "[ $st = 2 ]"
check "one line names the brokers and what to check" \
    "grep -q 'no Kafka broker of brokers = 127.0.0.1:1 answered within 2000 ms' '$t/nokafka.out' && grep -q 'service(s) not usable; --offline checks the file alone' '$t/nokafka.out'"
check "--timeout bounds the wait ($took s)" "[ $took -lt 30 ]"
ES_URL=http://127.0.0.1:1 "$BPPIPE" check "$ward" --timeout 2 >"$t/noes.out" 2>&1
check "unreachable Elasticsearch: exit 2, naming the fix" \
    "[ $? = 2 ] && grep -q 'sink.anomalies.*no cluster node answers.*check url' '$t/noes.out'"
/usr/bin/python3 "$BPPIPE_SOURCE_DIR/tests/es/es_emulator.py" --port-file "$t/auth.port" \
    --api-key right >/dev/null 2>&1 &
track $!
for _ in $(seq 100); do [ -s "$t/auth.port" ] && break; sleep 0.05; done
ES_URL=http://127.0.0.1:$(cat "$t/auth.port") ES_API_KEY=wrong "$BPPIPE" check "$ward" \
    >"$t/auth.out" 2>&1
check "refused credentials: exit 2, saying so" \
    "[ $? = 2 ] && grep -q 'refused the credentials' '$t/auth.out'"
KAFKA_BROKERS=127.0.0.1:1 ES_URL=http://127.0.0.1:1 "$BPPIPE" check "$ward" --offline >"$t/off.out" 2>&1
check "--offline checks the file alone: exit 0 with both down" "[ $? = 0 ] && grep -q 'is valid' '$t/off.out'"
# run, with no broker to reach: one clear line, no librdkafka connection noise, and it waits.
KAFKA_BROKERS=127.0.0.1:1 timeout 30 "$BPPIPE" run "$ward" --duration 6 \
    -o pipeline.stats_interval=0 >"$t/run.out" 2>"$t/run.err"
st=$?
check "run with no broker waits for it and ends at --duration (exit $st)" "[ $st = 0 ]"
check "it says so in one line naming the brokers and what to check" \
    "[ \$(grep -c 'cannot reach any Kafka broker of brokers = 127.0.0.1:1: check the addresses' '$t/run.err') = 1 ]"
check "librdkafka's own connection lines stay at debug level" \
    "! grep -qE 'librdkafka FAIL|_TRANSPORT|_ALL_BROKERS_DOWN' '$t/run.err'"
"$BPPIPE" check --help >"$t/help" 2>&1
check "check --help shows --offline and --timeout" "grep -q -- '--offline' '$t/help' && grep -q -- '--timeout SECONDS' '$t/help'"
exit $fail
