#!/usr/bin/env bash
# Golden documents: the exact bytes bppipe writes for a fixed input, frozen in
# tests/golden/expected/. Stable ids feed Elasticsearch _ids and archive file names, and the
# document bytes are what every store keeps: a change of one byte for the same input would
# duplicate documents in a hospital's store. This test fails on any such change.
#
# Run: ctest --test-dir build -R golden (or bash tests/golden/golden.sh from the top folder;
# BPPIPE defaults to build/bppipe there). Regenerate, only when a change of the bytes is
# intended, and say so in the commit:
#   GOLDEN_UPDATE=1 bash tests/golden/golden.sh   (or GOLDEN_UPDATE=1 ctest ... -R golden_documents)
# KEEP=1 keeps the work folder (the run's log, out/, the raw bulk bodies).
#
# Input (one `bppipe run`, one source-file reading the folder in/ recursively, in byte order of
# the paths; copied into a work folder so every dead letter's source.topic is a fixed relative
# path such as in/golden/hand.ndjson):
#   in/fhir-examples/   every *.json of tests/data/fhir-examples (real FHIR: Bundles, C-CDA
#                       conversions, non-BP resources that are skipped)
#   in/pipelines/readings.ndjson, in/e2e/ward-readings.ndjson
#   in/golden/          tests/golden/inputs: hand.ndjson (one case a line: not JSON, a blank
#                       line, one or no component, implausible values, ids of 320, 600 and
#                       1100 bytes and a 300-byte patient id, ids to percent-encode and to
#                       JSON-escape, non-ASCII text, no id (sha256: of the payload), amended
#                       without a version, a NUL in an id, kPa and decimal values, time zones, a
#                       pair, skipped resources, one patient's series for detector-trend);
#                       invalid-utf8.ndjson (invalid UTF-8 in a display, a CRLF line);
#                       bundle-no-ids.json (entries with no id and no fullUrl, hashed over
#                       cJSON's printing; fullUrls to encode; a skipped Condition with no id);
#                       not-json.json.
# Detectors: detector-rules, detector-logreg (models/bp_logreg.json), detector-trend (its state
# is keyed by patient and uses the readings' own times: deterministic for a fixed input).
# Sinks, each captured in expected/:
#   anomaly.txt, normal.txt, skipped.txt  sink-file NDJSON, routes anomaly, normal, skipped:
#                       every hourly file's name and its lines, in the order written
#   dead.txt            sink-file NDJSON, route invalid: file names and lines, the lines
#                       SORTED within each file (a reading a sink refuses is handed to the
#                       invalid lanes by that sink's thread, so where its line lands among the
#                       other batches' dead letters depends on timing)
#   archive.txt         sink-file per-record, route all: the sorted file names, then each
#                       file's bytes
#   dead-archive.txt    sink-file per-record, route invalid (invalid_<hash>.json names)
#   es-bulk.ndjson      sink-es, route all, against tests/es/es_emulator.py started with
#                       --bulk-log: the raw _bulk request bodies as sink-es sent them (not the
#                       emulator's re-serialised _source), cut into action+document pairs and
#                       sorted by the action line ({"create":{"_index":…,"_id":…}}), since
#                       the batches' requests may be cut differently (a request sent twice
#                       would show as a repeated pair); the 600-byte id is refused by sink-es
#                       itself and appears in the dead letters
#   summary.txt         the run's books (readings in, per route, skipped by reason, rejected)
#                       and the number of documents per output above
# Everything else is compared byte for byte. The output is the same whatever decode_threads
# (GOLDEN_DECODE_THREADS, default 3; 1 to 7 checked) and batch_size (1 to 500 checked).
#
# The two dead letters of not-json.json (the same payload at offset 0, resource_index 0 and 1)
# get two per-record names (bp_invalid_file_name hashes the payload, the source offset and the
# resource index): dead-archive/ holds 25 files for 25 dead letters (24 before the fix, when the
# resource index was not in the name and one of the two was lost).
#
# The wall clock. A document with no time of its own (a dead letter such as "not JSON", and
# every skipped resource) is stamped with the clock (src/pipeline/document.c: @timestamp = now),
# sink-file names its hourly file from the clock, and a per-record dead letter with a patient
# but no time is named with the clock's second. bppipe has no knob to fix the clock, so only these are normalised, by the
# python step below: an @timestamp, an hourly file name or a per-record name's
# YYYYmmdd_HHMMSS that falls inside the run's own wall-clock interval (with a second of slack)
# becomes <wall-clock>; every input time is fixed and far from any run, so a time derived from
# the input is never touched, and a reading that lost its own time to the clock shows up as a
# difference. Hourly files that only differ by the clock's hour (a run across an hour) are
# joined in name order, which is the order they were written in.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BPPIPE_SOURCE_DIR=$(cd "${BPPIPE_SOURCE_DIR:-$here/../..}" && pwd)
BPPIPE_TEST_DATA=$(cd "${BPPIPE_TEST_DATA:-$BPPIPE_SOURCE_DIR/tests/data}" && pwd)
BPPIPE=${BPPIPE:-$BPPIPE_SOURCE_DIR/build/bppipe}
[ -x "$BPPIPE" ] || { echo "FAIL no bppipe executable at $BPPIPE (set BPPIPE)"; exit 1; }
BPPIPE=$(cd "$(dirname "$BPPIPE")" && pwd)/$(basename "$BPPIPE") # the run happens elsewhere
export BPPIPE_SOURCE_DIR
py=/usr/bin/python3
[ -x "$py" ] || py=python3
expected=$here/expected
t=$(mktemp -d)
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    es_stop_all
    if [ -n "${KEEP:-}" ]; then echo "kept $t"; else rm -rf "$t"; fi
}
trap cleanup EXIT
# shellcheck source-path=SCRIPTDIR source=../es/lib.sh
. "$BPPIPE_SOURCE_DIR/tests/es/lib.sh"

# The input, under fixed relative paths.
mkdir -p "$t/in/fhir-examples" "$t/in/pipelines" "$t/in/e2e" "$t/in/golden"
cp "$BPPIPE_TEST_DATA"/fhir-examples/*.json "$t/in/fhir-examples/"
cp "$BPPIPE_SOURCE_DIR/tests/pipelines/readings.ndjson" "$t/in/pipelines/"
cp "$BPPIPE_SOURCE_DIR/tests/e2e/ward-readings.ndjson" "$t/in/e2e/"
cp "$here"/inputs/*.json "$here"/inputs/*.ndjson "$t/in/golden/"

es_start golden --bulk-log "$t/es-bulk.raw"
port=${ES_PORT_golden:-} # set by es_start
[ -n "$port" ] || { echo "FAIL the Elasticsearch emulator did not start"; exit 1; }

cat >"$t/p.ini" <<INI
[pipeline]
batch_size = 16
decode_threads = ${GOLDEN_DECODE_THREADS:-3}
stats_interval = 0
retry_initial_ms = 1
retry_max_ms = 20
[source.in]
plugin = source-file
path = in
recursive = true
[detector.rules]
plugin = detector-rules
[detector.ml]
plugin = detector-logreg
model = $BPPIPE_SOURCE_DIR/models/bp_logreg.json
required = true
[detector.trend]
plugin = detector-trend
[sink.anomaly]
plugin = sink-file
route = anomaly
path = out/anomaly
[sink.normal]
plugin = sink-file
route = normal
path = out/normal
[sink.skipped]
plugin = sink-file
route = skipped
path = out/skipped
[sink.dead]
plugin = sink-file
route = invalid
path = out/dead
[sink.archive]
plugin = sink-file
route = all
path = out/archive
layout = per-record
[sink.dead-archive]
plugin = sink-file
route = invalid
path = out/dead-archive
layout = per-record
[sink.es]
plugin = sink-es
route = all
url = http://127.0.0.1:$port
INI

t0=$(date +%s%3N)
(cd "$t" && timeout -k 5 60 "$BPPIPE" run p.ini --summary-json summary.json) >"$t/run.log" 2>&1
st=$?
t1=$(date +%s%3N)
es_stop_all
if [ "$st" != 0 ]; then
    echo "FAIL bppipe run exited $st:"
    tail -n 20 "$t/run.log"
    exit 1
fi

mkdir -p "$t/actual"
"$py" - "$t" "$t0" "$t1" <<'PY' || exit 1
import calendar, json, os, re, sys, time

t, t0, t1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = os.path.join(t, "actual")
CLOCK = b"<wall-clock>"
lo_ms, hi_ms = t0 - 1000, t1 + 1000  # the run's wall-clock interval, a second of slack


def utc_ms(text, fmt):
    return calendar.timegm(time.strptime(text, fmt)) * 1000


STAMP = re.compile(rb'("@timestamp": ?")(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z"')


def stamps(data):
    """@timestamp values inside the run's interval become <wall-clock>; nothing else moves."""
    def one(m):
        ms = utc_ms(m.group(2).decode(), "%Y-%m-%dT%H:%M:%S") + int(m.group(3))
        return m.group(1) + CLOCK + b'"' if lo_ms <= ms <= hi_ms else m.group(0)
    return STAMP.sub(one, data)


def hour_name(name):
    m = re.fullmatch(r"bp-(\d{8}T\d\d)\.ndjson", name)
    if m:
        start = utc_ms(m.group(1), "%Y%m%dT%H")
        if start <= hi_ms and start + 3600 * 1000 > lo_ms:
            return "bp-<wall-clock>.ndjson"
    return name


def record_name(name):
    def one(m):
        s = utc_ms(m.group(0), "%Y%m%d_%H%M%S")
        return "<wall-clock>" if lo_ms - 1000 <= s <= hi_ms else m.group(0)
    return re.sub(r"\d{8}_\d{6}", one, name)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def listing(folder):
    d = os.path.join(t, "out", folder)
    names = sorted(n for n in os.listdir(d)) if os.path.isdir(d) else []
    hidden = [n for n in names if n.startswith(".")]
    if hidden:
        sys.exit("FAIL %s holds temporary files: %s" % (folder, hidden))
    return d, names


counts = {}


def ndjson(folder, sort_lines=False):
    d, names = listing(folder)
    files = {}
    for n in names:  # byte order of the real names: an earlier hour first
        files.setdefault(hour_name(n), []).append(read(os.path.join(d, n)))
    blob, docs = [], 0
    for n in sorted(files):
        data = b"".join(files[n])
        if data and not data.endswith(b"\n"):
            sys.exit("FAIL %s/%s does not end with a newline" % (folder, n))
        lines = [stamps(l) for l in data.split(b"\n")[:-1]]
        if sort_lines:
            lines.sort()
        docs += len(lines)
        blob.append(b"== file " + n.encode() + b" (%d lines)\n" % len(lines))
        blob.extend(l + b"\n" for l in lines)
    counts[folder] = (len(files), docs)
    with open(os.path.join(out, folder + ".txt"), "wb") as f:
        f.write(b"".join(blob))


def per_record(folder):
    d, names = listing(folder)
    shown = [record_name(n) for n in names]
    blob = [b"== %d files, sorted by name\n" % len(names)]
    blob.extend(s.encode() + b"\n" for s in sorted(shown))
    for n, s in sorted(zip(names, shown), key=lambda p: p[1]):
        blob.append(b"== file " + s.encode() + b"\n")
        blob.append(stamps(read(os.path.join(d, n))))
    counts[folder] = (len(names), len(names))
    with open(os.path.join(out, folder + ".txt"), "wb") as f:
        f.write(b"".join(blob))


for folder in ("anomaly", "normal", "skipped"):
    ndjson(folder)
ndjson("dead", sort_lines=True)
per_record("archive")
per_record("dead-archive")

# Elasticsearch: the raw bulk bodies, as action + document pairs sorted by the action line.
raw = read(os.path.join(t, "es-bulk.raw")) if os.path.exists(os.path.join(t, "es-bulk.raw")) else b""
lines = raw.split(b"\n")
if lines and lines[-1] == b"":
    lines.pop()
# A delete (a retraction) is an action line alone; every other action is followed by its
# document.
pairs, i = [], 0
while i < len(lines):
    (verb, _), = json.loads(lines[i]).items()
    if verb == "delete":
        pairs.append((lines[i], None))
        i += 1
    elif i + 1 < len(lines):
        pairs.append((lines[i], stamps(lines[i + 1])))
        i += 2
    else:
        sys.exit("FAIL a bulk body ends with an action and no document")
pairs.sort(key=lambda p: (p[0], p[1] or b""))
ids = set()
for action, _ in pairs:
    meta = json.loads(action)
    (verb, m), = meta.items()
    ids.add((m["_index"], m["_id"]))
with open(os.path.join(out, "es-bulk.ndjson"), "wb") as f:
    f.write(b"".join(a + b"\n" + (d + b"\n" if d is not None else b"") for a, d in pairs))

s = json.load(open(os.path.join(t, "summary.json")))
# The books (not the times, polls, retries or request counts, which depend on the run).
keep = ("payloads", "readings_in", "anomaly", "normal", "invalid", "in_flight",
        "invalid_unrouted", "sink_rejected", "skipped", "skipped_by_reason", "invalid_by_reason")
with open(os.path.join(out, "summary.txt"), "w") as f:
    f.write("books: %s\n" % json.dumps({k: s.get(k) for k in keep}, indent=1, sort_keys=True))
    for name, sink in sorted(s["sinks"].items()):
        f.write("%-17s route %-7s delivered %d, rejected %d\n"
                % (name, sink["route"], sink["delivered"], sink["rejected"]))
    for folder in ("anomaly", "normal", "skipped", "dead"):
        f.write("%-13s NDJSON: %d file(s), %d document(s)\n" % (folder, *counts[folder]))
    for folder in ("archive", "dead-archive"):
        f.write("%-13s per-record: %d file(s)\n" % (folder, counts[folder][0]))
    f.write("es            bulk: %d document(s), %d distinct (index, _id), %d index(es)\n"
            % (len(pairs), len(ids), len({i for i, _ in ids})))
PY

if [ -n "${GOLDEN_UPDATE:-}" ]; then
    rm -rf "$expected"
    mkdir -p "$expected"
    cp "$t"/actual/* "$expected/"
    echo "golden: expected output rewritten in tests/golden/expected/ ($(du -sk "$expected" | cut -f1) kB)"
    cat "$expected/summary.txt"
    exit 0
fi

if diff -r -u -F '^== ' "$expected" "$t/actual" >"$t/diff"; then
    echo "ok   golden documents: every output is byte for byte the expected one"
    exit 0
fi
echo "FAIL golden documents differ from tests/golden/expected/ (first lines of the diff below)."
echo "     If the change is intended, regenerate with GOLDEN_UPDATE=1 and say so in the commit."
head -n 40 "$t/diff" | cut -c1-400
exit 1
