#!/usr/bin/env bash
# log_format = json: every line bppipe writes to stderr is one JSON object with time, level,
# component and message. The status line carries its figures as fields, the summary is the
# --summary-json object, plugins' and delivery lanes' lines are objects too, and so are
# configuration errors when BPPIPE_LOG_FORMAT=json is set before the file is read. Text stays
# the default.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }

cat >"$t/ward.ini" <<INI
[pipeline]
stats_interval = 1
log_format = json
[source.ward]
plugin = source-faker
rate = 20
[detector.rules]
plugin = detector-rules
[sink.normal]
plugin = sink-file
route = normal
path = $t/normal
[detector.ml]
plugin = detector-logreg
model = $t/no-model.json
[sink.anomalies]
plugin = sink-file
route = anomaly
path = $t/anomalies
INI
"$BPPIPE" run "$t/ward.ini" --duration 2.5 --summary-json "$t/sum.json" 2>"$t/err"
st=$?
# validate.py ERRFILE: exit 0 when every line is an object with the four keys, a known level
# and an ISO-8601 UTC time; prints what it saw.
cat >"$t/validate.py" <<'PY'
import json, re, sys
levels = {"error", "warn", "info", "debug"}
seen = {"lines": 0, "status": 0, "summary": None, "components": set(), "levels": set()}
ok = True
for n, line in enumerate(open(sys.argv[1]), 1):
    seen["lines"] += 1
    try:
        o = json.loads(line)
    except ValueError:
        print(f"line {n} is not JSON: {line[:120]!r}")
        ok = False
        continue
    if not all(k in o for k in ("time", "level", "component", "message")) or \
            o["level"] not in levels or \
            not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["time"]):
        print(f"line {n} lacks a field or has a bad one: {line[:160]!r}")
        ok = False
        continue
    seen["components"].add(o["component"])
    seen["levels"].add(o["level"])
    if o["message"] == "status":
        seen["status"] += 1
        ok = ok and isinstance(o.get("readings_in"), int) and isinstance(o.get("rate"), (int, float))
    if o["message"] == "summary":
        seen["summary"] = o.get("summary")
json.dump({**seen, "components": sorted(seen["components"]), "levels": sorted(seen["levels"])},
          open(sys.argv[2], "w"))
sys.exit(0 if ok and seen["lines"] else 1)
PY
/usr/bin/python3 "$t/validate.py" "$t/err" "$t/seen.json"
check "the run exits 0, every stderr line a JSON log object" "[ $st = 0 ] && [ $? = 0 ]"
j() { /usr/bin/python3 -c "import json,sys; d=json.load(open('$t/seen.json')); s=json.load(open('$t/sum.json')); print(eval(sys.argv[1]))" "$1"; }
check "status lines are objects with their figures" "[ \$(j \"d['status']\") -ge 1 ]"
check "the summary is one object, equal to --summary-json" "[ \$(j \"d['summary'] == s\") = True ]"
check "plugins' lines are objects: the source's, and the model-less detector's warning" \
    "[ \$(j \"'source.ward' in d['components'] and 'detector.ml' in d['components'] and 'warn' in d['levels']\") = True ]"

# Before the file is read: BPPIPE_LOG_FORMAT.
printf '[pipeline]\nbatch_sise = 5\n[source.x]\nplugin = source-faker\n' >"$t/bad.ini"
BPPIPE_LOG_FORMAT=json "$BPPIPE" check "$t/bad.ini" 2>"$t/bad.err"
st=$?
/usr/bin/python3 "$t/validate.py" "$t/bad.err" "$t/seen.json"
check "configuration errors are JSON with BPPIPE_LOG_FORMAT=json (exit 2)" \
    "[ $st = 2 ] && [ $? = 0 ] && grep -q '\"component\":\"config\".*batch_sise' '$t/bad.err'"
sed -i 's/^log_format = json/log_format = json\nstats_interval = 0/; s/^stats_interval = 1$//' "$t/ward.ini"
"$BPPIPE" check "$t/ward.ini" 2>"$t/check.err"
/usr/bin/python3 "$t/validate.py" "$t/check.err" "$t/seen.json"
check "check says valid in a JSON line" \
    "[ $? = 0 ] && grep -q '\"level\":\"info\",\"component\":\"config\",\"message\":\".*is valid' '$t/check.err'"

# Text by default.
sed -i '/^log_format/d' "$t/ward.ini"
"$BPPIPE" run "$t/ward.ini" --duration 1 2>"$t/text.err"
check "text stays the default: no line is JSON" \
    "[ -s '$t/text.err' ] && ! grep -q '^{' '$t/text.err' && grep -q '^bppipe: summary of' '$t/text.err'"
exit $fail
