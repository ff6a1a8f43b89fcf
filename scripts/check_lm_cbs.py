#!/usr/bin/python3
"""Recomputes the CBS per (model size N, data budget D) of an LM study file from its stored curves,
independently of cbs's C++ code, and compares it with the stored table /cbs/estimates.

    /usr/bin/python3 scripts/check_lm_cbs.py data/results/lm_cpu_study.h5 [--rtol 0.01]

The path (docs/results-lm.md, "Checking the numbers"):
  1. every run under /runs serves the budgets in its `data.budgets` attribute (or its one
     `data.samples` budget): for budget D, S_D = ceil(ceil(D / context) / batch) and the curve is
     cut after ceil(horizon * S_D) steps;
  2. groups are (model.size, D); the target R_opt(D) is the lowest `risk_ewa` (the best of the
     tracked EWA decays at each evaluation) reached at any step <= S_D, over every run of the group;
  3. f(B) = fewest steps to the target over the runs at batch B, the first evaluation at or below
     the target, log-log interpolated with the evaluation before it;
  4. the fit f(B) = a + b / B by least squares on log f (a 1-D search over c = b / a, with log a
     solved in closed form for each c, and the two boundaries b = 0 and a = 0), and
     B* = b / (5 a) + 1.2 B_opt, B_opt = the smallest batch size with a finite f.
Exit 0 when the targets, the steps and B* agree with the stored table (targets and steps to 1e-9
relative, B* to --rtol, default 1%: the fits minimise the same objective by different methods),
1 when they do not, 2 on a bad file, 77 when h5py or numpy are missing (CTest: skipped).
"""
import math
import sys

try:
    import h5py
    import numpy as np
except ImportError as e:  # pragma: no cover
    print(f"check_lm_cbs: {e}: needs Debian's python3-h5py and python3-numpy", file=sys.stderr)
    sys.exit(77)


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def served_budgets(attrs):
    raw = text(attrs.get("data.budgets", "[]")).strip().strip('"')
    items = [s.strip() for s in raw.strip("[]").split(",") if s.strip()]
    if items:
        return [int(float(s)) for s in items]
    return [int(attrs["data.samples"]) * int(attrs["model.context"])]


def steps_to_target(steps, risk, target):
    for i in range(len(steps)):
        if not risk[i] <= target:
            continue
        if i > 0 and risk[i - 1] > target and risk[i] > 0:
            s0, s1 = math.log(steps[i - 1]), math.log(steps[i])
            r0, r1 = math.log(risk[i - 1]), math.log(risk[i])
            return math.exp(s0 + (r0 - math.log(target)) / (r0 - r1) * (s1 - s0))
        return float(steps[i])
    return math.inf


def fit_a_b(batch, steps):
    """Least squares of log f on log(a + b/B): scan c = b/a on a log grid, refine, boundaries."""
    B = np.asarray(batch, float)
    y = np.log(np.asarray(steps, float))

    def objective(c):  # best log a for this c, and the residual sum of squares
        g = np.log1p(c / B)
        log_a = np.mean(y - g)
        return float(np.sum((y - log_a - g) ** 2)), math.exp(log_a)

    grid = np.exp(np.linspace(math.log(1e-6 * B.min()), math.log(1e6 * B.max()), 4001))
    values = [objective(c)[0] for c in grid]
    k = int(np.argmin(values))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    for _ in range(200):  # golden section in log c
        m1 = math.exp(math.log(lo) + 0.382 * (math.log(hi) - math.log(lo)))
        m2 = math.exp(math.log(lo) + 0.618 * (math.log(hi) - math.log(lo)))
        if objective(m1)[0] < objective(m2)[0]:
            hi = m2
        else:
            lo = m1
    c = math.sqrt(lo * hi)
    best, a = objective(c)
    b = c * a
    constant = float(np.sum((y - y.mean()) ** 2))  # b = 0
    pure_log_b = float(np.mean(y + np.log(B)))
    pure = float(np.sum((y + np.log(B) - pure_log_b) ** 2))  # a = 0
    if constant <= best * (1 + 1e-9):
        return math.exp(y.mean()), 0.0
    if pure <= best * (1 + 1e-9):
        return 0.0, math.exp(pure_log_b)
    return a, b


def recompute(f):
    groups = {}  # (M, D) -> list of (batch, step, risk_ewa, budget_step)
    for run_id, run in f["runs"].items():
        attrs = dict(run.attrs)
        diverged = int(attrs.get("diverged", 0)) != 0
        diverged_step = int(attrs.get("diverged_step", -1))
        context, batch = int(attrs["model.context"]), int(attrs["batch"])
        horizon = float(attrs.get("data.horizon", 1.0))
        step = np.asarray(run["step"][:], np.int64)
        risk = np.asarray(run["risk_ewa"][:], float)
        for D in served_budgets(attrs):
            sb = -(-(-(-D // context)) // batch)
            last = math.ceil(horizon * sb)
            keep = step <= last
            bad = diverged and not diverged_step > last
            key = (float(attrs["model.size"]), float(-(-D // context) * context))
            groups.setdefault(key, []).append((batch, step[keep], risk[keep], sb, bad))
    out = {}
    for key, runs in groups.items():
        target = math.inf
        for batch, step, risk, sb, bad in runs:
            if bad:
                continue
            r = risk[(step <= sb) & np.isfinite(risk)]
            if r.size:
                target = min(target, float(r.min()))
        best = {}
        for batch, step, risk, sb, bad in runs:
            s = math.inf if bad or not math.isfinite(target) else steps_to_target(step, risk, target)
            best[batch] = min(best.get(batch, math.inf), s)
        finite = sorted((b, s) for b, s in best.items() if math.isfinite(s))
        cbs = math.nan
        if len(finite) >= 2:
            a, b = fit_a_b([p[0] for p in finite], [p[1] for p in finite])
            cbs = math.inf if a == 0 else b / (5 * a) + 1.2 * finite[0][0]
        out[key] = {"target": target, "steps": best, "cbs": cbs}
    return out


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) >= 2 else 2
    rtol = 0.01
    if "--rtol" in argv:
        rtol = float(argv[argv.index("--rtol") + 1])
    try:
        f = h5py.File(argv[1], "r")
        est = f["cbs/estimates"]
        steps_table = f["cbs/steps"]
    except (OSError, KeyError) as e:
        print(f"check_lm_cbs: {argv[1]}: {e}", file=sys.stderr)
        return 2
    mine = recompute(f)
    failures = 0
    print(f"{'M':>10} {'D':>10} {'R_opt':>9} {'stored CBS':>11} {'recomputed':>11}  verdict")
    rows = zip(est["series"][:], est["M"][:], est["n"][:], est["target"][:], est["cbs_study"][:])
    seen = 0
    for series, M, n, target, cbs in rows:
        if text(series) != "lm":
            continue
        seen += 1
        got = mine.get((float(M), float(n)))
        if got is None:
            print(f"{M:>10.4g} {n:>10.4g}: no runs serve this group")
            failures += 1
            continue
        ok = abs(got["target"] - target) <= 1e-9 * abs(target)
        for M2, n2, B, s in zip(steps_table["M"][:], steps_table["n"][:], steps_table["batch"][:],
                                steps_table["steps"][:]):
            if (M2, n2) != (M, n):
                continue
            mine_s = got["steps"].get(int(B), math.inf)
            if math.isfinite(s) or math.isfinite(mine_s):
                ok = ok and abs(mine_s - s) <= 1e-9 * abs(s)
        both_nan = math.isnan(cbs) and math.isnan(got["cbs"])
        if not both_nan and float(cbs) > 0:
            ok = ok and abs(got["cbs"] - cbs) <= rtol * abs(cbs)
        failures += 0 if ok else 1
        print(f"{M:>10.4g} {n:>10.4g} {target:>9.4f} {cbs:>11.4g} {got['cbs']:>11.4g}  "
              f"{'agrees' if ok else 'DISAGREES'}")
    if seen == 0:
        print("check_lm_cbs: no LM groups in /cbs/estimates", file=sys.stderr)
        return 2
    print(f"check_lm_cbs: {seen - failures}/{seen} groups agree")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
