#!/usr/bin/env bash
# detector-trend's histories in the host's keyed state, with sources that keep no state
# themselves (the host's snapshot, state_file):
#   - continuity: a series split in two runs with one state_file is judged reading by reading
#     exactly as one uninterrupted run (an episode begun in run 1 is recognised in run 2 at the
#     same reading; baselines, rapid change and late readings carry over);
#   - crash safety: kill -9 of a run after some commits leaves a snapshot that is read back
#     whole, and holds the histories as of one commit point (one prefix of the stream).
set -u
. "$(dirname "$0")/../wait.sh"
fail=0
t=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }

# Four patients read every 5 minutes for 10 hours; EP has stage-2 readings at minutes 290, 295
# and 300 (the third starts run 2: sustained there), RAP jumps by 40 mmHg at minute 305, LATE
# gets a reading 20 minutes late at the start of run 2; the rest is seeded noise.
python3 - "$t" <<'PY'
import random, sys
t = sys.argv[1]
rnd = random.Random(15)
def obs(i, p, m, s, d):
    return ('{"resourceType":"Observation","id":"%s-%d","status":"final","code":{"coding":[{"system":'
            '"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/%s"},'
            '"effectiveDateTime":"2026-03-01T%02d:%02d:00Z","component":[{"code":{"coding":[{"system":'
            '"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":%d,"code":"mm[Hg]"}},'
            '{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":'
            '{"value":%d,"code":"mm[Hg]"}}]}' % (p, i, p, m // 60, m % 60, s, d))
rows = []
for m in range(0, 600, 5):
    for p in ("EP", "RAP", "LATE", "NOISE"):
        s, d = 118 + rnd.randint(-4, 4), 76 + rnd.randint(-3, 3)
        if p == "EP" and m in (290, 295, 300):
            s = 150
        if p == "RAP" and m == 305:
            s += 40
        if p == "NOISE" and m % 120 == 0:
            s += 25
        rows.append((m, obs(m, p, m, s, d)))
    if m == 300:
        rows.append((m, obs(9999, "LATE", 280, 170, 80)))
one = [r for _, r in rows]
cut = next(i for i, (m, _) in enumerate(rows) if m == 300)
open(t + "/all.ndjson", "w").write("\n".join(one) + "\n")
open(t + "/part1.ndjson", "w").write("\n".join(one[:cut]) + "\n")
open(t + "/part2.ndjson", "w").write("\n".join(one[cut:]) + "\n")
PY
cat >"$t/p.ini" <<INI
[pipeline]
stats_interval = 0
batch_size = 7
[source.in]
plugin = source-file
path = $t/all.ndjson
[detector.trend]
plugin = detector-trend
[sink.out]
plugin = sink-file
path = $t/one
INI
"$BPPIPE" run "$t/p.ini" 2>"$t/err.one"
check "one uninterrupted run" "[ $? = 0 ]"
"$BPPIPE" run "$t/p.ini" -o source.in.path="$t/part1.ndjson" -o sink.out.path="$t/two" \
    -o detector.trend.state_file="$t/trend.state" 2>"$t/err.1"
check "run 1 of 2 writes the snapshot" "[ $? = 0 ] && [ -s '$t/trend.state' ]"
"$BPPIPE" run "$t/p.ini" -o source.in.path="$t/part2.ndjson" -o sink.out.path="$t/two" \
    -o detector.trend.state_file="$t/trend.state" 2>"$t/err.2"
check "run 2 of 2 restores the four patients" "[ $? = 0 ] && grep -q 'restored 4 keys from' '$t/err.2'"
# every reading's trend verdict: reasons, type, readings, z, baseline, late
verdicts() {
    python3 - "$1" <<'PY'
import glob, json, sys
rows = {}
for f in glob.glob(sys.argv[1] + "/*.ndjson"):
    for line in open(f):
        d = json.loads(line)
        rows[d["observation_id"]] = (sorted(d.get("anomaly_details", [])), d.get("anomaly_type"),
            d.get("trend_readings"), d.get("trend_z"), d.get("trend_baseline"), d.get("trend_late"))
for k in sorted(rows):
    print(k, json.dumps(rows[k]))
PY
}
verdicts "$t/one" >"$t/v.one"
verdicts "$t/two" >"$t/v.two"
check "every reading (481) judged alike in one run and in two (0 differ)" \
    "[ \$(wc -l <'$t/v.one') = 481 ] && diff -q '$t/v.one' '$t/v.two' >/dev/null"
check "the episode begun in run 1 is recognised in run 2 at the same reading" \
    "grep '^EP-300 ' '$t/v.two' | grep -q sustained_hypertension && ! grep '^EP-295 ' '$t/v.two' | grep -q sustained_hypertension"
check "the rapid change in run 2 is against run 1's last reading" "grep '^RAP-305 ' '$t/v.two' | grep -q rapid_change_up"
check "the late reading in run 2 is late against run 1's latest" "grep '^LATE-9999 ' '$t/v.two' | grep -q 'true]'"
check "the baselines came back (60 readings counted in run 1)" "grep '^NOISE-300 ' '$t/v.two' | grep -q '\"normal\", 60, '"

# kill -9 after some commits: a paced ward of 5 patients, snapshots at most every 50 ms
cat >"$t/k.ini" <<INI
[pipeline]
stats_interval = 0
batch_size = 10
state_interval_ms = 50
[source.ward]
plugin = source-faker
patients = 5
rate = 40
seed = 3
start_time = 2026-01-01T00:00:00Z
[detector.trend]
plugin = detector-trend
state_file = $t/kill.state
[sink.out]
plugin = sink-file
path = $t/killed
INI
"$BPPIPE" run "$t/k.ini" 2>"$t/err.k" &
pid=$!
# some commits first: snapshots written and 40 readings (a second of the ward) out
killed_n() { [ -s "$t/kill.state" ] && [ "$(cat "$t"/killed/* 2>/dev/null | wc -l)" -ge 40 ]; }
wait_until 60 killed_n
kill -9 $pid
wait $pid 2>/dev/null
pid=
check "the killed run had written snapshots" "[ -s '$t/kill.state' ]"
# One reading per patient, far later: its trend_readings is the patient's count restored.
python3 - "$t" <<'PY'
import sys
t = sys.argv[1]
tpl = ('{"resourceType":"Observation","id":"probe-%d","status":"final","code":{"coding":[{"system":'
       '"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/PAT-%03d"},'
       '"effectiveDateTime":"2027-01-01T00:00:00Z","component":[{"code":{"coding":[{"system":'
       '"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":120,"code":"mm[Hg]"}},'
       '{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":'
       '{"value":80,"code":"mm[Hg]"}}]}')
open(t + "/probe.ndjson", "w").write("".join(tpl % (i, i) + "\n" for i in range(1, 6)))
PY
cp "$t/kill.state" "$t/kill.state.copy"
"$BPPIPE" run "$t/k.ini" -o source.ward.plugin=source-file -o source.ward.path="$t/probe.ndjson" \
    -o sink.out.path="$t/probed" 2>"$t/err.p"
check "the snapshot is read back whole" "[ $? = 0 ] && grep -q 'restored 5 keys from' '$t/err.p' && ! grep -q ignoring '$t/err.p'"
# The faker reads its patients in turn, so the histories of one commit point are one prefix of
# the stream: counts that fall by at most one from PAT-001 to PAT-005, no more readings in all
# than the killed run delivered.
python3 - "$t" >"$t/prefix" <<'PY'
import glob, json, sys
t = sys.argv[1]
n = {}
for line in open(glob.glob(t + "/probed/*.ndjson")[0]):
    d = json.loads(line)
    n[d["patient_id"]] = d["trend_readings"]
counts = [n["PAT-%03d" % i] for i in range(1, 6)]
delivered = sum(1 for f in glob.glob(t + "/killed/*.ndjson") for _ in open(f))
prefix = all(a >= b for a, b in zip(counts, counts[1:])) and counts[0] - counts[-1] <= 1
print("counts", counts, "delivered", delivered, "ok" if prefix and 0 < sum(counts) <= delivered else "BAD")
PY
check "the restored histories are those of one commit point ($(cat "$t/prefix"))" "grep -q ' ok$' '$t/prefix'"
exit $fail
