#!/usr/bin/env bash
# Real patient Bundles are several MB (Synthea writes 1 to 5 MB per patient): read from files
# with default settings they are decoded, every reading of them, because source-file is a
# source of whole files (BP_CAP_WHOLE_FILES) and the host's limit for it is 64 MiB. Kafka's
# 1 MiB stays the default for message sources (kafka_poison checks a 2 MiB message), and an
# explicit max_payload_bytes still applies to files.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
sum() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$t/sum.json" "$1"; }

# A Synthea-shaped transaction Bundle: a Patient, and per visit an Encounter, a Condition with
# narrative, a heart rate, a body weight and a blood-pressure panel (diastolic listed first, as
# Synthea does); 700 visits make about 3.5 MB, pretty-printed like Synthea's files.
python3 - "$t/patient.json" <<'PY'
import json, sys, uuid
pid = "urn:uuid:7e9c4a3e-5a55-4cbb-9d3e-0d5b2b5d1a11"
def coded(code, display):
    return {"coding": [{"system": "http://loinc.org", "code": code, "display": display}],
            "text": display}
def qty(v, unit, code):
    return {"value": v, "unit": unit, "system": "http://unitsofmeasure.org", "code": code}
entries = [{"fullUrl": pid, "resource": {"resourceType": "Patient", "id": pid[9:],
            "text": {"status": "generated", "div": "<div>" + "x" * 2000 + "</div>"}},
            "request": {"method": "POST", "url": "Patient"}}]
for v in range(700):
    # five seconds apart, so sink-file writes one or two hourly files, not 700
    when = "2020-03-01T%02d:%02d:%02d-04:00" % (8 + v * 5 // 3600, v * 5 // 60 % 60, v * 5 % 60)
    base = {"status": "final", "subject": {"reference": pid}, "effectiveDateTime": when,
            "issued": when.replace("-04:00", ".123-04:00")}
    def add(res):
        u = "urn:uuid:" + str(uuid.UUID(int=len(entries)))
        res["id"] = u[9:]
        entries.append({"fullUrl": u, "resource": res,
                        "request": {"method": "POST", "url": res["resourceType"]}})
    add({"resourceType": "Encounter", "status": "finished", "subject": {"reference": pid},
         "period": {"start": when, "end": when}})
    add({"resourceType": "Condition", "subject": {"reference": pid},
         "text": {"status": "generated", "div": "<div>" + "Essential hypertension " * 60 + "</div>"},
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "59621000"}]}})
    add(dict(base, resourceType="Observation", code=coded("8867-4", "Heart rate"),
             valueQuantity=qty(60 + v % 30, "/min", "/min")))
    add(dict(base, resourceType="Observation", code=coded("29463-7", "Body Weight"),
             valueQuantity=qty(80.5, "kg", "kg")))
    add(dict(base, resourceType="Observation", code=coded("85354-9", "Blood Pressure"),
             component=[{"code": coded("8462-4", "Diastolic Blood Pressure"),
                         "valueQuantity": qty(70 + v % 25, "mm[Hg]", "mm[Hg]")},
                        {"code": coded("8480-6", "Systolic Blood Pressure"),
                         "valueQuantity": qty(105 + v % 50, "mm[Hg]", "mm[Hg]")}]))
json.dump({"resourceType": "Bundle", "type": "transaction", "entry": entries},
          open(sys.argv[1], "w"), indent=2)
PY
size=$(stat -c %s "$t/patient.json")
check "the Bundle is a multi-MB file (over 3 MB, under 64 MiB)" \
    "[ $size -gt 3000000 ] && [ $size -lt 67108864 ]"

cat >"$t/p.ini" <<INI
[pipeline]
stats_interval = 0
[source.files]
plugin = source-file
path = $t/patient.json
[sink.readings]
plugin = sink-file
path = $t/readings
layout = ndjson
route = all
[sink.dead]
plugin = sink-file
path = $t/dead
layout = ndjson
route = invalid
INI

"$BPPIPE" run "$t/p.ini" --summary-json "$t/sum.json" 2>"$t/err"
check "default settings: the run exits 0" "[ $? = 0 ]"
check "one payload, 700 readings, none invalid" \
    "[ $(sum "d['payloads']") = 1 ] && [ $(sum "d['anomaly'] + d['normal']") = 700 ] && [ $(sum "d['invalid']") = 0 ]"
check "no dead letter file" "! ls '$t'/dead/*.ndjson >/dev/null 2>&1"
check "the last visit's values, diastolic listed first" \
    "grep '\"resource_index\":3500' '$t'/readings/*.ndjson | grep -q '\"systolic_pressure\":154,\"diastolic_pressure\":94'"
check "every reading once" \
    "[ \$(cat '$t'/readings/*.ndjson | grep -o '\"stable_id\":\"[^\"]*\"' | sort -u | wc -l) = 700 ]"

# NDJSON from a file is also whole-file input: one Bundle on a line of over 3 MB
python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))))' "$t/patient.json" \
    >"$t/bundles.ndjson"
"$BPPIPE" run "$t/p.ini" -o source.files.path="$t/bundles.ndjson" \
    -o sink.readings.path="$t/readings2" --summary-json "$t/sum.json" 2>"$t/err"
check "an NDJSON line holding the Bundle: 700 readings" \
    "[ $(sum "d['anomaly'] + d['normal']") = 700 ] && [ $(sum "d['invalid']") = 0 ]"

# an explicit limit still applies, with the reason
"$BPPIPE" run "$t/p.ini" -o pipeline.max_payload_bytes=1048576 -o sink.readings.path="$t/r3" \
    -o sink.dead.path="$t/dead3" --summary-json "$t/sum.json" 2>"$t/err"
check "max_payload_bytes = 1048576: the Bundle is one dead letter" \
    "[ $(sum "d['invalid']") = 1 ] && [ $(sum "d['anomaly'] + d['normal']") = 0 ]"
check "whose reason names the size and the setting" \
    "grep -q 'payload of $size bytes is over the limit of 1048576 (max_payload_bytes)' '$t'/dead3/*.ndjson"

"$BPPIPE" run --help >"$t/help" 2>&1
check "run --help gives both defaults" \
    "grep -A1 'max_payload_bytes' '$t/help' | grep -q '1048576 (1 MiB.*67108864 (64 MiB) from a source of whole files'"
exit $fail
