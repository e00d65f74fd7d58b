#!/usr/bin/env bash
# Keyed state across a group of three wards (issue 15): the same topic judged by one ward (group
# a), and by three wards of group b started together, one killed (-9) in the middle and another
# stopped (SIGTERM) and started again in the middle, gives every reading the same trend verdict
# (anomaly_details and the trend_* annotations by stable_id; a reading written twice must agree
# with itself) and the same set of alerts (sink-alert, route = critical, cooldown 900 s: the
# DetectedIssue ids, deduplicated), and group b never sends two distinct alerts of one patient
# with the same reasons and category within the cooldown. Partitions move between the wards
# twice; the cooldowns and the trend histories follow them through the changelog b-state.
# KAFKA_STATE_ASSIGNOR=cooperative-sticky runs group b with incremental rebalances (each member
# keeps what it holds; only the moved partitions are revoked, restored and dropped).
# KAFKA_STATE_EMPTY=1 shows the test can fail: the restarted ward reads an empty changelog.
# 12 000 readings of ~1 KiB on 6 partitions (~2 MiB each) stay under the mock's 5 MiB per partition.
# The topic is written in two halves, the second once b2 has stopped: three wards read 12 000
# readings faster than a test sees a count (on a quiet machine b1 was killed, and b2 restarted,
# with all 12 000 written: nothing left to restore for), so the kill and the restart come
# mid-topic by construction. The same 120 patients go on in the second half, an hour later.
. "$(dirname "$0")/lib.sh"
N=${KAFKA_STATE_READINGS:-12000}
start_broker --topic blood-pressure:6 --topic a-state:6 --topic b-state:6 --topic empty-state:6
produce_half() { # SEED START_TIME
    timeout "$(slow_s 120)" env PRODUCER_RATE=0 PRODUCER_COUNT=$((N / 2)) PRODUCER_SEED=$1 \
        "$BPPIPE" run "$BPPIPE_SOURCE_DIR/pipelines/producer.ini" -o source.ward.patients=120 \
        -o "source.ward.start_time=$2" 2>>"$t/prod.err"
}
produce_half 42 2026-01-01T00:00:00Z
check "producer exits 0 (first half)" "[ $? = 0 ]"

ward() { # NAME GROUP BATCH [STATE_TOPIC]: writes $t/NAME.ini
    printf '[pipeline]\nbatch_size = %s\nstats_interval = 0\n' "$3"
    printf '[source.k]\nplugin = source-kafka\nbrokers = %s\ngroup = %s\n' "$BROKERS" "$2"
    printf 'kafka.session.timeout.ms = 6000\n'
    # A commit per batch, as before commit_interval_ms: the kill and the restart must come
    # while group b is mid-topic and after it committed state, and batches of 20 committed
    # every 500 ms read the whole topic before the restart (a fresh-clone CI run: b2 restarted
    # at 12 000 of 12 000, nothing left to restore). kafka_commit_interval covers the interval.
    [ "$2" != a ] && printf 'commit_interval_ms = 0\n'
    [ "$2" != a ] && [ -n "${KAFKA_STATE_ASSIGNOR:-}" ] &&
        printf 'kafka.partition.assignment.strategy = %s\n' "$KAFKA_STATE_ASSIGNOR"
    [ -n "${4:-}" ] && printf 'state_topic = %s\n' "$4"
    printf '[detector.rules]\nplugin = detector-rules\n[detector.trend]\nplugin = detector-trend\n'
    printf '[sink.out]\nplugin = sink-file\nlayout = ndjson\npath = %s\n' "$t/$1.out"
    printf '[sink.alerts]\nplugin = sink-alert\nroute = critical\ncooldown = 900\n'
    printf 'path = %s\n' "$t/$1.alerts"
}
ward a a 500 >"$t/a.ini"
for w in b1 b2 b3; do ward $w b 20 >"$t/$w.ini"; done
if [ "${KAFKA_STATE_EMPTY:-0}" = 1 ]; then ward b2 b 20 empty-state >"$t/b2r.ini"; else
    cp "$t/b2.ini" "$t/b2r.ini"; fi
distinct() { for d in "$@"; do ids stable_id "$t/$d.out" 2>/dev/null; done | sort -u | wc -l |
    tr -d ' '; }
lines() { for d in "$@"; do cat "$t/$d.out"/*.ndjson 2>/dev/null; done | wc -l | tr -d ' '; }
start() { # NAME INI: starts a ward in the background, its pid in $NAME_pid
    (exec "$BPPIPE" run "$t/$2.ini") 2>>"$t/$1.err" &
    eval "$1_pid=$!"
    track $!
}
at_least() { # COUNT FUNCTION WARDS...: whether FUNCTION WARDS >= COUNT
    local want=$1 fn=$2; shift 2
    [ "$($fn "$@")" -ge "$want" ]
}
# wait_for COUNT FUNCTION WARDS...: until FUNCTION WARDS >= COUNT; the deadline only bounds a
# hang. `distinct` parses every line written, so it is asked only once `lines` has the count (it
# was asked every 20 ms, a core of Python beside four wards under ThreadSanitizer). A test that
# waited past the deadline fails here, where it waited, not later on a count.
wait_for() {
    local want=$1 fn=$2; shift 2
    if [ "$fn" = lines ]; then
        wait_until 200 at_least "$want" lines "$@" && return 0
    elif wait_until 200 at_least "$want" lines "$@"; then
        wait_until_costly 200 at_least "$want" "$fn" "$@" && return 0
    fi
    echo "FAIL waited for $fn $* >= $want: $($fn "$@")"; exit 1
}

# SIGTERM drains the lanes and commits: what a ward judged is written when it exits.
start b1 b1; start b2 b2; start b3 b3
wait_for $((N / 4)) lines b1 b2 b3
kill -KILL "$b1_pid"; wait "$b1_pid" 2>/dev/null
at_kill=$(lines b1 b2 b3)
wait_for $((N / 2)) lines b1 b2 b3
kill -TERM "$b2_pid"; wait "$b2_pid"
check "b2 stopped cleanly" "[ $? = 0 ]"
at_restart=$(lines b1 b2 b3)
produce_half 43 2026-01-01T01:00:00Z
check "producer exits 0 (second half)" "[ $? = 0 ]"
start b2 b2r
wait_for $N distinct b1 b2 b3
kill -TERM "$b2_pid" "$b3_pid"; wait "$b2_pid"; r2=$?; wait "$b3_pid"; r3=$?

# The reference: one ward of its own group reads the whole topic.
start a a
wait_for $N distinct a
kill -TERM "$a_pid"; wait "$a_pid"
check "the reference ward judged every reading" "[ \$(distinct a) = $N ]"
echo "group b: b1 killed at $at_kill written, b2 restarted at $at_restart, exits b2 $r2 b3 $r3"
check "the kill and the restart came mid-topic" "[ $at_kill -lt $N ] && [ $at_restart -lt $N ]"
check "b2 and b3 stopped cleanly" "[ $r2 = 0 ] && [ $r3 = 0 ]"
check "a ward of group b restored the patients' state" \
    "grep -q 'restored [1-9][0-9]* keys' $t/b2.err $t/b3.err"

python3 - "$t" >"$t/compare" <<'PY'
import json, os, sys, re
from datetime import datetime
t = sys.argv[1]
def docs(paths):
    for p in paths:
        files = sorted(os.listdir(p)) if os.path.isdir(p) else [""] if os.path.exists(p) else []
        for f in files:
            for line in open(os.path.join(p, f) if f else p):
                try:
                    yield json.loads(line)
                except ValueError:
                    pass  # a line cut short by the kill
def verdicts(dirs):
    out, conflicts = {}, 0
    for doc in docs(dirs):
        v = json.dumps([doc.get("anomaly_details")] +
                       sorted((k, doc[k]) for k in doc if k.startswith("trend_")))
        sid = doc["stable_id"]
        if sid in out and out[sid] != v:
            conflicts += 1
        out[sid] = v
    return out, conflicts
def alerts(files):
    out = {}
    for doc in docs(files):
        out[doc["id"]] = doc
    return out
ref, c1 = verdicts([f"{t}/a.out"])
grp, c2 = verdicts([f"{t}/{w}.out" for w in ("b1", "b2", "b3")])
differ = sum(1 for s in ref if grp.get(s) != ref[s]) + sum(1 for s in grp if s not in ref)
aa = alerts([f"{t}/a.alerts"])
ab = alerts([f"{t}/{w}.alerts" for w in ("b1", "b2", "b3")])
alerts_differ = len(set(aa) ^ set(ab))
# two distinct alerts of one patient, same reasons and category, closer than the cooldown
groups = {}
for a in ab.values():
    detail = a.get("detail", "")
    reasons = detail.split("; blood pressure")[0]
    cat = re.search(r"\(([^)]*)\)", detail)
    when = datetime.fromisoformat(a["identifiedDateTime"].replace("Z", "+00:00")).timestamp()
    key = (a["patient"]["reference"], reasons, cat.group(1) if cat else "")
    groups.setdefault(key, []).append(when)
repeats = 0
for times in groups.values():
    times.sort()
    repeats += sum(1 for x, y in zip(times, times[1:]) if y - x < 900)
print(len(ref), len(grp), differ, c1 + c2, len(aa), len(ab), alerts_differ, repeats)
PY
read -r nref ngrp differ conflicts naa nab adiffer repeats <"$t/compare"
echo "readings: one ward $nref, three wards $ngrp, differ $differ, self-conflicts $conflicts"
echo "alerts: one ward $naa, three wards $nab, differ $adiffer, repeated within the cooldown $repeats"
check "both judged every reading" "[ $nref = $N ] && [ $ngrp = $N ]"
check "the same trend verdict for every reading (0 differ)" "[ $differ = 0 ]"
check "a reading written twice was judged the same both times" "[ $conflicts = 0 ]"
check "there were alerts to compare" "[ $naa -gt 0 ]"
check "the same set of alerts (0 differ)" "[ $adiffer = 0 ]"
check "no alert repeated within its cooldown" "[ $repeats = 0 ]"
[ $fail = 0 ] || { grep -h 'restored\|state' "$t"/b?.err | head -20; }
exit $fail
