#!/usr/bin/env bash
# Keyed state (issue 15): kill -9 in the middle of a patient's sustained episode, then a
# restart. Patient EP is read every 5 minutes; its readings at minutes 290, 295, 300 and 305 are
# stage 2, so with detector-trend's sustained_count = 3 the episode is recognised at EP-300 (a
# ward that was never killed says so). Two kills, each on its own topic and group:
#   A. committed: the ward has judged EP-290 and EP-295 and committed them (every reading
#      counted in bppipe_readings_total, none in flight), is killed, and the rest is produced.
#      The restarted ward reads only the readings after the kill, so EP's first two stage-2
#      readings can reach it only through the changelog.
#   B. not committed: the ward committed up to minute 285; a second sink (test-sink) is then
#      down, so EP-290 and EP-295 are judged and archived by sink-file but their batches stay
#      in flight when the ward is killed. The restarted ward reads them again, judged from the
#      state as of minute 285, as they were the first time.
#   C. an outage at the restore (issue 23): the ward stopped cleanly after EP-295 was committed;
#      the broker leading the changelog is down when the next ward is assigned the partitions, so
#      its restore cannot read the changelog. It must wait (it stopped with "the keyed state of
#      an assigned partition could not be restored"), read none of the partitions meanwhile, and
#      restore them exactly once the broker is back.
# Either way EP-300 is the first reading with sustained_hypertension, and every reading of the
# 12 patients gets the same trend verdict as in the ward that was never killed (0 differ).
# KAFKA_STATE_EMPTY=1 shows the test can fail: the restarted wards read an empty changelog.
. "$(dirname "$0")/lib.sh"
# Two brokers for C: its input and group on broker 1, its changelog on broker 2, which SIGUSR1
# takes down and SIGUSR2 brings back.
start_broker --brokers 2 --outage 2 --topic bp-ref:6 --topic bp-a:6 --topic bp-b:6 \
    --topic a-state:6 --topic b-state:6 --topic ref-state:6 --topic empty-state:6 \
    --topic bp-c:6@1 --topic c-state:6@2 --coordinator c@1 --coordinator c-state@1

# The readings: 12 patients every 5 minutes from 00:00 to 09:55 (1 440 readings), seeded
# noise; EP's stage-2 readings at 290-305; the others get an occasional spike. Written as
# "patient<TAB>payload" lines per phase: m <= 285, 290-295, >= 300.
/usr/bin/python3 - "$t" <<'PY'
import random, sys
t = sys.argv[1]
rnd = random.Random(1505)
def obs(p, m, s, d):
    return ('{"resourceType":"Observation","id":"%s-%d","status":"final","code":{"coding":[{"system":'
            '"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/%s"},'
            '"effectiveDateTime":"2026-03-01T%02d:%02d:00Z","component":[{"code":{"coding":[{"system":'
            '"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":%d,"code":"mm[Hg]"}},'
            '{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":'
            '{"value":%d,"code":"mm[Hg]"}}]}' % (p, m, p, m // 60, m % 60, s, d))
patients = ["EP"] + ["P%02d" % i for i in range(1, 12)]
phases = {1: [], 2: [], 3: []}
for m in range(0, 600, 5):
    for p in patients:
        s, d = 118 + rnd.randint(-5, 5), 76 + rnd.randint(-4, 4)
        if p == "EP" and 290 <= m <= 305:
            s = 150 + (m - 290) // 5
        elif p != "EP" and rnd.random() < 0.04:
            s += rnd.choice((-30, 30, 45))  # a drop to 83-93 over 72-80: still plausible
        phase = 1 if m <= 285 else 2 if m <= 295 else 3
        phases[phase].append("%s\t%s" % (p, obs(p, m, s, d)))
for k, rows in phases.items():
    open("%s/phase%d.tsv" % (t, k), "w").write("\n".join(rows) + "\n")
PY
produce() { # TOPIC PHASE...: the phases' readings, keyed by patient (one partition each)
    local topic=$1; shift
    for ph in "$@"; do
        kc -P -t "$topic" -K $'\t' <"$t/phase$ph.tsv" || bad "kcat produced phase $ph to $topic"
    done
}
N1=$(wc -l <"$t/phase1.tsv"); N2=$(wc -l <"$t/phase2.tsv"); N3=$(wc -l <"$t/phase3.tsv")
N=$((N1 + N2 + N3))

ward() { # NAME TOPIC GROUP [STATE_TOPIC]: writes $t/NAME.ini (archive $t/NAME.out)
    printf '[pipeline]\nbatch_size = 20\nstats_interval = 0\nlane_max_records = 40\n'
    printf 'plugin_path = %s\n' "$RUNNER_PLUGIN_DIR"
    printf 'retry_initial_ms = 20\nretry_max_ms = 100\n'
    printf 'http_listen = 127.0.0.1:0\nhttp_port_file = %s\n' "$t/$1.addr"
    printf '[source.k]\nplugin = source-kafka\nbrokers = %s\ntopics = %s\ngroup = %s\n' \
        "$BROKERS" "$2" "$3"
    printf 'kafka.session.timeout.ms = 6000\n'
    [ -n "${4:-}" ] && printf 'state_topic = %s\n' "$4"
    printf '[detector.rules]\nplugin = detector-rules\n[detector.trend]\nplugin = detector-trend\n'
    printf '[sink.out]\nplugin = sink-file\nlayout = ndjson\npath = %s\n' "$t/$1.out"
    printf '[sink.second]\nplugin = test-sink\npath = %s\ndown_file = %s\n' "$t/$1.second" \
        "$t/down"
}
restart_state=
[ "${KAFKA_STATE_EMPTY:-0}" = 1 ] && restart_state=empty-state
ward ref bp-ref ref >"$t/ref.ini"
ward a1 bp-a a >"$t/a1.ini"
ward a2 bp-a a $restart_state >"$t/a2.ini"
ward b1 bp-b b >"$t/b1.ini"
ward b2 bp-b b $restart_state >"$t/b2.ini"
ward c1 bp-c c >"$t/c1.ini"
ward c2 bp-c c $restart_state >"$t/c2.ini"

start() { # NAME: starts ward NAME in the background, its pid in $pid
    rm -f "$t/$1.addr"
    (exec "$BPPIPE" run "$t/$1.ini") 2>>"$t/$1.err" &
    pid=$!
    track $pid
}
committed() { # NAME: readings counted under a route (committed), and readings in flight
    curl -s "http://$(cat "$t/$1.addr" 2>/dev/null)/metrics" 2>/dev/null | awk '
        $1 ~ /^bppipe_readings_total\{route="(normal|anomaly|invalid)"\}$/ {c += $2}
        $1 == "bppipe_readings_in_flight" {f = $2}
        END {print c + 0, f + 0}'
}
# GROUP TOPIC: the sum of the group's committed offsets. The books count a batch when the source's
# commit() returned, which source-kafka makes at most every commit_interval_ms: a kill meant to
# come after a commit waits for the group to have it.
in_group() {
    "$KAFKA_OFFSETS" "$BROKERS" "$1" "$2" 2>/dev/null | awk '{c += $2 > 0 ? $2 : 0} END {print c + 0}'
}
archived() { # NAME ID: 0 when reading ID is in ward NAME's archive
    cat "$t/$1.out"/*.ndjson 2>/dev/null | grep -q "\"observation_id\":\"$2\""
}
# DESCRIPTION COMMAND: waits for COMMAND, up to 120 s x BPPIPE_TEST_SLOW (tests/wait.sh: a
# sanitizer's ward beside other tests is several times slower). Not named wait_until: lib.sh's
# clean-up calls tests/wait.sh's, whose arguments differ.
expect_soon() {
    wait_until 120 eval "$2" && return 0
    bad "$1 (timed out)"
    return 1
}
lines_in() { cat "$@" 2>/dev/null | wc -l | tr -d ' '; }

# The reference: one ward, never killed, over the whole series.
produce bp-ref 1 2 3
start ref
expect_soon "the reference ward committed all $N readings" '[ "$(committed ref)" = "$N 0" ]'
kill -TERM $pid; wait $pid
check "the reference ward stopped cleanly" "[ $? = 0 ]"

# A. Killed after EP-290 and EP-295 were committed.
produce bp-a 1 2
start a1
expect_soon "a1 committed phases 1 and 2 ($((N1 + N2)) readings)" \
    '[ "$(committed a1)" = "$((N1 + N2)) 0" ] && archived a1 EP-295'
expect_soon "group a has the offsets of phases 1 and 2" '[ "$(in_group a bp-a)" = $((N1 + N2)) ]'
kill -KILL $pid; wait $pid 2>/dev/null
produce bp-a 3
start a2
expect_soon "a2 committed the rest ($N3 readings)" '[ "$(committed a2)" = "$N3 0" ]'
kill -TERM $pid; wait $pid
check "A: the restarted ward stopped cleanly" "[ $? = 0 ]"
check "A: the restarted ward restored the 12 patients" "grep -q 'restored 12 keys' '$t/a2.err'"
check "A: the restarted ward read none of the committed readings again" \
    "[ \$(lines_in '$t'/a2.out/*.ndjson) = $N3 ] && ! archived a2 EP-295"

# B. Killed while EP-290 and EP-295 were judged and archived but not committed.
produce bp-b 1
start b1
expect_soon "b1 committed phase 1 ($N1 readings)" '[ "$(committed b1)" = "$N1 0" ]'
expect_soon "group b has the offsets of phase 1" '[ "$(in_group b bp-b)" = $N1 ]'
touch "$t/down"
produce bp-b 2
in_flight() { read -r _ f <<<"$(committed b1)"; [ "$f" -gt 0 ]; }
expect_soon "b1 archived EP-295 with the second sink down, its batches in flight" \
    'archived b1 EP-295 && in_flight'
read -r b1_committed b1_in_flight <<<"$(committed b1)"
kill -KILL $pid; wait $pid 2>/dev/null
check "B: the kill left EP-290 and EP-295 uncommitted ($b1_committed committed, $b1_in_flight in flight)" \
    "[ $b1_committed = $N1 ] && [ $b1_in_flight -gt 0 ]"
rm -f "$t/down"
produce bp-b 3
start b2
expect_soon "b2 committed the rest" '[ "$(committed b2)" = "$((N2 + N3)) 0" ]'
kill -TERM $pid; wait $pid
check "B: the restarted ward stopped cleanly" "[ $? = 0 ]"
check "B: the restarted ward restored the 12 patients" "grep -q 'restored 12 keys' '$t/b2.err'"
check "B: the restarted ward judged EP-290 and EP-295 again (they were not committed)" \
    "archived b2 EP-290 && archived b2 EP-295"

# C. The restart's restore meets an outage of the changelog's broker.
produce bp-c 1 2
start c1
expect_soon "c1 committed phases 1 and 2 ($((N1 + N2)) readings)" \
    '[ "$(committed c1)" = "$((N1 + N2)) 0" ] && archived c1 EP-295'
kill -TERM $pid; wait $pid
check "C: the first ward stopped cleanly" "[ $? = 0 ]"
kill -USR1 "$broker_pid"
expect_soon "the changelog's broker went down" "grep -q 'broker 2 down' '$t/broker.err'"
produce bp-c 3
start c2
# the restore failed, and was tried again after the host's back-off (not the old stop)
expect_soon "c2 says its restore waits for the cluster, and tries again" \
    "(grep -q 'cannot be restored yet' '$t/c2.err' &&
      grep -q 'source asked to retry.*attempt 2)' '$t/c2.err') || ! kill -0 $pid 2>/dev/null"
check "C: the ward waits instead of stopping" "kill -0 $pid 2>/dev/null"
check "C: and has judged nothing of its partitions meanwhile" \
    "[ \$(lines_in '$t'/c2.out/*.ndjson) = 0 ] && [ \"\$(committed c2)\" = '0 0' ]"
kill -USR2 "$broker_pid"
expect_soon "c2 committed the rest once the broker was back ($N3 readings)" \
    '! kill -0 $pid 2>/dev/null || [ "$(committed c2)" = "$N3 0" ]'
kill -TERM $pid; wait $pid
check "C: the restarted ward stopped cleanly" "[ $? = 0 ]"
check "C: the restarted ward restored the 12 patients" "grep -q 'restored 12 keys' '$t/c2.err'"
check "C: the restarted ward read none of the committed readings again" \
    "[ \$(lines_in '$t'/c2.out/*.ndjson) = $N3 ] && ! archived c2 EP-295"

# Every reading's trend verdict (reasons, type, baseline count, z, baseline, late), by run.
/usr/bin/python3 - "$t" >"$t/compare" <<'PY'
import glob, json, sys
t = sys.argv[1]
def verdicts(*names):
    out, conflicts = {}, 0
    for name in names:
        for f in sorted(glob.glob("%s/%s.out/*.ndjson" % (t, name))):
            for line in open(f):
                try:
                    d = json.loads(line)
                except ValueError:
                    continue  # a line cut short by the kill
                v = (sorted(d.get("anomaly_details") or []), d.get("anomaly_type"),
                     d.get("trend_readings"), d.get("trend_z"), d.get("trend_baseline"),
                     d.get("trend_late"))
                k = d["observation_id"]
                if k in out and out[k] != v:
                    conflicts += 1
                out[k] = v
    return out, conflicts
def first_sustained(v):
    ep = sorted((int(k.split("-")[1]), k) for k in v if k.startswith("EP-"))
    return next((k for _, k in ep if "sustained_hypertension" in v[k][0]), "none")
ref, _ = verdicts("ref")
for run in ("a", "b", "c"):
    v, conflicts = verdicts(run + "1", run + "2")
    differ = sum(1 for k in ref if v.get(k) != ref[k])
    print(run, len(ref), len(v), differ, conflicts, first_sustained(ref), first_sustained(v))
PY
cat "$t/compare"
while read -r run nref nrun differ conflicts ref_first run_first; do
    R=$(echo "$run" | tr a-z A-Z)
    check "$R: both judged all $N readings ($nref, $nrun)" "[ $nref = $N ] && [ $nrun = $N ]"
    check "$R: the episode is recognised at $run_first, as without the kill ($ref_first)" \
        "[ $ref_first = EP-300 ] && [ $run_first = EP-300 ]"
    check "$R: the same trend verdict for every reading ($differ differ)" "[ $differ = 0 ]"
    check "$R: a reading judged twice was judged alike ($conflicts conflicts)" "[ $conflicts = 0 ]"
done <"$t/compare"
check "the three runs were compared" "[ \$(wc -l <'$t/compare') = 3 ]"
[ $fail = 0 ] || grep -h 'restored\|error\|warn' "$t"/*.err | head -20
exit $fail
