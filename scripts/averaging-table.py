#!/usr/bin/python3
"""Exponent table of the averaging study (issue 17) from results/averaging-<series>[-deep].h5.

Per (a, b) and family: the study's CBS estimate per n (the deep file's value where it has one:
its anchor, n / max_steps, sits 10x lower; -half files add half decades), the anchor-to-CBS
ratio at the largest n, local slopes between neighbouring n,
the least-squares slope over the top four decades, and the R_opt slope there.
Usage: /usr/bin/python3 scripts/averaging-table.py [--horizon16] [results-dir]
(--horizon16: the -h16 files instead, study.horizon = 16, n = 1e6 ... 1e9)
"""
import math
import sys

import h5py
import numpy as np

PAIRS = {"a2b4": (2.0, 4.0), "a15b45": (1.5, 4.5), "a3b5": (3.0, 5.0), "a15b6": (1.5, 6.0)}
FAMILIES = ["uniform_average", "tail_average", "ewa"]


def predicted(a, b, family):
    s = min(b, 2 * a + 1) if family == "uniform_average" else b
    return 1 - a / s, -(s - 1) / s


def rows(path):
    out = {}
    try:
        f = h5py.File(path, "r")
    except OSError:  # absent (or an empty placeholder that skipped the series)
        return out
    t = f["cbs/estimates"]
    cols = {c: t[c][:] for c in t.attrs["columns"].split(",")}
    for i in range(len(cols["n"])):
        fam = cols["family"][i]
        fam = fam.decode() if isinstance(fam, bytes) else fam
        out[(fam, float(cols["n"][i]))] = (float(cols["cbs_study"][i]), float(cols["b_opt"][i]),
                                           float(cols["r_opt"][i]))
    return out


def slope(ns, ys):
    x, y = np.log10(ns), np.log10(ys)
    return float(np.polyfit(x, y, 1)[0])


def main():
    args = [a for a in sys.argv[1:] if a != "--horizon16"]
    horizon16 = "--horizon16" in sys.argv
    d = args[0] if args else "results"
    print("| (a, b) | family | predicted | CBS at n = 1e3 ... 1e9 (anchor B / CBS at the top n) |"
          " local slopes | slope over 1e6..1e9 | R_opt slope 1e6..1e9 (pred.) |")
    print("|---|---|---|---|---|---|---|")
    for tag, (a, b) in PAIRS.items():
        if horizon16:  # only the horizon-16 runs (n = 1e6 ... 1e9), where there are any
            base, deep = {}, rows(f"{d}/averaging-{tag}-h16.h5")
            if not deep:
                continue
        else:
            base = rows(f"{d}/averaging-{tag}.h5")
            base.update(rows(f"{d}/averaging-{tag}-half.h5"))  # half decades, where run
            deep = rows(f"{d}/averaging-{tag}-deep.h5")
        for fam in FAMILIES:
            pts = {}
            for (f_, n), v in base.items():
                if f_ == fam and n <= 1e9:
                    pts[n] = v
            for (f_, n), v in deep.items():
                if f_ == fam:
                    pts[n] = v
            ns = sorted(n for n in pts if math.isfinite(pts[n][0]))
            if len(ns) < 2:
                continue
            cbs = [pts[n][0] for n in ns]
            local = [math.log10(cbs[k + 1] / cbs[k]) / math.log10(ns[k + 1] / ns[k])
                     for k in range(len(ns) - 1)]
            top = [n for n in ns if n >= 1e6]
            s_top = slope(top, [pts[n][0] for n in top]) if len(top) >= 2 else float("nan")
            r_top = slope(top, [pts[n][2] for n in top]) if len(top) >= 2 else float("nan")
            p_cbs, p_r = predicted(a, b, fam)
            ratio = pts[ns[-1]][1] / pts[ns[-1]][0]
            print(f"| ({a:g}, {b:g}) | {fam} | {p_cbs:.3f} | "
                  + ", ".join(f"{c:.3g}" for c in cbs) + f" ({ratio:.2f}) | "
                  + ", ".join(f"{s:.2f}" for s in local)
                  + f" | {s_top:.3f} | {r_top:.3f} ({p_r:.3f}) |")


main()
