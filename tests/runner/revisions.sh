#!/usr/bin/env bash
# Revisions through bppipe (docs/revisions.md). `bppipe check` names each sink and detector that
# does not honour revisions and still accepts the pipeline. Then FHIR Observations with ids and
# meta.versionId: a reading corrected from an anomaly to normal, a reading entered in error, a
# retraction that comes before its reading, a replay of a superseded version and of a
# retraction. The corrected reading goes to the normal sinks as "replace" and leaves a retract
# companion for the capable anomaly sink only; a retraction reaches the capable sinks only
# (test-revsink), never test-sink (no BP_CAP_REVISIONS) nor route = skipped; the capable detector
# gets the retractions and cannot judge them, the plain ones never see them; the superseded and
# retracted versions are skipped by reason; the books balance; --summary-json and /metrics say
# corrected 1 and retracted 2 (promtool accepts /metrics). Run again over the ledger's snapshot
# file (revisions_state_file), the same input changes nothing already applied.
#
# Needs the FHIR decoder of issue 26 (logical_id, version and revision filled; branch s3-decode):
# without it, after the check part, the test says so and is skipped (exit 77).
set -u
. "$(dirname "$0")/../wait.sh"
fail=0
t=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$t"; }
trap cleanup EXIT
check() {
    if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; [ -n "${3:-}" ] && cat "$3"; fi
    return 0
}

obs() { # obs ID VERSION STATUS PATIENT SYSTOLIC DIASTOLIC
    printf '{"resourceType":"Observation","id":"%s","meta":{"versionId":"%s"},"status":"%s","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2026-01-02T03:04:05Z","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":%s,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":%s,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}\n' "$@"
}
{
    obs bp-1 1 final P1 165 100           # an anomaly...
    obs bp-2 1 final P2 116 75            # normal
    obs bp-3 2 entered-in-error P3 114 74 # a retraction before its reading
    obs bp-1 2 corrected P1 118 76        # ...corrected to normal
    obs bp-2 2 entered-in-error P2 116 75 # retracted
    obs bp-1 1 final P1 165 100           # a replay of the superseded version
    obs bp-3 1 final P3 114 74            # the reading retracted before it came
    obs bp-2 2 entered-in-error P2 116 75 # a second copy of the retraction
    obs bp-4 1 final P4 119 77            # never revised
} >"$t/in.ndjson"

# plugins: the two capable sinks, test-sink (no cap) on route all, detectors with and without
pipeline() { # FILE SOURCE-SECTION-LINES... (the rest is the same)
    local f=$1
    shift
    {
        printf '[pipeline]\nplugin_path = %s:%s:%s\nstats_interval = 0\nbatch_size = 4\n' \
            "$REV_PLUGIN_DIR" "$RUNNER_PLUGIN_DIR" "$OPS_PLUGIN_DIR"
        printf '%s\n' "$@"
        cat <<INI
[detector.rules]
plugin = detector-rules
[detector.rev]
plugin = test-revdetector
[detector.plain]
plugin = test-plaindetector
[sink.normal]
plugin = test-revsink
route = normal
path = $t/$(basename "$f" .ini).normal
[sink.anomaly]
plugin = test-revsink
route = anomaly
path = $t/$(basename "$f" .ini).anomaly
[sink.plain]
plugin = test-sink
route = all
path = $t/$(basename "$f" .ini).plain
[sink.skipped]
plugin = test-sink
route = skipped
path = $t/$(basename "$f" .ini).skipped
[sink.dead]
plugin = test-sink
route = invalid
path = $t/$(basename "$f" .ini).dead
INI
    } >"$f"
}

# 1. check: one line per instance that does not honour revisions, and no refusal
pipeline "$t/c.ini" "[source.in]" "plugin = source-file" "path = $t/in.ndjson"
"$BPPIPE" check --offline "$t/c.ini" >"$t/check.out" 2>&1
check "check accepts a pipeline of sinks and detectors without BP_CAP_REVISIONS" \
    "[ $? = 0 ] && grep -q 'is valid' '$t/check.out'" "$t/check.out"
check "it says what test-sink on route all misses" \
    "grep -q '\[sink.plain\] test-sink does not honour revisions: a corrected reading reaches it as a new record beside the old one, a retraction (entered-in-error) never (docs/revisions.md)' '$t/check.out'" "$t/check.out"
check "and each detector without it" \
    "grep -q '\[detector.plain\] test-plaindetector does not honour revisions' '$t/check.out' && grep -q '\[detector.rules\] detector-rules does not honour revisions' '$t/check.out'"
check "nothing on the capable ones, nor on the sinks of skipped and invalid (they miss nothing)" \
    "! grep -qE '\[(sink.normal|sink.anomaly|detector.rev|sink.skipped|sink.dead)\].*revisions' '$t/check.out'" "$t/check.out"

# 2. the sequence, on a run that stays up (ops-source) for /metrics
TOKEN=rev-test-token
export REV_TOKEN=$TOKEN
pipeline "$t/a.ini" "http_listen = 127.0.0.1:0" "http_port_file = $t/addr" \
    "http_token_env = REV_TOKEN" "[source.in]" "plugin = ops-source" "path = $t/in.ndjson"
"$BPPIPE" run "$t/a.ini" --summary-json "$t/a.json" 2>"$t/a.err" &
pid=$!
wait_until 60 test -s "$t/addr"
addr=$(cat "$t/addr" 2>/dev/null)
scrape() { curl -s -m 5 -H "Authorization: Bearer $TOKEN" "http://$addr/metrics" >"$t/m.txt"; }
settled() { # every payload decoded and committed: 9 payloads, nothing in flight
    scrape && grep -q '^bppipe_payloads_total 9$' "$t/m.txt" &&
        grep -q '^bppipe_readings_in_flight 0$' "$t/m.txt"
}
wait_until 60 settled
if ! grep -q '"logical_id"' "$t/a.normal" 2>/dev/null; then
    echo "SKIP the FHIR decoder does not fill logical_id yet (issue 26's decoder, branch" \
         "s3-decode): the rest of this test needs it"
    [ $fail = 0 ] && exit 77
    exit 1
fi
check "/metrics: corrected 1, retracted 2" \
    "grep -q '^bppipe_corrected_total 1$' '$t/m.txt' && grep -q '^bppipe_retracted_total 2$' '$t/m.txt'" "$t/m.txt"
if command -v promtool >/dev/null; then
    check "promtool check metrics accepts /metrics" "promtool check metrics <'$t/m.txt' >'$t/lint' 2>&1" "$t/lint"
fi
kill -TERM "$pid"
wait_gone 60 "$pid"
wait "$pid"
check "the run ends cleanly on SIGTERM" "[ $? = 0 ]" "$t/a.err"
pid=

/usr/bin/python3 - "$t" a first <<'PY' || fail=1
import json, sys
t, run, phase = sys.argv[1:4]
def docs(name):
    try:
        return [json.loads(l) for l in open("%s/%s.%s" % (t, run, name)) if l.strip()]
    except FileNotFoundError:
        return []
def what(d): # a judged reading's document has no route field: its verdict says it
    route = d.get("route") or ("anomaly" if d.get("anomaly") else "normal")
    return (d.get("logical_id"), d.get("version"), d.get("revision"), route)
s = json.load(open("%s/%s.json" % (t, run)))
c = s["counters"]
normal, anomaly, plain = docs("normal"), docs("anomaly"), docs("plain")
skipped, dead = docs("skipped"), docs("dead")
print("normal", [what(d) for d in normal], "anomaly", [what(d) for d in anomaly],
      "plain", [what(d) for d in plain], "skipped", [what(d) for d in skipped], sep="\n  ")
checks = [
    ("books: 4 readings = 1 anomaly + 3 normal, nothing invalid or in flight",
     (s["readings_in"], s["anomaly"], s["normal"], s["invalid"], s["in_flight"]) == (4, 1, 3, 0, 0)),
    ("books balance", s["readings_in"] == s["anomaly"] + s["normal"] + s["invalid"] + s["in_flight"]),
    ("corrected 1, retracted 2 beside the books", (s["corrected"], s["retracted"]) == (1, 2)),
    ("the superseded replay and the two retracted versions are skipped by reason",
     s["skipped"] == 3 and s["skipped_by_reason"] == {
         "superseded: a newer version was already applied": 1,
         "retracted: the Observation was entered in error": 2}),
    ("the normal sink: the reading, the retraction that came first, the correction as replace,"
     " the retraction, the reading never revised",
     [what(d) for d in normal] == [
         ("bp-2", 1, None, "normal"), ("bp-3", 2, "retract", "retract"),
         ("bp-1", 2, "replace", "normal"), ("bp-2", 2, "retract", "retract"),
         ("bp-4", 1, None, "normal")]),
    ("the anomaly sink: the anomaly, then the retractions, the correction's companion among them"
     " (it leaves the anomaly index)",
     [what(d) for d in anomaly] == [
         ("bp-1", 1, None, "anomaly"), ("bp-3", 2, "retract", "retract"),
         ("bp-1", 2, "retract", "retract"), ("bp-2", 2, "retract", "retract")]),
    ("a retraction's document has no values and no verdict",
     all("systolic_pressure" not in d and "anomaly" not in d and "severity" not in d
         for d in normal + anomaly if d.get("revision") == "retract")),
    ("test-sink (no BP_CAP_REVISIONS) never gets a retraction, the correction as a new record",
     [what(d) for d in plain] == [
         ("bp-1", 1, None, "anomaly"), ("bp-2", 1, None, "normal"),
         ("bp-1", 2, "replace", "normal"), ("bp-4", 1, None, "normal")]),
    ("route = skipped gets the suppressed versions, never a retraction",
     sorted((d["logical_id"], d["skip_reason"][:10]) for d in skipped) == [
         ("bp-1", "superseded"), ("bp-2", "retracted:"), ("bp-3", "retracted:")]),
    ("nothing is a dead letter", dead == []),
    ("the capable detector got the 4 readings and the 2 retractions, and could not judge those",
     c.get("detector.rev") == {"readings": 4, "retractions": 2, "refused_verdicts": 2}),
    ("the plain detector never saw a retraction", c.get("detector.plain") == {"readings": 4}),
    ("the capable sinks counted what they got",
     c.get("sink.normal") == {"first": 2, "retract": 2, "replace": 1}
     and c.get("sink.anomaly") == {"first": 1, "retract": 3}),
]
bad = 0
for name, ok in checks:
    print(("ok   " if ok else "FAIL ") + name)
    bad += not ok
if bad:
    print(json.dumps(s, indent=1))
sys.exit(1 if bad else 0)
PY

# 3. the same input twice over the ledger's snapshot file: the second run applies nothing again
for run in b1 b2; do
    pipeline "$t/$run.ini" "revisions_state_file = $t/ledger.state" \
        "[source.in]" "plugin = source-file" "path = $t/in.ndjson"
    "$BPPIPE" run "$t/$run.ini" --summary-json "$t/$run.json" 2>"$t/$run.err"
    check "$run: runs" "[ $? = 0 ]" "$t/$run.err"
done
check "the first run kept the ledger in revisions_state_file" "[ -s '$t/ledger.state' ]"
/usr/bin/python3 - "$t" <<'PY' || fail=1
import json, sys
t = sys.argv[1]
s = json.load(open(t + "/b2.json"))
def docs(name):
    try:
        return [json.loads(l) for l in open("%s/b2.%s" % (t, name)) if l.strip()]
    except FileNotFoundError:
        return []
checks = [
    ("replayed, only the reading never revised is a reading again (its sinks keep it once by"
     " its id); every revised one is skipped, no correction or retraction is applied twice",
     (s["readings_in"], s["normal"], s["corrected"], s["retracted"], s["skipped"]) == (1, 1, 0, 0, 8)),
    ("the capable sinks get nothing revised again",
     [d.get("logical_id") for d in docs("normal") + docs("anomaly")] == ["bp-4"]),
]
for name, ok in checks:
    print(("ok   " if ok else "FAIL ") + "replay: " + name)
sys.exit(0 if all(ok for _, ok in checks) else 1)
PY
exit $fail
