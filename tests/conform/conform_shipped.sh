#!/usr/bin/env bash
# bppipe conform passes for every plugin shipped in plugins/, each with the options it needs:
# sink-es against the Elasticsearch emulator, sink-kafka and source-kafka against bppipe broker
# (source-kafka reads what sink-kafka's checks wrote), sink-alert against the webhook receiver,
# source-mllp fed by tests/mllp/mllp_tool.py (reconnecting to each listener conform opens).
# Every check must pass: no FAIL and no skip. A plugin added to plugins/ without a line here
# fails the test, so none goes unchecked.
. "$BPPIPE_SOURCE_DIR/tests/kafka/lib.sh"

start_es
start_broker
/usr/bin/python3 "$BPPIPE_SOURCE_DIR/tests/alert/receiver.py" "$t/rx.port" "$t/received" 0 800 &
track $!
for _ in $(seq 100); do [ -s "$t/rx.port" ] && break; sleep 0.05; done
WEBHOOK=http://127.0.0.1:$(cat "$t/rx.port")/alerts
/usr/bin/python3 "$BPPIPE_SOURCE_DIR/tests/mllp/mllp_tool.py" feed "$t/mllp.port" 900 &
track $!

obs() { # obs ID PATIENT MINUTE SYS DIA
    printf '{"resourceType":"Observation","id":"%s","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2026-03-01T10:%02d:00Z","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":%s,"code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":%s,"code":"mm[Hg]"}}]}\n' "$1" "$2" "$3" "$4" "$5"
}
for i in $(seq 1 20); do obs "in-$i" "P$((i % 3))" "$i" $((110 + i * 4)) $((70 + i)); done >"$t/in.ndjson"
mkdir "$t/folder" && cp "$t/in.ndjson" "$t/folder/a.ndjson"
exec 3>"$t/capture.ndjson"
KAFKA_GROUP_OPTS="-o kafka.session.timeout.ms=6000 -o kafka.max.poll.interval.ms=6000 -o kafka.heartbeat.interval.ms=500"

# configs PLUGIN: one line of conform arguments per configuration to check.
configs() {
    case "$1" in
    detector-rules) echo ""; echo "-o scheme=esc_2024" ;;
    detector-trend) echo ""; echo "-o state_file=trend-state.json" ;;
    detector-logreg) echo "-o model=$BPPIPE_SOURCE_DIR/models/bp_logreg.json -o required=true" ;;
    detector-xgboost) echo "-o model=$BPPIPE_SOURCE_DIR/models/bp_gbtree.json -o required=true"
                      echo "-o model=$BPPIPE_SOURCE_DIR/models/bp_gbtree.json -o state_file=xgb-state.json" ;;
    source-faker) echo ""; echo "-o count=20 -o rate=1000" ;;
    source-file) echo "-o path=$t/in.ndjson"; echo "-o path=$t/folder" ;;
    source-mllp) echo "-o listen=127.0.0.1:0 -o port_file=$t/mllp.port" ;;
    source-kafka) echo "-o brokers=$BROKERS -o topics=conform-bp -o group=conform $KAFKA_GROUP_OPTS" ;;
    sink-file) echo "-o path=out"; echo "-o path=out -o layout=per-record" ;;
    sink-capture) echo "-o fd=3" ;;
    sink-es) echo "-o url=$ES_URL"
             echo "-o url=$ES_URL -o compress=true -o install_template=true -o template=$BPPIPE_SOURCE_DIR/deploy/elasticsearch/bp-anomalies-template.json" ;;
    sink-kafka) echo "-o brokers=$BROKERS -o topic=conform-bp" ;;
    sink-alert) echo "-o webhook=$WEBHOOK -o path=alerts.ndjson" ;;
    *) return 1 ;;
    esac
}

# sink-kafka before source-kafka: the source's commit_order check reads what the sink wrote.
shipped=$(for d in "$BPPIPE_SOURCE_DIR"/plugins/*/; do basename "$d"; done | sort)
plugins="$(grep -vx source-kafka <<<"$shipped") $(grep -x source-kafka <<<"$shipped")"
check "plugins/ holds the plugins" "[ \$(wc -l <<<\"\$shipped\") -ge 11 ]"
for p in $plugins; do
    if ! list=$(configs "$p"); then
        bad "$p: no conform arguments for it in tests/conform/conform_shipped.sh"
        continue
    fi
    while IFS= read -r args; do
        # shellcheck disable=SC2086
        "$BPPIPE" conform "$p" $args >"$t/out" 2>"$t/err"
        rc=$?
        sed 's/^/    /' "$t/out"
        if [ "$rc" = 0 ] && tail -1 "$t/out" | grep -Eq '^[0-9]+ passed, 0 failed$' &&
            ! grep -Eq '^(FAIL|skip) ' "$t/out"; then
            ok "conform $p $args"
        else
            bad "conform $p $args (exit $rc)"
            tail -20 "$t/err"
        fi
    done <<<"$list"
done
exec 3>&-

check "sink-alert's checks posted critical readings to the webhook" "[ -s '$t/received' ]"
check "sink-es's checks indexed documents" "[ \"\$(es_count)\" -gt 0 ]"
check "sink-capture's checks wrote documents to its descriptor" "[ -s '$t/capture.ndjson' ]"
exit $fail
