#!/usr/bin/env bash
# A flagged reading is never labelled "normal". A third-party-style detector that only flags
# (test-annotator), before or after detector-rules, gives a reading rules found normal a type
# that is not "normal"; in a simulated ward with detector-trend no flagged document is
# "normal", and readings only trend flags carry trend's own types.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
check() { if eval "$2"; then ok "$1"; else bad "$1 ($2)"; fi; }

obs() { # obs ID SYS DIA
    printf '{"resourceType":"Observation","id":"%s","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/P-1"},"effectiveDateTime":"2026-01-02T03:04:05Z","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":%s,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":%s,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}\n' "$1" "$2" "$3"
}
{ obs ext 135 80; obs both 170 95; obs none 118 76; } >"$t/in.ndjson"

detectors() { # detectors ORDER...
    for d in "$@"; do
        case $d in
        rules) printf '[detector.rules]\nplugin = detector-rules\n' ;;
        ext) printf '[detector.ext]\nplugin = test-annotator\nlimit = 130\n' ;;
        esac
    done
}
for order in "rules ext" "ext rules"; do
    {
        printf '[pipeline]\nplugin_path = %s\nstats_interval = 0\n' "$RUNNER_PLUGIN_DIR"
        printf '[source.in]\nplugin = source-file\npath = %s\n' "$t/in.ndjson"
        detectors $order
        printf '[sink.all]\nplugin = test-sink\npath = %s\n' "$t/all"
    } >"$t/p.ini"
    rm -f "$t/all"
    "$BPPIPE" run "$t/p.ini" 2>"$t/err"
    check "$order: runs" "[ $? = 0 ]"
    check "$order: flagged only by the third-party detector: not normal, 'other'" \
        "grep '\"observation_id\":\"ext\"' '$t/all' | grep -q '\"anomaly\":true,\"anomaly_type\":\"other\"'"
    check "$order: flagged by both: the clinical type" \
        "grep '\"observation_id\":\"both\"' '$t/all' | grep -q '\"anomaly_type\":\"hypertension\"'"
    check "$order: flagged by nobody: normal" \
        "grep '\"observation_id\":\"none\"' '$t/all' | grep -q '\"anomaly\":false,\"anomaly_type\":\"normal\"'"
done

# A simulated ward with detector-trend after the rules.
cat >"$t/ward.ini" <<INI
[pipeline]
batch_size = 500
stats_interval = 0
[source.ward]
plugin = source-faker
patients = 50
rate = 0
count = 20000
seed = 7
start_time = 2026-01-01T00:00:00Z
[detector.rules]
plugin = detector-rules
[detector.trend]
plugin = detector-trend
[sink.all]
plugin = sink-file
route = all
path = $t/ward
INI
"$BPPIPE" run "$t/ward.ini" 2>"$t/err"
check "ward: runs" "[ $? = 0 ]"
python3 - "$t/ward" >"$t/types" <<'PY'
import collections, glob, json, sys
flagged, normal_flagged, trend_only = 0, 0, collections.Counter()
for path in glob.glob(sys.argv[1] + "/*.ndjson"):
    for line in open(path):
        d = json.loads(line)
        if "invalid_reason" in d or not d["anomaly"]:
            continue
        flagged += 1
        normal_flagged += d["anomaly_type"] == "normal"
        if not any(r.startswith(("hypertension_", "hypotension_")) for r in d["anomaly_details"]):
            trend_only[d["anomaly_type"]] += 1
print(flagged, normal_flagged, sum(trend_only.values()), " ".join(sorted(trend_only)))
PY
read -r flagged normal_flagged trend_only types <"$t/types"
echo "     ward: $flagged flagged, $normal_flagged of them 'normal', $trend_only flagged by trend alone ($types)"
check "ward: readings were flagged, some by trend alone" "[ $flagged -gt 100 ] && [ $trend_only -gt 0 ]"
check "ward: no flagged document is 'normal'" "[ $normal_flagged = 0 ]"
check "ward: trend's own types label what only trend flagged" "! echo '$types' | grep -qw other"
exit $fail
