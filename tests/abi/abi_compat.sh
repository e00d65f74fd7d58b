#!/usr/bin/env bash
# Binary compatibility (issue 13): a source, a detector and a sink built against frozen copies
# of the ABI 1.0 to 1.7 headers (tests/abi/plugin_abi_1_*.h) run a pipeline in today's
# host beside shipped plugins. For each ABI: the plugins load, the books balance, the detector
# sees only the readings that passed decoding and plausibility (no dead letter, no skipped
# resource), its flag, types and annotations reach the sink's documents, per-record rejections
# are dead-lettered, every batch is committed in order, and the plugins' counters are in
# --summary-json. The old detector answers BP_RETRY once: the host calls it again, its marks
# kept. The same sources built against today's header (1.8, as C99 with -Wpedantic, with a send_input) run too;
# that source hands the line that is not JSON to add_rejected, and its dead letter carries the
# source's reason, not the decoder's, and is committed with it.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() {
    if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; [ -n "${3:-}" ] && cat "$3"; fi
    return 0
}

# detector-rules judges first, then the old detector, whose type and category win (set last).
# A crisis (190/125), a normal reading, a hypotension (85/55), a normal reading of a patient
# the sink refuses, a line that is not JSON, an implausible systolic (400), a heart rate
# (valid FHIR, not blood pressure: skipped).
python3 - "$t/in.ndjson" <<'PY'
import json, sys
def bp(i, patient, s, d):
    return {"resourceType": "Observation", "id": "abi-%d" % i, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
            "subject": {"reference": "Patient/%s" % patient},
            "effectiveDateTime": "2026-03-01T08:%02d:00Z" % i,
            "component": [
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                 "valueQuantity": {"value": s, "unit": "mmHg"}},
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                 "valueQuantity": {"value": d, "unit": "mmHg"}}]}
hr = {"resourceType": "Observation", "id": "abi-hr", "status": "final",
      "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
      "subject": {"reference": "Patient/fine"}, "effectiveDateTime": "2026-03-01T08:30:00Z",
      "valueQuantity": {"value": 72, "unit": "/min"}}
with open(sys.argv[1], "w") as f:
    for o in (bp(1, "crisis", 190, 125), bp(2, "fine", 118, 76), bp(3, "low", 85, 55),
              bp(4, "refused", 120, 80)):
        f.write(json.dumps(o) + "\n")
    f.write("not json\n")
    f.write(json.dumps(bp(6, "odd", 400, 80)) + "\n")
    f.write(json.dumps(hr) + "\n")
PY

for v in 10 11 12 13 14 15 16 17 18; do
    d="$t/$v"
    mkdir -p "$d"
    cat >"$d/p.ini" <<INI
[pipeline]
plugin_path = $ABI_PLUGIN_DIR
batch_size = 2
stats_interval = 0
retry_initial_ms = 1
retry_max_ms = 5
[source.in]
plugin = abi$v-source
path = $t/in.ndjson
[detector.rules]
plugin = detector-rules
[detector.old]
plugin = abi$v-detector
retry_first = 1
[sink.anomalies]
plugin = abi$v-sink
route = anomaly
path = $d/anomalies.ndjson
[sink.normal]
plugin = abi$v-sink
route = normal
path = $d/normal.ndjson
reject_patient = refused
[sink.dead]
plugin = sink-file
route = invalid
path = $d/dead
layout = ndjson
[sink.skipped]
plugin = sink-file
route = skipped
path = $d/skipped
layout = ndjson
INI
    "$BPPIPE" run "$d/p.ini" --summary-json "$d/sum.json" >"$d/out" 2>"$d/err"
    check "ABI 1.${v#1}: runs in today's host" "[ $? = 0 ]" "$d/err"
    BPPIPE_PLUGIN_PATH="$ABI_PLUGIN_DIR" "$BPPIPE" plugins >"$d/plugins" 2>&1
    python3 - "$d" "1.${v#1}" >"$d/checks" 2>&1 <<'PY'
import glob, json, sys
d, abi = sys.argv[1], sys.argv[2]
def lines(pattern):
    out = []
    for p in sorted(glob.glob(pattern)):
        out += [json.loads(l) for l in open(p) if l.strip()]
    return out
s = json.load(open(d + "/sum.json"))
an, no = lines(d + "/anomalies.ndjson"), lines(d + "/normal.ndjson")
dead, skipped = lines(d + "/dead/*"), lines(d + "/skipped/*")
c = s["counters"]
checks = [
    ("books: 6 readings = 2 anomaly + 2 normal + 2 invalid, 1 skipped beside",
     (s["readings_in"], s["anomaly"], s["normal"], s["invalid"], s["in_flight"], s["skipped"])
     == (6, 2, 2, 2, 0, 1)),
    ("the detector saw the 4 readings that passed decoding and plausibility, no dead letter",
     c["detector.old"].get("seen") == 4 and "dead_letters_seen" not in c["detector.old"]),
    ("it was called for the 2 batches with readings (once more for its BP_RETRY), not for the 2"
     " of dead letters and the skipped resource only", c["detector.old"].get("calls") == 3),
    ("a BP_RETRY is called again with the same batch, with what the first call set kept",
     [x["patient_id"] for x in an + no if x.get("abi_tried") is True] == ["crisis", "fine"]
     and not any("abi_tried" in x for x in an + no if x["patient_id"] not in ("crisis", "fine"))),
    ("its flag, type and category (set after detector-rules') reach the sink",
     [(x["anomaly_type"], x["severity"], x["bp_category"], x["anomaly_details"][-1])
      for x in an if x["patient_id"] == "crisis"]
     == [("abi_crisis", "critical", "abi_high", "abi_systolic_high")]),
    ("beside detector-rules' verdict on the hypotension",
     sorted(x["patient_id"] for x in an) == ["crisis", "low"]),
    ("its annotations are in every judged document",
     all(x.get("abi_built_for") == abi.replace(".", "") and "abi_systolic" in x for x in an + no)
     and [x["abi_systolic"] for x in an if x["patient_id"] == "crisis"] == [190]),
    ("the sink wrote the normal reading it did not refuse",
     [x["patient_id"] for x in no] == ["fine"]),
    ("its per-record refusal is dead-lettered with its reason, beside the two invalid",
     sorted(x.get("patient_id", "-") for x in dead) == ["-", "odd", "refused"]
     and any("abi sink refuses" in x.get("invalid_reason", "") for x in dead)
     and s["sink_rejected"] == 1),
    ("dead letters (the refused reading too) and the skipped heart rate carry no annotation",
     not any("abi_built_for" in x for x in dead)
     and [x.get("resource_code") for x in skipped] == ["8867-4"]
     and not any("abi_built_for" in x for x in skipped)),
    ("the line that is not JSON is a dead letter with its reason: the decoder's, or from 1.6"
     " the source's own (add_rejected), never decoded, and commit() reads that reason",
     [(x.get("invalid_reason"), x.get("payload")) for x in dead if "patient_id" not in x]
     == [("abi source: the line is not a JSON object" if abi >= "1.6" else "not JSON at byte 0",
          "not json")]
     and c["source.in"].get("rejected_committed") == (1 if abi >= "1.6" else None)),
    ("every batch committed, in order (7 lines, batches of 2)",
     c["source.in"].get("commits") == 4 and c["source.in"].get("committed_lines") == 7
     and "commits_out_of_order" not in c["source.in"]),
    ("the sinks' counters are in --summary-json, an instance that counted nothing is not",
     c["sink.anomalies"] == {"written": 2} and c["sink.normal"] == {"written": 1}
     and "sink.dead" not in c and "detector.rules" not in c),
]
bad = 0
for name, ok in checks:
    print(("ok   " if ok else "FAIL ") + "ABI %s: %s" % (abi, name))
    bad += not ok
if bad:
    print(json.dumps(s, indent=1)); print(an, no, dead, skipped, sep="\n")
sys.exit(1 if bad else 0)
PY
    check "ABI 1.${v#1}: the pipeline's output" "[ $? = 0 ]"
    cat "$d/checks"
    check "ABI 1.${v#1}: bppipe plugins lists them" \
        "grep -q '^abi$v-detector .* ABI 1.${v#1} ' '$d/plugins' && grep -q '^abi$v-sink .* ABI 1.${v#1} ' '$d/plugins' && grep -q '^abi$v-source .* ABI 1.${v#1} ' '$d/plugins'" "$d/plugins"
done

# Revisions (ABI 1.8, docs/revisions.md): a correction and a retraction. The 1.7 sink and
# detector still work and never receive the retraction (the correction is one more record);
# the sink built against today's header declares BP_CAP_REVISIONS and gets it. Needs the FHIR
# decoder of issue 26 to fill the logical ids (branch s3-decode): without it, this part checks
# only that both still run.
python3 - "$t/rev.ndjson" <<'PY'
import json, sys
def bp(id, version, status, s, d):
    return {"resourceType": "Observation", "id": id, "meta": {"versionId": str(version)},
            "status": status,
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
            "subject": {"reference": "Patient/rev"}, "effectiveDateTime": "2026-03-01T09:00:00Z",
            "component": [
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                 "valueQuantity": {"value": s, "unit": "mmHg"}},
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                 "valueQuantity": {"value": d, "unit": "mmHg"}}]}
with open(sys.argv[1], "w") as f:
    for o in (bp("rev-1", 1, "final", 190, 125), bp("rev-1", 2, "corrected", 118, 76),
              bp("rev-2", 1, "final", 117, 75), bp("rev-2", 2, "entered-in-error", 117, 75)):
        f.write(json.dumps(o) + "\n")
PY
for v in 17 18; do
    d="$t/rev$v"
    mkdir -p "$d"
    cat >"$d/p.ini" <<INI
[pipeline]
plugin_path = $ABI_PLUGIN_DIR
stats_interval = 0
[source.in]
plugin = source-file
path = $t/rev.ndjson
[detector.old]
plugin = abi$v-detector
[sink.all]
plugin = abi$v-sink
route = all
path = $d/all.ndjson
INI
    "$BPPIPE" run "$d/p.ini" --summary-json "$d/sum.json" >"$d/out" 2>"$d/err"
    check "ABI 1.${v#1} with revisions: runs" "[ $? = 0 ]" "$d/err"
    python3 - "$d" "$v" <<'PY'
import json, sys
d, v = sys.argv[1], sys.argv[2]
s = json.load(open(d + "/sum.json"))
docs = [json.loads(l) for l in open(d + "/all.ndjson") if l.strip()]
revs = [x.get("revision") for x in docs]
decoder = any("logical_id" in x for x in docs)
ok = s["counters"]["detector.old"].get("seen") == 3 and s["in_flight"] == 0
if decoder:
    ok = ok and s["retracted"] == 1 and s["corrected"] == 1
    ok = ok and revs == ([None, "replace", None] if v == "17" else [None, "replace", None, "retract"])
print(("ok   " if ok else "FAIL ") + "ABI 1.%s with revisions: the detector saw the 3 readings, the"
      " sink %s%s" % (v[1], "never a retraction" if v == "17" else "the retraction too (BP_CAP_REVISIONS)",
                      "" if decoder else " (decoder without logical ids: not checked)"))
if not ok:
    print(json.dumps(s), docs)
sys.exit(0 if ok else 1)
PY
    check "ABI 1.${v#1} with revisions: what it got" "[ $? = 0 ]"
done
exit $fail
