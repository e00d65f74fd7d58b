#!/usr/bin/env bash
# The ward's per-record archive (pipelines/ward.ini as shipped: sink.normal, one file per normal
# reading, made durable a batch at a time) under kill -9, three times in the middle of the topic
# and once idle at its end:
#  - after each kill, every file under a final name is a whole JSON document whose name is the
#    one its own ids and time give (no torn file, no file under another reading's name);
#  - everything the group had committed when the ward was killed (what a member restarted in
#    the group does not read again: a kcat member of the group, committing nothing, reads from
#    the commit) was already in the archive: no commit ran ahead of the files;
#  - the last restart drains the topic: every normal reading has its file, and no temporary
#    file is left.
# kill -9 ends the process, not the machine: the page cache survives it, so this proves the order
# of files, renames and commits, not that the fsyncs reached the disk (docs/plugins/sink-file.md,
# "Durability", says what does).
. "$(dirname "$0")/lib.sh"
N=${KAFKA_ARCHIVE_READINGS:-12000}
KILLS=${KAFKA_ARCHIVE_KILLS:-3}
GROUP=archive
start_broker --topic blood-pressure:8
start_es
timeout 120 env PRODUCER_RATE=0 PRODUCER_COUNT=$N "$BPPIPE" run \
    "$BPPIPE_SOURCE_DIR/pipelines/producer.ini" -o source.ward.patients=300 2>"$t/prod.err"
check "producer exits 0" "[ $? = 0 ]"
topic_ids blood-pressure | sort >"$t/produced"
check "$N distinct readings on the topic" "[ \$(sort -u $t/produced | wc -l) = $N ]"

export WARD_DIR=$t/ward KAFKA_GROUP=$GROUP WARD_STATS_INTERVAL=0
archive=$t/ward/normal_cases
left=0 # temporary files the kills left
# Started in the background with exec, so that $! is bppipe itself; a short session so that
# the next member does not wait 45 s for the killed one to expire; small batches, so that many
# are committed between two kills.
ward_bg() {
    (exec "$BPPIPE" run "$BPPIPE_SOURCE_DIR/pipelines/ward.ini" \
        -o source.kafka.kafka.session.timeout.ms=6000 -o pipeline.batch_size=100 "$@") &
}
files() { find "$archive" -maxdepth 1 -type f ! -name '.*' 2>/dev/null | wc -l | tr -d ' '; }

# inspect OUT: writes the observation id of every file under a final name to OUT; prints
# "<files> <temporary files> <bad>" and, on standard error, what is wrong with each bad file.
inspect() {
    python3 - "$archive" "$1" <<'PY'
import datetime, hashlib, json, os, re, sys
folder, out = sys.argv[1], sys.argv[2]
def part(value, fallback):
    # plugins/sink-file/file_names.c, bp_name_part
    value = value or fallback
    raw = value.encode()
    if len(raw) <= 64 and re.fullmatch(rb"[A-Za-z0-9-][A-Za-z0-9.-]*", raw):
        return value
    ok = lambda c, i: chr(c).isascii() and (chr(c).isalnum() or c == ord("-") or (c == ord(".") and i))
    safe = "".join(chr(c) if ok(c, i) else "_" for i, c in enumerate(raw[:40]))
    return safe + "~" + hashlib.sha256(raw).hexdigest()[:20]
files = temps = bad = 0
with open(out, "w") as ids:
    for name in sorted(os.listdir(folder) if os.path.isdir(folder) else []):
        if name.startswith("."):
            temps += name.endswith(".tmp")
            continue
        files += 1
        try:
            with open(os.path.join(folder, name)) as f:
                doc = json.load(f)
            when = datetime.datetime.strptime(doc["@timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
            if doc.get("logical_id"):  # named by what it is a version of (docs/revisions.md)
                want = "obs_%s.json" % part(doc["logical_id"], "noid")
            else:
                want = "%s_%s_%s_%s.json" % (part(doc.get("patient_id"), "unknown"),
                                             part(doc.get("practitioner_id"), "none"),
                                             when.strftime("%Y%m%d_%H%M%S"),
                                             part(doc.get("stable_id"), "noid"))
            if want != name:
                raise ValueError("holds the document of " + want)
            ids.write(doc["observation_id"] + "\n")
        except (ValueError, KeyError) as e:
            bad += 1
            print("bad file %s: %s" % (name, e), file=sys.stderr)
print(files, temps, bad)
PY
}

# committed OUT: the ids the group has committed, to OUT: every reading but those a member of
# the group reads again from the committed offsets (kcat to the end, -e; it stores no offset,
# so it commits none, not even when it leaves).
committed() {
    kc -G "$GROUP" -X enable.auto.commit=false -X enable.auto.offset.store=false \
        -X auto.offset.reset=earliest \
        -X session.timeout.ms=6000 -e -f '%s\n' blood-pressure 2>"$t/kcat.err" |
        python3 -c '
import json, sys
for line in sys.stdin:
    if line.strip():
        print(json.loads(line).get("id"))' | sort -u >"$t/reread"
    comm -23 "$t/produced" "$t/reread" >"$1"
}

enough_or_gone() { [ "$(files)" -ge "$want" ] || ! kill -0 $pid 2>/dev/null; }
# The kill comes after a commit of this run returned, whatever the machine's speed (a fast ward
# wrote a quarter of the topic before its first commit, and "committed readings are archived"
# had nothing to check): each batch is committed once acknowledged, and the runner's debug line
# says when a commit returned.
commit_returned() { grep -q 'committed .* after its poll returned' "$t/run$round.err" 2>/dev/null ||
    ! kill -0 $pid 2>/dev/null; }
for round in $(seq 1 "$KILLS"); do
    ward_bg -o source.kafka.commit_interval_ms=0 -o pipeline.log_level=debug \
        2>"$t/run$round.err" >/dev/null
    pid=$!
    track $pid
    # a kill in each part of the topic: after about a quarter, a half, three quarters
    want=$((N * 3 / 4 * round / (KILLS + 1)))
    wait_until 200 commit_returned && wait_until 200 enough_or_gone
    kill -KILL $pid
    wait $pid 2>/dev/null
    read -r n temps bad < <(inspect "$t/at_kill$round" 2>"$t/bad$round")
    committed "$t/committed$round"
    echo "kill $round: $n files ($temps temporary), $(wc -l <"$t/committed$round") readings committed"
    left=$((left + temps))
    check "kill $round came mid-topic ($n files, wanted $want)" \
        "[ $n -ge $want ] && [ \$(wc -l <$t/committed$round) -lt $N ]"
    check "kill $round: every file under a final name is whole and named after its content" \
        "[ $bad = 0 ]"
    [ "$bad" = 0 ] || head -n 5 "$t/bad$round"
done

# Once more, killed when the ward is idle at the end of the topic: its last batch acknowledged and
# committed, no later batch to push anything out (an outcome reported before its files were in
# place is caught here, where no next batch hides it).
idle() { # the last three status lines: nothing in flight, no reading and no commit since
    grep '^bppipe: in ' "$1" | tail -n 3 | python3 -c '
import re, sys
seen = set()
for line in sys.stdin:
    m = re.match(r"bppipe: in (\d+) .* in-flight (\d+)", line)
    c = re.search(r" commits (\d+)", line)
    if not m or m.group(2) != "0" or not c:
        sys.exit(1)
    seen.add((m.group(1), c.group(1)))
sys.exit(0 if len(seen) == 1 else 1)' 2>/dev/null && [ "$(grep -c '^bppipe: in ' "$1")" -ge 3 ]
}
round=$((KILLS + 1))
WARD_STATS_INTERVAL=1 ward_bg 2>"$t/run$round.err" >/dev/null
pid=$!
track $pid
idle_or_gone() { idle "$t/run$round.err" || ! kill -0 $pid 2>/dev/null; }
wait_until_costly 200 idle_or_gone
check "the ward went idle at the end of the topic" "idle '$t/run$round.err'"
kill -KILL $pid
wait $pid 2>/dev/null
read -r n temps bad < <(inspect "$t/at_kill$round" 2>"$t/bad$round")
committed "$t/committed$round"
echo "kill $round (idle): $n files ($temps temporary), $(wc -l <"$t/committed$round") readings committed"
left=$((left + temps))
check "kill $round: every file under a final name is whole and named after its content" \
    "[ $bad = 0 ]"

ward_bg --summary-json "$t/last.json" 2>"$t/last.err" >/dev/null
pid=$!
track $pid
seen() { # every reading in Elasticsearch or in the archive
    { es_docs observation_id; inspect "$t/final" >/dev/null 2>&1; cat "$t/final"; } | sort -u
}
all_seen() { [ "$(seen | wc -l)" -ge "$N" ]; }
wait_until_costly 200 all_seen
kill -TERM $pid
wait $pid
check "the last run drains the topic and exits 0 on SIGTERM" "[ $? = 0 ]"
seen >"$t/seen"
check "every reading reached Elasticsearch or the archive" "cmp -s $t/seen $t/produced"
read -r n temps bad < <(inspect "$t/final" 2>"$t/bad_final")
check "after the last run: $n whole files, none torn or misnamed" "[ $bad = 0 ] && [ $n -gt 0 ]"
check "the temporary files the kills left were removed ($temps left)" "[ $temps = 0 ]"
# Where the filesystem has O_TMPFILE a file has no name at all until it is durable, and a kill
# leaves no temporary file; elsewhere it leaves ".NAME.tmp" files, which the restart removes.
if [ "$left" -gt 0 ]; then
    check "a restarted ward said it removed them" \
        "cat '$t'/run*.err '$t/last.err' | grep -q 'removed [0-9]* temporary file'"
fi
# The normal readings: all but the anomalies (the faker's readings all decode).
es_docs observation_id | sort -u >"$t/anomalies"
for round in $(seq 1 $((KILLS + 1))); do
    comm -23 "$t/committed$round" "$t/anomalies" >"$t/committed_normal$round"
    sort -u "$t/at_kill$round" >"$t/at_kill_u$round"
    missing=$(comm -23 "$t/committed_normal$round" "$t/at_kill_u$round" | wc -l)
    check "kill $round: the $(wc -l <"$t/committed_normal$round") committed normal readings were all in the archive ($missing missing)" \
        "[ -s $t/committed_normal$round ] && [ $missing = 0 ]"
done
[ $fail = 0 ] || tail -n 20 "$t/last.err"
exit $fail
