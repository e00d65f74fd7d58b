#!/usr/bin/env bash
# bppipe train against scikit-learn (Debian's python3-sklearn under /usr/bin/python3): the same
# rows give the same probabilities to 1e-4 for both feature sets and a user CSV; the report's
# numbers are recomputed independently; the same seed gives a byte-identical file; the shipped
# model is what its documented command produces.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
PY=/usr/bin/python3
$PY -c "import sklearn" 2>/dev/null || { echo "FAIL python3-sklearn is not installed (scripts/setup-debian.sh installs it)"; exit 1; }
export SOURCE_DATE_EPOCH=1795000000

cat >"$t/compare.py" <<'PY'
import csv, json, math, sys
import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.linear_model import LogisticRegression
from sklearn import metrics

model = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
s = np.array([float(r["systolic"]) for r in rows]); d = np.array([float(r["diastolic"]) for r in rows])
y = np.array([int(r["label"]) for r in rows]); test = np.array([r["split"] == "test" for r in rows])

def features(kind):  # written from docs/model.md, independently of the C code
    if kind == "basic":
        return np.column_stack([s, d])
    u = (s - 115) / 25; v = (d - 75) / 15
    return np.column_stack([s, d, u**2, v**2, u**4, v**4])

X = features(model["feature_set"])
train = ~test if test.any() else np.ones(len(y), bool)
# The optimum itself: a tight tolerance, so both sides reach the same minimiser.
ref = make_pipeline(StandardScaler(), LogisticRegression(C=model["training"]["C"], tol=1e-12, max_iter=100000))
ref.fit(X[train], y[train])
z = (X - np.array(model["mean"])) / np.array(model["scale"])
ours = 1 / (1 + np.exp(-(z @ np.array(model["coefficients"]) + model["intercept"])))
theirs = ref.predict_proba(X)[:, 1]
worst = float(np.max(np.abs(ours - theirs)))
print(f"max |p_bppipe - p_sklearn| = {worst:.3g} over {len(y)} rows")
ok = worst <= 1e-4

# the report, recomputed
ev = test if test.any() else train
pred = (ours[ev] >= model["threshold"]).astype(int)
m = model["metrics"]
p, r, f, sup = metrics.precision_recall_fscore_support(y[ev], pred, zero_division=0)
checks = {
    "accuracy": (m["accuracy"], metrics.accuracy_score(y[ev], pred)),
    "roc_auc": (m["roc_auc"], metrics.roc_auc_score(y[ev], ours[ev])),
    "normal.precision": (m["normal"]["precision"], p[0]), "anomaly.recall": (m["anomaly"]["recall"], r[1]),
    "anomaly.f1": (m["anomaly"]["f1"], f[1]), "anomaly.support": (m["anomaly"]["support"], sup[1]),
    "macro f1": (m["macro_avg"]["f1"], f.mean()),
    "weighted f1": (m["weighted_avg"]["f1"], np.average(f, weights=sup)),
}
for name, (a, b) in checks.items():
    if abs(a - b) > 1e-9:
        print(f"metric {name}: model file {a}, recomputed {b}"); ok = False
cm = metrics.confusion_matrix(y[ev], pred).tolist()
if cm != m["confusion_matrix"]:
    print(f"confusion matrix: {m['confusion_matrix']} vs {cm}"); ok = False
print("roc_auc", m["roc_auc"])
sys.exit(0 if ok else 1)
PY

for fs in basic clinical; do
    "$BPPIPE" train --out "$t/$fs.json" --features $fs --seed 42 --dump-data "$t/$fs.csv" >"$t/$fs.report" 2>&1
    check "$fs: train exits 0" "[ $? = 0 ]"
    $PY "$t/compare.py" "$t/$fs.json" "$t/$fs.csv" >"$t/$fs.cmp" 2>&1
    check "$fs: probabilities agree with scikit-learn to 1e-4 and the report recomputes" "[ $? = 0 ]"
    cat "$t/$fs.cmp"
    check "$fs: report lists metrics, iterations and gradient norm" "grep -q 'weighted avg' '$t/$fs.report' && grep -q 'ROC AUC' '$t/$fs.report' && grep -q 'Newton iterations, final gradient norm' '$t/$fs.report'"
done
check "clinical features reach ROC AUC >= 0.99" "python3 -c 'import json,sys; sys.exit(0 if json.load(open(\"$t/clinical.json\"))[\"metrics\"][\"roc_auc\"] >= 0.99 else 1)'"

# the same seed: a byte-identical file; another seed: another file
"$BPPIPE" train --out "$t/again.json" --features clinical --seed 42 >/dev/null 2>&1
check "same seed, byte-identical model" "cmp -s '$t/clinical.json' '$t/again.json'"
"$BPPIPE" train --out "$t/other.json" --features clinical --seed 43 >/dev/null 2>&1
check "another seed, another model" "! cmp -s '$t/clinical.json' '$t/other.json'"

# a user's CSV (labels by another rule), trained on every row
$PY - "$t/user.csv" <<'PY'
import random, sys
r = random.Random(5)
with open(sys.argv[1], "w") as f:
    f.write("systolic,diastolic,label\n")
    for _ in range(3000):
        s, d = r.gauss(125, 18), r.gauss(78, 12)
        f.write(f"{s:.3f},{d:.3f},{int(s + 0.5 * d > 175 or r.random() < 0.03)}\n")
PY
"$BPPIPE" train --out "$t/user.json" --data "$t/user.csv" --test-size 0 --features basic --dump-data "$t/user-dump.csv" >"$t/user.report" 2>&1
check "user CSV trains" "[ $? = 0 ] && grep -q 'TRAINING data' '$t/user.report'"
$PY "$t/compare.py" "$t/user.json" "$t/user-dump.csv" >"$t/user.cmp" 2>&1
check "user CSV agrees with scikit-learn" "[ $? = 0 ]"
cat "$t/user.cmp"
printf 'systolic,diastolic,label\n120,80,0\n130,x,1\n140,90,2\n150,95\n' >"$t/bad.csv"
"$BPPIPE" train --out "$t/bad.json" --data "$t/bad.csv" >"$t/bad.out" 2>&1
check "malformed lines are refused with their numbers" "[ $? = 2 ] && grep -q 'bad.csv:3:' '$t/bad.out' && grep -q 'bad.csv:4:' '$t/bad.out' && grep -q 'bad.csv:5:' '$t/bad.out' && [ ! -e '$t/bad.json' ]"

# the shipped model is exactly what models/README.md's command produces
cmd=$(grep -m1 '^SOURCE_DATE_EPOCH=.*bppipe train' "$BPPIPE_SOURCE_DIR/models/README.md")
check "models/README.md documents the command" "[ -n \"\$cmd\" ]"
(cd "$t" && eval "${cmd/bppipe train/\"$BPPIPE\" train} --out '$t/shipped.json'" >/dev/null 2>&1)
check "retraining reproduces models/bp_logreg.json byte for byte" "cmp -s '$t/shipped.json' '$BPPIPE_SOURCE_DIR/models/bp_logreg.json'"
exit $fail
