#!/usr/bin/env bash
# [pipeline] decode_threads: a batch decoded by several threads gives exactly what the main
# thread alone gives. Several thousand NDJSON payloads of every kind (readings, Bundles of
# several readings, single-value Observations to pair, skipped resources, broken JSON,
# implausible values), judged by detector-rules and detector-trend (a per-patient history:
# readings out of order change its verdicts), routed to test-sink files. The documents of every
# route, their order, and the books must equal the decode_threads = 1 run, for 2 and 4 threads
# and batches that do not divide into the pool's blocks; with the next batch decoded while the
# one before it is handed off ([pipeline] decode_ahead = true) and without (the default;
# decode_threads = 1 never overlaps).
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
check() { if eval "$2"; then ok "$1"; else bad "$1 ($2)"; fi; }

python3 - "$t/in.ndjson" <<'PY'
import json, random, sys
random.seed(12)
def comp(code, v):
    return {"code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "valueQuantity": {"value": v, "unit": "mmHg", "system": "http://unitsofmeasure.org",
                              "code": "mm[Hg]"}}
def obs(i, pat, t, sys_=None, dia=None):
    o = {"resourceType": "Observation", "id": f"o{i}", "status": "final",
         "subject": {"reference": f"Patient/P{pat}"}, "effectiveDateTime": t}
    if sys_ is not None and dia is not None:
        o["code"] = {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]}
        o["component"] = [comp("8480-6", sys_), comp("8462-4", dia)]
    else:  # one value of a split panel
        code = "8480-6" if sys_ is not None else "8462-4"
        o["code"] = {"coding": [{"system": "http://loinc.org", "code": code}]}
        o["valueQuantity"] = comp(code, sys_ if sys_ is not None else dia)["valueQuantity"]
    return o
lines = []
for i in range(6000):
    pat = random.randrange(40)
    t = f"2026-01-02T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z"
    k = random.random()
    if k < 0.70:
        s = random.choice([random.gauss(125, 12), random.gauss(165, 15), random.gauss(95, 8)])
        lines.append(json.dumps(obs(i, pat, t, round(s, 1), round(s * 0.62, 1))))
    elif k < 0.78:  # a Bundle of several readings, one of them pairs
        entries = [{"fullUrl": f"urn:uuid:b{i}-{j}",
                    "resource": obs(f"{i}-{j}", pat, t, 120 + j * 9, 80 + j * 3)}
                   for j in range(random.randrange(1, 6))]
        entries.append({"resource": obs(f"{i}-s", pat, t, sys_=150)})
        entries.append({"resource": obs(f"{i}-d", pat, t, dia=96)})
        lines.append(json.dumps({"resourceType": "Bundle", "type": "collection",
                                 "entry": entries}))
    elif k < 0.84:
        lines.append(json.dumps({"resourceType": "Patient", "id": f"P{pat}"}))
    elif k < 0.90:
        lines.append('{"resourceType":"Observation", "broken')
    elif k < 0.95:
        lines.append(json.dumps(obs(i, pat, t, 400, 30)))  # implausible
    else:
        lines.append(json.dumps([obs(f"{i}-a", pat, t, 171, 101),
                                 {"resourceType": "Condition", "id": f"c{i}"}]))
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY

# run NAME THREADS BATCH [DECODE_AHEAD]: with DECODE_AHEAD, at log_level = debug (whose stage
# lines say which batches were polled ahead)
run() {
    mkdir -p "$t/$1"
    cat >"$t/$1.ini" <<INI
[pipeline]
plugin_path = $RUNNER_PLUGIN_DIR
batch_size = $3
decode_threads = $2
stats_interval = 0
${4:+decode_ahead = $4}
${4:+log_level = debug}
[source.in]
plugin = source-file
path = $t/in.ndjson
[detector.rules]
plugin = detector-rules
[detector.trend]
plugin = detector-trend
[sink.anom]
plugin = test-sink
route = anomaly
path = $t/$1/anomaly
[sink.norm]
plugin = test-sink
route = normal
path = $t/$1/normal
[sink.crit]
plugin = test-sink
route = critical
path = $t/$1/critical
[sink.dead]
plugin = test-sink
route = invalid
path = $t/$1/invalid
[sink.skip]
plugin = test-sink
route = skipped
path = $t/$1/skipped
INI
    "$BPPIPE" run "$t/$1.ini" --summary-json "$t/$1/summary.json" >"$t/$1/out" 2>"$t/$1/err"
    check "$1: run exits 0" "[ $? = 0 ]"
    check "$1: decoded with $2 thread(s)" "! grep -q 'could not start' $t/$1/err"
    # What has no time of its own is stamped with the time it was written: not compared.
    sed -i 's/"@timestamp":"[^"]*",//' "$t/$1/invalid" "$t/$1/skipped"
    # The books, without the timings and the pipeline's file name.
    python3 - "$t/$1/summary.json" >"$t/$1/books" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items()
                if k != "pipeline" and not any(w in k for w in ("second", "_s", "rate", "busy",
                                                                "time", "started", "ended",
                                                                "duration"))}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v
print(json.dumps(strip(s), indent=1, sort_keys=True))
PY
}

run one 1 500
lines() { wc -l <"$1" | tr -d ' '; }
for r in anomaly normal critical invalid skipped; do
    check "one thread: route $r has documents" "[ -s $t/one/$r ] && [ \$(lines $t/one/$r) -gt 20 ]"
done
check "one thread: the books balance" \
    "grep -Eq 'readings in +[0-9]+ = anomaly [0-9]+ \+ normal [0-9]+ \+ invalid [0-9]+ \+ in flight 0' $t/one/err"
check "one thread: readings paired from Bundles" "grep -q '+urn:uuid\|\"o[0-9]*-s' $t/one/anomaly $t/one/normal"

for cfg in "two 2 500" "four 4 500" "odd 4 137" "tiny 3 5" "ahead 2 50 true" "sync 2 50 false"; do
    set -- $cfg
    run "$1" "$2" "$3" "${4:-}"
    base=one
    [ "$3" != 500 ] && { [ -d "$t/one-$3" ] || run "one-$3" 1 "$3"; base=one-$3; }
    for r in anomaly normal critical invalid skipped; do
        check "$1 ($2 threads, batches of $3): route $r as with one thread" \
            "cmp -s $t/$base/$r $t/$1/$r"
    done
    check "$1: the books as with one thread" "cmp -s $t/$base/books $t/$1/books"
    check "$1: the summary line as with one thread" \
        "[ \"\$(grep 'readings in' $t/$base/err)\" = \"\$(grep 'readings in' $t/$1/err)\" ]"
done
check "decode_ahead = true: batches were polled ahead" "grep -q 'polled ahead' $t/ahead/err"
check "decode_ahead = false: no batch was" "! grep -q 'polled ahead' $t/sync/err"
# The default (the online processors, at most 4) is the pool as well.
sed '/^decode_threads/d' "$t/four.ini" | sed "s|$t/four/|$t/default/|" >"$t/default.ini"
mkdir -p "$t/default"
"$BPPIPE" run "$t/default.ini" >/dev/null 2>"$t/default/err"
sed -i 's/"@timestamp":"[^"]*",//' "$t/default/invalid" "$t/default/skipped"
for r in anomaly normal invalid; do
    check "default decode_threads: route $r as with one thread" "cmp -s $t/one/$r $t/default/$r"
done
# Out of bounds is refused before anything runs.
"$BPPIPE" check "$t/one.ini" -o pipeline.decode_threads=0 >/dev/null 2>"$t/check.err"
check "decode_threads = 0 is refused" "[ $? = 2 ] && grep -q decode_threads $t/check.err"
exit $fail
