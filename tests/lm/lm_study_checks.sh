#!/usr/bin/env bash
# CTest checks of `cbs run` on an LM study whose budgets share runs (tests/lm/lm_budgets_tiny.toml):
#   check   scripts/check_lm_cbs.py recomputes the stored CBS table from the curves (exit 0) and
#           catches a tampered table (exit 1); `cbs measure` of the file agrees with `cbs run`;
#   report  the main job's report (scripts/main-report.sh) with a committed-like LM study file
#           beside the main study shows the LM figures and judges both LM claims;
#   resume  a `cbs run` killed (SIGKILL) after some runs finished, then rerun, gives the same
#           runs and tables, bit for bit, as an uninterrupted run;
#   advise  `cbs advise --from` the study file forecasts what numpy computes from the file's
#           /cbs/estimates (least squares in logs, t prediction interval) and /fits/lm.
# Usage: lm_study_checks.sh MODE CBS SOURCE_DIR. Exit 77 (skipped) without h5py/numpy.
set -euo pipefail
mode="$1" cbs="$2" src="$3"
py=/usr/bin/python3
"$py" -c "import h5py, numpy" 2>/dev/null || { echo "h5py/numpy missing: skipped"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$src" # the study's shard paths are relative to the source tree
study=tests/lm/lm_budgets_tiny.toml
case "$mode" in
check)
    "$cbs" run "$study" --out "$work/lm.h5" >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }
    "$py" scripts/check_lm_cbs.py "$work/lm.h5"
    "$py" - "$work/lm.h5" <<'PY'
import sys, h5py
t = h5py.File(sys.argv[1], "r")["cbs/lm_sittings"]
assert t["trainings_run"][()].tolist() == [16.0], t["trainings_run"][()]
assert t.attrs["total_seconds"] > 0 and len(t.attrs["train_fnv1a"]) == 16, dict(t.attrs)
assert t["backend"][0] in (b"cpu", "cpu"), t["backend"][()]
root = h5py.File(sys.argv[1], "r").attrs
assert root["lm_study_wall_seconds"] == t.attrs["total_seconds"], dict(root)
assert root["lm_study_sittings"] == 1 and root["backend"] == "cpu", dict(root)
assert all(root[k] == t.attrs[k] for k in ("train_fnv1a", "val_fnv1a", "tokenizer_fnv1a"))
assert root["machine_cores"] >= 1 and root["machine_cpu"] and root["commits"], dict(root)
PY
    # `cbs measure` on the same file serves the shared budgets as `cbs run` did.
    "$cbs" measure "$work/lm.h5" --json >"$work/measure.json"
    "$py" - "$work/lm.h5" "$work/measure.json" <<'PY'
import json, sys, h5py
est = h5py.File(sys.argv[1], "r")["cbs/estimates"]
stored = {g.decode(): (t, c) for g, t, c in zip(est["group"][()], est["target"][()],
                                                 est["cbs_study"][()])}
groups = json.load(open(sys.argv[2]))["groups"]
assert len(groups) == len(stored) == 6, (len(groups), len(stored))
for g in groups:
    t, c = stored[g["group"]]
    assert g["target"] == t and g["cbs"]["study"] == c, (g["group"], g["target"], t, c)
print("cbs measure agrees with cbs run on", len(groups), "groups")
PY
    cp "$work/lm.h5" "$work/tampered.h5"
    "$py" - "$work/tampered.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    d = f["cbs/estimates/cbs_study"]
    v = d[()]
    v[0] *= 1.5
    d[...] = v
PY
    rc=0
    "$py" scripts/check_lm_cbs.py "$work/tampered.h5" >"$work/tampered.log" || rc=$?
    cat "$work/tampered.log"
    [ "$rc" = 1 ] || { echo "a tampered CBS table was not caught (exit $rc)"; exit 1; }
    grep -q DISAGREES "$work/tampered.log"
    ;;
report)
    mkdir -p "$work/committed"
    "$cbs" run "$study" --out "$work/committed/lm_cpu_study.h5" >"$work/log" 2>&1 ||
        { cat "$work/log"; exit 1; }
    "$cbs" simulate --set steps=50 --out "$work/study.h5" >/dev/null
    scripts/main-report.sh "$cbs" "$work/study.h5" "$work/committed" "$work/report"
    "$py" - "$work/report" <<'PY'
import json, os, sys
out = sys.argv[1]
d = json.load(open(os.path.join(out, "claims.json")))
for fig in ("lm_steps_vs_batch.png", "lm_cbs_vs_D.png", "lm_cbs_vs_N.png",
            "lm_validation_curves.png"):
    assert fig in d["figures"], (fig, d["figures"])
    assert os.path.getsize(os.path.join(out, fig)) > 1000, fig
for claim in ("LM CBS grows with data", "LM CBS flat in model size"):
    rows = [c for c in d["claims"] if c["claim"] == claim]
    assert rows and all(c["verdict"] != "no data" for c in rows), (claim, rows)
    assert all("lm_cpu_study.h5" in c["where"] for c in rows), rows
md = open(os.path.join(out, "report.md")).read()
assert "study.h5" in md and "lm_cpu_study.h5" in md
print("report: LM figures and claims present:", [c["verdict"] for c in d["claims"]])
PY
    ;;
resume)
    "$cbs" run "$study" --out "$work/whole.h5" >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }
    "$cbs" run "$study" --out "$work/killed.h5" >"$work/log2" 2>&1 &
    pid=$!
    for _ in $(seq 1 600); do # until some runs are in the journal, at most 60 s
        n=$( (ls "$work/killed.h5.journal" 2>/dev/null || true) | wc -l)
        [ "$n" -ge 3 ] && break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || { echo "the run finished before the kill: nothing tested"; exit 1; }
    wait "$pid" 2>/dev/null || true
    # Finished runs: those in the journal plus those a checkpoint already moved into the file.
    n=$("$py" - "$work/killed.h5" <<'PY'
import os, sys, h5py
ids = set()
if os.path.exists(sys.argv[1]):
    with h5py.File(sys.argv[1], "r") as f:
        ids |= set(f["runs"]) if "runs" in f else set()
journal = sys.argv[1] + ".journal"
if os.path.isdir(journal):
    ids |= {name[:-3] for name in os.listdir(journal) if name.endswith(".h5")}
print(len(ids))
PY
)
    echo "killed with $n runs finished"
    [ "$n" -lt 16 ] || { echo "all runs had finished before the kill: nothing tested"; exit 1; }
    "$cbs" run "$study" --out "$work/killed.h5" >"$work/log3" 2>&1 || { cat "$work/log3"; exit 1; }
    grep -q "16 trainings ($((16 - n)) run now)" "$work/log3" ||
        { echo "the rerun did not skip the $n finished runs:"; cat "$work/log3"; exit 1; }
    "$py" - "$work/whole.h5" "$work/killed.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert sorted(a["runs"]) == sorted(b["runs"])
for r in a["runs"]:
    for k in a["runs"][r]:
        assert np.array_equal(a["runs"][r][k][()], b["runs"][r][k][()]), (r, k)
for t in ("cbs/estimates", "cbs/steps", "fits/lm", "fits/cbs"):
    for c in a[t]:
        x, y = a[t][c][()], b[t][c][()]
        same = np.array_equal(x, y) if x.dtype.kind in "OSU" else \
            np.array_equal(x, y, equal_nan=True)
        assert same, (t, c, x, y)
print("resume: runs and tables bit-identical to the uninterrupted run")
PY
    ;;
advise)
    "$cbs" run "$study" --out "$work/lm.h5" >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }
    for point in "8000 4096" "20000 16384"; do
        set -- $point
        "$cbs" advise --params "$1" --tokens "$2" --from "$work/lm.h5" --json >"$work/advise_$1.json"
    done
    "$py" - "$work/lm.h5" "$work"/advise_8000.json "$work"/advise_20000.json <<'PY'
import json, sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
est = f["cbs/estimates"]
keep = (est["series"].asstr()[()] == "lm") & np.isfinite(est["cbs_study"][()]) & \
    (est["cbs_study"][()] > 0)
d, n, y = est["n"][()][keep], est["M"][()][keep], est["cbs_study"][()][keep]
X = np.column_stack([np.ones(len(y)), np.log(d), np.log(n)])
beta, *_ = np.linalg.lstsq(X, np.log(y), rcond=None)
dof = len(y) - 3
assert dof >= 1, dof
s2 = np.sum((np.log(y) - X @ beta) ** 2) / dof
inv = np.linalg.inv(X.T @ X)
# t(0.975, dof) for dof 1..10 (from scipy.stats.t.ppf, written here: scipy is not a dependency)
t = [12.706204736432095, 4.302652729911275, 3.182446305284263, 2.7764451051977987,
     2.5705818366147395, 2.4469118487916806, 2.3646242510102993, 2.3060041350333704,
     2.2621571627409915, 2.2281388519649385][dof - 1]
fits = f["fits/lm"]
row = list(fits["variable"].asstr()[()]).index("joint")
assert np.isclose(fits["c"][row], np.exp(beta[0]), rtol=1e-9), (fits["c"][row], beta)
assert np.isclose(fits["exponent"][row], beta[1], rtol=1e-9, atol=1e-12)
assert np.isclose(fits["gamma"][row], beta[2], rtol=1e-9, atol=1e-12)
context = {f["runs"][r].attrs["model.context"] for r in f["runs"]}
assert len(context) == 1, context
context = float(context.pop())
for path in sys.argv[2:]:
    a = json.load(open(path))
    x0 = np.array([1, np.log(a["tokens"]), np.log(a["params"])])
    value = np.exp(x0 @ beta)
    half = t * np.sqrt(s2 * (1 + x0 @ inv @ x0))
    for key, want in (("cbs_sequences", value), ("cbs_sequences_low", value * np.exp(-half)),
                      ("cbs_sequences_high", value * np.exp(half))):
        assert np.isclose(a[key], want, rtol=1e-9), (path, key, a[key], want)
    assert a["context"] == context and np.isclose(a["cbs_tokens"], value * context, rtol=1e-9)
    assert a["law"]["form"] == "joint" and a["source"]["kind"] == "study", a
    print(f"advise at N={a['params']:g}, D={a['tokens']:g}: {a['cbs_sequences']:.4g} "
          f"[{a['cbs_sequences_low']:.4g}, {a['cbs_sequences_high']:.4g}] sequences of "
          f"{context:g} tokens, as numpy computes from the file")
PY
    ;;
*) echo "unknown mode $mode"; exit 2 ;;
esac
