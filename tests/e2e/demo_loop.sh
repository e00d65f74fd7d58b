#!/usr/bin/env bash
# scripts/demo.sh, the real loop, without its install and build steps (BPPIPE_DEMO_SKIP_SETUP=1
# with this build): the page's address is printed and /healthz answers while it runs, the
# documents came through Kafka (their source names topic and partition), the books balance
# (produced = consumed = anomaly + normal + dead letters, and the files hold as many), and when
# it ends nothing it started is left running. Twice: ended by its time with anomalies to files,
# then by Ctrl-C (SIGINT) with ES_URL set (the Elasticsearch emulator).
set -u
. "$(dirname "$0")/../wait.sh"
fail=0
t=$(mktemp -d)
started=()
cleanup() {
    # the demo's own processes too, should a failing demo leave one (each has a path under $t
    # in its arguments)
    while read -r pid; do started+=("$pid"); done < <(pgrep -f "$t/")
    for pid in "${started[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${started[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    done
    rm -rf "$t"
}
trap cleanup EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
py=/usr/bin/python3
export BPPIPE_BUILD=$BPPIPE_BUILD_DIR BPPIPE_DEMO_SKIP_SETUP=1 BPPIPE_DEMO_RATE=20

# demo NAME SECONDS: starts scripts/demo.sh in the background with SIGINT at its default (a
# background job of a script ignores it, which a shell cannot undo), as a terminal runs it.
demo() {
    export BPPIPE_DEMO_DIR=$t/$1
    (cd "$BPPIPE_SOURCE_DIR" && exec "$py" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp("bash", ["bash"] + sys.argv[1:])' scripts/demo.sh "$2") >"$t/$1.out" 2>"$t/$1.err" &
    demo_pid=$!
    started+=("$demo_pid")
}
# wait_page NAME: waits for the printed address, then asks /healthz; sets url.
wait_page() {
    url=
    printed() {
        url=$(sed -n 's|^bppipe demo: the live page: \(http://127.0.0.1:[0-9]*/\) .*|\1|p' "$t/$1.out")
        [ -n "$url" ]
    }
    wait_until 120 printed "$1"
    check "$1: the page's address is printed" "[ -n '$url' ]"
    check "$1: it is the ward's listener (http_port_file)" \
        "[ '$url' = \"http://\$(cat $t/$1/http.addr)/\" ]"
    health=$(curl -s --max-time 5 "${url}healthz")
    check "$1: /healthz answers while the demo runs" "[ '$health' = ok ]"
}
# verify NAME: what the demo left behind.
verify() {
    local d=$t/$1
    cat "$t/$1.out"
    check "$1: the script exits 0" "[ $2 = 0 ]"
    check "$1: no error output" "[ ! -s $t/$1.err ]" || cat "$t/$1.err"
    check "$1: the books balance: produced = consumed = anomaly + normal + invalid" "$py - $d <<'PY'
import json, sys
p = json.load(open(sys.argv[1] + '/producer.json'))
w = json.load(open(sys.argv[1] + '/ward.json'))
produced = sum(s['delivered'] for s in p['sinks'].values())
ok = produced > 0 and produced == w['readings_in'] == w['anomaly'] + w['normal'] + w['invalid']
sys.exit(0 if ok and w['in_flight'] == 0 and w['invalid'] > 0 else 1)
PY"
    check "$1: the report says so" "grep -q '^  the books: produced \([0-9]*\) (to Kafka) = consumed \1 = ' $t/$1.out"
    check "$1: no message dropped by the broker" "! grep -q 'dropped its' $d/broker.log"
    # pids the script printed: none alive; nothing running with the demo's folder in its
    # arguments; the ward's port closed.
    for who in broker ward producer; do
        pid=$(sed -n "s/^bppipe demo: $who *pid \([0-9]*\).*/\1/p" "$t/$1.out")
        check "$1: the $who ($pid) is gone" "[ -n '$pid' ] && ! kill -0 '$pid' 2>/dev/null"
    done
    check "$1: no process has the demo's folder in its command line" "! pgrep -f '$d/' >/dev/null"
    check "$1: the page's port is closed" "! curl -s --max-time 2 '${url}healthz' >/dev/null"
    local boot
    boot=$(sed -n 's/^bppipe demo: broker .*bootstrap 127.0.0.1:\([0-9]*\).*/\1/p' "$t/$1.out")
    check "$1: the broker's port ($boot) is closed" \
        "[ -n '$boot' ] && ! (exec 3<>/dev/tcp/127.0.0.1/$boot) 2>/dev/null"
}
# kafka_docs FILE...: fails unless every document names topic blood-pressure and a partition,
# and the documents together came from at least two partitions.
kafka_docs() {
    "$py" - "$@" <<'PY'
import json, sys
parts, bad, n = set(), 0, 0
for path in sys.argv[1:]:
    with open(path) as f:
        docs = [json.loads(l) for l in f if l.strip()] if path.endswith('.ndjson') else [json.load(f)]
    for d in docs:
        n += 1
        s = d.get('source') or {}
        if s.get('topic') != 'blood-pressure' or not isinstance(s.get('partition'), int):
            bad += 1
        else:
            parts.add(s['partition'])
print('%d documents, %d without topic and partition, partitions %s' % (n, bad, sorted(parts)))
sys.exit(0 if n and not bad and len(parts) >= 2 else 1)
PY
}

# 1. Ended by its time; anomalies to files.
unset ES_URL
demo files 6
wait_page files
wait "$demo_pid"
verify files $?
d=$t/files
check "files: anomalies, normal readings and dead letters came through Kafka" \
    "kafka_docs $d/anomalies/*.ndjson && kafka_docs $d/normal_cases/*.json && kafka_docs $d/dead-letter/*.ndjson"
check "files: the files hold what the ward delivered" "$py - $d <<'PY'
import glob, json, sys
d = sys.argv[1]
w = json.load(open(d + '/ward.json'))
lines = lambda p: sum(1 for f in glob.glob(d + p) for l in open(f) if l.strip())
ok = (lines('/anomalies/*.ndjson') == w['anomaly'] > 0 and
      len(glob.glob(d + '/normal_cases/*.json')) == w['normal'] > 0 and
      lines('/dead-letter/*.ndjson') == w['invalid'])
sys.exit(0 if ok else 1)
PY"

# 2. Ended by Ctrl-C after a few seconds of a 60 s run; anomalies to Elasticsearch.
rm -f "$t/es.port"
"$py" "$BPPIPE_SOURCE_DIR/tests/es/es_emulator.py" --port-file "$t/es.port" >/dev/null 2>"$t/es.err" &
started+=("$!")
for _ in $(seq 1 100); do [ -s "$t/es.port" ] && break; sleep 0.05; done
ES_URL=http://127.0.0.1:$(cat "$t/es.port")
export ES_URL
demo es 60
wait_page es
# a few seconds of the ward: until its first alarm event is written (it was a fixed 4 s)
wait_until 120 test -s "$t/es/alarms.ndjson"
kill -INT "$demo_pid"
t0=$(date +%s)
wait "$demo_pid"
rc=$?
verify es $rc
check "es: Ctrl-C stopped it well before its 60 s" "[ \$((\$(date +%s) - t0)) -lt 40 ]"
check "es: alarm events were written, as many as the report says" \
    "n=\$(sed -n 's/^  alarm events *\([0-9]*\) .*/\1/p' $t/es.out) && [ -n \"\$n\" ] && [ \$(wc -l <$t/es/alarms.ndjson) = \$n ]"
check "es: the report says where the anomalies went" "grep -q '^  anomalies .* Elasticsearch at $ES_URL' $t/es.out"
curl -s -XPOST -H 'Content-Type: application/json' "$ES_URL/bp-anomalies*/_search?size=100000" \
    -d '{}' | "$py" -c 'import json, sys
for h in json.load(sys.stdin)["hits"]["hits"]:
    print(json.dumps(h["_source"]))' >"$t/es-docs.ndjson"
check "es: the indexed anomalies are what the ward delivered, and came through Kafka" \
    "[ \$(wc -l <$t/es-docs.ndjson) = \$($py -c \"import json; print(json.load(open('$t/es/ward.json'))['anomaly'])\") ] && kafka_docs $t/es-docs.ndjson"
exit $fail
