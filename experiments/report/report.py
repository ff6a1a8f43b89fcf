"""cbs report: turns cbs study files (HDF5, docs/hdf5-schema.md) into a report a person can check at
a glance: report.html (one self-contained file, figures embedded as PNG data) and report.md with the
same figures as PNG files beside it, plus claims.json (the claims table, machine-readable).

This script is embedded in the `cbs` executable and run by `cbs report` / `cbs run` with Debian's
/usr/bin/python3. It is not meant to be called directly, but can be:
    python3 report.py --out DIR --reference DIR STUDY.h5 [MORE.h5 ...]

Exit codes: 0 done; 2 bad input or a missing Python module (one line on stderr, nothing written).
The output directory is replaced atomically: the report is built in a sibling temporary directory
and renamed into place only when complete.
"""

import argparse
import base64
import csv
import html
import importlib
import json
import math
import os
import shutil
import sys

# Module -> Debian package that provides it for /usr/bin/python3.
REQUIRED_MODULES = [("numpy", "python3-numpy"), ("h5py", "python3-h5py"),
                    ("matplotlib", "python3-matplotlib")]


def fail(message):
    print(f"cbs: error: {message}", file=sys.stderr)
    sys.exit(2)


def require_modules():
    for module, package in REQUIRED_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:
            fail(f"cbs report needs the Python module '{module}' for {sys.executable}: "
                 f"install Debian's package {package} (apt-get install {package})")


require_modules()

import h5py  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

# A verdict compares a measured exponent's 95% interval with the predicted one. THEORY.md's
# predictions are rates up to constants, and finite ranges of n carry pre-asymptotic curvature,
# so an interval that misses the prediction by less than this slack still counts as agreement.
EXPONENT_SLACK = 0.05
# An exponent whose 95% interval is wider than this says little either way: its verdict is
# "inconclusive" rather than a "holds" that only reflects the noise.
INCONCLUSIVE_WIDTH = 0.5
# "Flat" (in M or width): max/min of the CBS over the three largest sizes at most this ratio
# (issue 4's criterion), and the fitted exponent's interval within +-0.1 of zero.
FLAT_RATIO = 1.3
FLAT_EXPONENT = 0.1
# "Momentum raises the CBS": the geometric-mean ratio over groups above 1, with no group below
# this floor (at small n both sit in the same short-run regime and tie within the fit's noise).
MOMENTUM_FLOOR = 0.9

FAMILY_COLORS = {"sgd": "tab:blue", "momentum": "tab:orange", "ewa": "tab:green",
                 "momentum_ewa": "tab:red", "uniform_average": "tab:purple",
                 "tail_average": "tab:brown"}
VARIABLE_LABELS = {
    "data.samples": ("data size n (samples)", "n"),
    "model.size": ("model size M (features)", "M"),
    "net.width": ("network width N (units per hidden layer)", "N"),
}


# ----------------------------------------------------------------------------------------------
# Reading study files
# ----------------------------------------------------------------------------------------------

def text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class StudyFile:
    """One study file: root metadata, runs (attributes + curves) and tables (column -> array)."""

    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)
        try:
            f = h5py.File(path, "r")
        except (OSError, ValueError) as e:
            fail(f"{path}: not a readable HDF5 study file ({e})")
        with f:
            for key in ("schema_version", "cbs_version", "git_sha", "config", "created"):
                if key not in f.attrs:
                    fail(f"{path}: root attribute '{key}' missing (see docs/hdf5-schema.md)")
            if int(f.attrs["schema_version"]) != 1:
                fail(f"{path}: schema_version = {int(f.attrs['schema_version'])}: "
                     "this report reads version 1")
            self.meta = {k: text(f.attrs[k]) for k in ("cbs_version", "git_sha", "created")}
            self.config = text(f.attrs["config"])
            self.tables = {}
            # Curves of other trainers measured by `cbs report` (experiments/curve_measure.hpp):
            # the file is a temporary one; the report names the input it was measured from.
            self.curves_source = None
            for top in ("cbs", "fits"):
                if top not in f:
                    continue
                for name, group in f[top].items():
                    if top == "cbs" and name == "winners" and "source" in group.attrs:
                        self.curves_source = (text(group.attrs["source"]),
                                              text(group.attrs.get("format", "")))
                    table = {}
                    for column, dataset in group.items():
                        data = dataset[()]
                        if data.dtype.kind in "OSU":
                            table[column] = [text(v) for v in data]
                        else:
                            table[column] = np.asarray(data, dtype=float)
                    self.tables[f"{top}/{name}"] = table
            self.runs = []
            for run_id, group in (f["runs"].items() if "runs" in f else []):
                run = {"id": run_id,
                       "attrs": {k: (text(v) if isinstance(v, (bytes, str)) else v.item()
                                     if hasattr(v, "item") else v)
                                 for k, v in group.attrs.items()}}
                for column, dataset in group.items():
                    run[column] = np.asarray(dataset[()], dtype=float)
                self.runs.append(run)


def rows(table):
    """A table as a list of row dicts."""
    if not table:
        return []
    length = len(next(iter(table.values())))
    return [{k: v[i] for k, v in table.items()} for i in range(length)]


def finite(x):
    return x is not None and isinstance(x, (int, float, np.floating)) and math.isfinite(x)


def fmt(x, digits=4):
    return f"{x:.{digits}g}" if finite(x) else "n/a"


def fmt_exp(x):
    return f"{x:.3f}" if finite(x) else "n/a"


# ----------------------------------------------------------------------------------------------
# Collected measurements across files
# ----------------------------------------------------------------------------------------------

class Collection:
    """The rows of every file's tables, tagged with the file they came from."""

    def __init__(self, studies):
        self.studies = studies
        self.estimates, self.steps, self.fits, self.coord = [], [], [], []
        for s in studies:
            for target, name in ((self.estimates, "cbs/estimates"), (self.steps, "cbs/steps"),
                                 (self.fits, "fits/cbs"), (self.coord, "cbs/coord_check")):
                for r in rows(s.tables.get(name)):
                    r["file"] = s.name
                    target.append(r)
        self.runs = [dict(r, file=s.name) for s in studies for r in s.runs]
        # LM studies of `cbs run` (experiments/lm_study.hpp): their per-(N, D) groups are drawn and
        # judged by the LM section below, not by the per-series code.
        self.lm_fits = []
        for s in studies:
            for r in rows(s.tables.get("fits/lm")):
                r["file"] = s.name
                self.lm_fits.append(r)
        self.lm_files = {s.name for s in studies if "fits/lm" in s.tables}

    def is_lm_study(self, file, series):
        return file in self.lm_files and series == "lm"

    def series_keys(self):
        keys = []
        for r in self.estimates:
            k = (r["file"], r["series"])
            if k not in keys:
                keys.append(k)
        return keys

    def families(self, file, series):
        out = []
        for r in self.estimates:
            if r["file"] == file and r["series"] == series and r["family"] not in out:
                out.append(r["family"])
        return out

    def fit(self, file, series, family, variable):
        for r in self.fits:
            if (r["file"], r["series"], r["family"], r["variable"]) == (file, series, family,
                                                                        variable):
                return r
        return None

    def group_rows(self, file, series, family):
        return [r for r in self.estimates
                if r["file"] == file and r["series"] == series and r["family"] == family]

    def swept_variable(self, file, series):
        """Which variable a series sweeps: the fitted one, else the estimates column that varies."""
        for r in self.fits:
            if r["file"] == file and r["series"] == series and r["variable"] in VARIABLE_LABELS:
                return r["variable"]
        rs = [r for r in self.estimates if r["file"] == file and r["series"] == series]
        for variable, column in (("data.samples", "n"), ("model.size", "M"),
                                 ("net.width", "width")):
            if rs and column in rs[0] and len({r[column] for r in rs}) > 1:
                return variable
        return None


def x_column(variable):
    return {"data.samples": "n", "model.size": "M", "net.width": "width"}[variable]


# ----------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------

class Figure:
    def __init__(self, name, title, caption):
        self.name, self.title, self.caption = name, title, caption


class FigureWriter:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.figures = []

    def save(self, fig, name, title, caption):
        # Two study files may hold series of the same name: the later figure gets a numbered
        # file (name_2, name_3, ...) instead of overwriting the earlier one.
        taken = {f.name for f in self.figures}
        if name in taken:
            k = 2
            while f"{name}_{k}" in taken:
                k += 1
            name = f"{name}_{k}"
        fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(os.path.join(self.out_dir, name + ".png"), dpi=110)
        plt.close(fig)
        self.figures.append(Figure(name, title, caption))


def power_band(ax, x, c, alpha, low, high, color, label):
    """Draws c x^alpha and the band between the interval's slopes, pivoting at the geometric
    mean of x (where a log-log least-squares fit is best determined)."""
    xs = np.geomspace(min(x), max(x), 50)
    pivot = math.exp(np.mean(np.log(x)))
    y_pivot = c * pivot ** alpha
    ax.plot(xs, c * xs ** alpha, color=color, lw=1.5, label=label)
    if finite(low) and finite(high):
        lo = y_pivot * (xs / pivot) ** low
        hi = y_pivot * (xs / pivot) ** high
        ax.fill_between(xs, np.minimum(lo, hi), np.maximum(lo, hi), color=color, alpha=0.15)
    return pivot, y_pivot


def figure_risk_curves(col, writer):
    """Raw vs EWA risk curves of the winning runs of one group (largest data size)."""
    runs = [r for r in col.runs if "study.group" in r["attrs"] and len(r.get("risk", [])) > 1
            and "train_loss" not in r]
    if not runs:
        return
    fams = [r["attrs"].get("study.family") for r in runs]
    family = "ewa" if "ewa" in fams else fams[0]
    runs = [r for r in runs if r["attrs"].get("study.family") == family]
    n_of = {r["attrs"]["study.group"]: r["attrs"].get("data.samples", 0) for r in runs}
    group = max(n_of, key=lambda g: (n_of[g], g))
    runs = sorted((r for r in runs if r["attrs"]["study.group"] == group),
                  key=lambda r: r["attrs"].get("batch", 0))
    if len(runs) > 5:
        runs = [runs[int(round(i))] for i in np.linspace(0, len(runs) - 1, 5)]
    target = next((r["target"] for r in col.estimates
                   if r["group"] == group and r["family"] == family and finite(r["target"])),
                  None)
    fig, ax = plt.subplots(figsize=(7, 4.6))
    cmap = plt.get_cmap("viridis")
    for i, r in enumerate(runs):
        color = cmap(i / max(1, len(runs) - 1))
        b = r["attrs"].get("batch")
        ax.loglog(r["samples"], r["risk"], "--", color=color, lw=1, label=f"B={b} raw")
        ax.loglog(r["samples"], r["risk_ewa"], "-", color=color, lw=1.6, label=f"B={b} EWA")
    if target:
        ax.axhline(target, color="k", lw=0.8, ls=":", label="target R_opt")
    ax.set_xlabel("samples seen (B x steps)")
    ax.set_ylabel("excess risk (dimensionless)")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(True, which="major", alpha=0.3)
    writer.save(fig, "risk_curves", f"Risk curves, raw vs EWA weights ({family}, {group})",
                "Solid (EWA) against dashed (raw) at each batch size: averaging removes SGD's "
                "noise floor, and the best batch sizes reach the dotted target R_opt first.")


def figure_steps_vs_batch(col, writer):
    for file, series in col.series_keys():
        if col.is_lm_study(file, series):
            continue
        variable = col.swept_variable(file, series)
        families = col.families(file, series)
        if not families:
            continue
        fig, axes = plt.subplots(1, len(families), figsize=(4.6 * len(families), 4.4),
                                 squeeze=False)
        drawn = False
        for ax, family in zip(axes[0], families):
            groups = [g for g in col.group_rows(file, series, family)]
            cmap = plt.get_cmap("plasma")
            for i, g in enumerate(groups):
                pts = [r for r in col.steps if r["file"] == file and r["series"] == series
                       and r["family"] == family and r["group"] == g["group"]]
                B = np.array([r["batch"] for r in pts if finite(r["steps"])])
                S = np.array([r["steps"] for r in pts if finite(r["steps"])])
                if len(B) < 2:
                    continue
                color = cmap(0.85 * i / max(1, len(groups) - 1))
                ax.loglog(B, S, "o", ms=3.5, color=color, label=g["group"])
                if finite(g["fit_a"]) and finite(g["fit_b"]):
                    xs = np.geomspace(B.min(), B.max(), 80)
                    ax.loglog(xs, g["fit_a"] + g["fit_b"] / xs, "-", color=color, lw=1.2)
                    b_opt = g["b_opt"]
                    f_opt = S[np.argmin(np.abs(B - b_opt))]
                    linear = f_opt * b_opt / xs
                    keep = linear >= 0.5 * S.min()  # the reference, not its extrapolation
                    ax.loglog(xs[keep], linear[keep], ":", color=color, lw=0.8)
                if finite(g["cbs_study"]):
                    ax.axvline(g["cbs_study"], color=color, ls="--", lw=0.8)
                drawn = True
            ax.set_title(family, fontsize=10)
            ax.set_xlabel("batch size B (samples per step)")
            ax.set_ylabel("steps to reach the target")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=6)
        if not drawn:
            plt.close(fig)
            continue
        what = {"data.samples": "per data size n", "model.size": "per model size M",
                "net.width": "per width N"}.get(variable, "per group")
        writer.save(fig, f"steps_vs_batch_{series}",
                    f"Steps to target vs batch size, {what} (series '{series}', {file})",
                    "Points: fewest steps at each B; solid: the a + b/B fit; dotted: linear "
                    "scaling from B_opt; dashed vertical: the CBS = b/(5a) + 1.2 B_opt. Look "
                    "for where the points leave the dotted line.")


def figure_cbs_vs_variable(col, writer, variable):
    column = x_column(variable)
    for file, series in col.series_keys():
        if col.swept_variable(file, series) != variable or col.is_lm_study(file, series):
            continue
        fig, ax = plt.subplots(figsize=(7, 4.8))
        drawn = False
        for family in col.families(file, series):
            gs = [g for g in col.group_rows(file, series, family)
                  if finite(g.get(column)) and finite(g["cbs_study"]) and g[column] > 0]
            if not gs:
                continue
            color = FAMILY_COLORS.get(family, None)
            x = np.array([g[column] for g in gs])
            y = np.array([g["cbs_study"] for g in gs])
            lo = np.array([g["cbs_study_low"] if finite(g["cbs_study_low"]) else v
                           for g, v in zip(gs, y)])
            hi = np.array([g["cbs_study_high"] if finite(g["cbs_study_high"]) else v
                           for g, v in zip(gs, y)])
            ax.errorbar(x, y, yerr=[np.maximum(y - lo, 0), np.maximum(hi - y, 0)], fmt="o",
                        color=color, ms=4, capsize=2)
            fit = col.fit(file, series, family, variable)
            if fit is not None and finite(fit["exponent"]):
                label = (f"{family}: slope {fit['exponent']:.3f} "
                         f"[{fmt_exp(fit['exponent_low'])}, {fmt_exp(fit['exponent_high'])}]")
                pivot, y_pivot = power_band(ax, x, fit["c"], fit["exponent"],
                                            fit["exponent_low"], fit["exponent_high"], color,
                                            label)
                if finite(fit["predicted"]):
                    xs = np.geomspace(x.min(), x.max(), 20)
                    ax.plot(xs, y_pivot * (xs / pivot) ** fit["predicted"], ":", color=color,
                            lw=1.5, label=f"{family}: theory slope {fit['predicted']:.3f}")
            else:
                ax.plot([], [], "o", color=color, label=family)
            drawn = True
        if not drawn:
            plt.close(fig)
            continue
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(VARIABLE_LABELS[variable][0])
        ax.set_ylabel("critical batch size B* (samples per step)")
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=7)
        short = VARIABLE_LABELS[variable][1]
        bars = ("Bars: 95% bootstrap intervals (a bar with no top is unbounded above). ")
        caption = {
            "data.samples": "Solid: fitted power law with its 95% band; dotted: the predicted "
                            "slope through the same point, 1 - a/min(b, 2a+1) for the uniform "
                            "average and the unaveraged families, 1 - a/b for EWA and the tail "
                            "average (docs/averaging.md). The CBS should grow with n along "
                            "the dotted slope.",
            "model.size": "Solid: fitted power law with its 95% band; dotted: the theory's "
                          "slope 0. Past the size where the model holds the learned "
                          "coordinates (k*), the CBS should be flat in M.",
            "net.width": "Solid: fitted power law with its 95% band; dotted: slope 0. Under "
                         "muP the CBS should stop changing once the network is wide enough.",
        }[variable]
        caption = bars + caption
        writer.save(fig, f"cbs_vs_{short}_{series}",
                    f"CBS vs {VARIABLE_LABELS[variable][0].split(' (')[0]} "
                    f"(series '{series}', {file})", caption)


def figure_threshold(col, writer):
    for file, series in col.series_keys():
        variable = col.swept_variable(file, series)
        if variable != "data.samples":
            continue
        families = col.families(file, series)
        fig, axes = plt.subplots(1, len(families), figsize=(4.6 * len(families), 4.2),
                                 squeeze=False)
        drawn = False
        for ax, family in zip(axes[0], families):
            gs = [g for g in col.group_rows(file, series, family) if finite(g["n"])]
            for key, label, style in (("cbs_study_10", "10% overhead", "v--"),
                                      ("cbs_study", "20% overhead (study)", "o-"),
                                      ("cbs_study_50", "50% overhead", "^--")):
                pts = [(g["n"], g[key]) for g in gs if finite(g.get(key)) and g[key] > 0]
                if len(pts) < 2:
                    continue
                x, y = np.array(pts).T
                slope = np.polyfit(np.log(x), np.log(y), 1)[0]
                ax.loglog(x, y, style, ms=4, label=f"{label}: slope {slope:.3f}")
                drawn = True
            ax.set_title(family, fontsize=10)
            ax.set_xlabel("data size n (samples)")
            ax.set_ylabel("CBS B* (samples per step)")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7)
        if not drawn:
            plt.close(fig)
            continue
        writer.save(fig, f"threshold_sensitivity_{series}",
                    f"Threshold sensitivity of the CBS (series '{series}', {file})",
                    "The study's 20% overhead rule against 10% and 50%: if the lines are "
                    "parallel (similar slopes in the legend), the data-size exponent does not "
                    "hinge on the 20% choice.")


def figure_ropt(col, writer):
    for file, series in col.series_keys():
        if col.swept_variable(file, series) != "data.samples":
            continue
        fig, ax = plt.subplots(figsize=(7, 4.6))
        drawn = False
        for family in col.families(file, series):
            gs = [g for g in col.group_rows(file, series, family)
                  if finite(g["n"]) and finite(g["r_opt"]) and g["r_opt"] > 0]
            fit = col.fit(file, series, family, "r_opt")
            if len(gs) < 2:
                continue
            color = FAMILY_COLORS.get(family)
            x = np.array([g["n"] for g in gs])
            y = np.array([g["r_opt"] for g in gs])
            ax.loglog(x, y, "o", color=color, ms=4, label=f"{family}: measured R_opt")
            if fit is not None and finite(fit["exponent"]):
                pivot, y_pivot = power_band(
                    ax, x, fit["c"], fit["exponent"], fit["exponent_low"], fit["exponent_high"],
                    color, f"{family}: slope {fit['exponent']:.3f}")
                if finite(fit["predicted"]):
                    ax.plot(x, y_pivot * (x / pivot) ** fit["predicted"], ":", color=color,
                            label=f"{family}: theory {fit['predicted']:.3f}")
            drawn = True
        if not drawn:
            plt.close(fig)
            continue
        ax.set_xlabel("data size n (samples)")
        ax.set_ylabel("R_opt(n): best EWA risk (LM: validation loss, nats)")
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=7)
        writer.save(fig, f"ropt_vs_n_{series}",
                    f"Optimal risk vs data size (series '{series}', {file})",
                    "The target R_opt(n) itself: with averaging (EWA) it should follow the "
                    "theory's rate -(min(b,2a+1)-1)/min(b,2a+1) (dotted); without, it lags.")


def figure_coord_check(col, writer):
    """cbs coord-check tables (docs/hdf5-schema.md): one row per (param, width, step) with
    columns h1 ... hL and out; plotted at the last measured step."""
    if not col.coord:
        return
    last = max(r["step"] for r in col.coord)
    rows_at = [r for r in col.coord if r["step"] == last]
    params = sorted({r["param"] for r in rows_at})
    layers = [k for k in rows_at[0] if k.startswith("h") and k[1:].isdigit()] + ["out"]
    fig, axes = plt.subplots(1, len(params), figsize=(4.6 * len(params), 4.2), squeeze=False,
                             sharey=True)
    for ax, param in zip(axes[0], params):
        rs = sorted((r for r in rows_at if r["param"] == param), key=lambda r: r["width"])
        for layer in layers:
            pts = [(r["width"], r[layer]) for r in rs if finite(r.get(layer)) and r[layer] > 0]
            if pts:
                x, y = np.array(pts).T
                ax.loglog(x, y, "o-", ms=3, label=layer)
        blown = [int(r["width"]) for r in rs if not all(finite(r.get(k)) for k in layers)]
        ax.set_title(param + (f" (non-finite at N={blown})" if blown else ""), fontsize=10)
        ax.set_xlabel("width N (units per hidden layer)")
        ax.set_ylabel(f"mean |activation| after {int(last)} steps")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    writer.save(fig, "coord_check", "Coordinate check: activation scale vs width",
                "Under muP every layer's line should be flat across widths; under SP the "
                "activations grow with width (or blow up: missing points are non-finite).")


def figure_width_convergence(col, writer):
    runs = [r for r in col.runs if "net.width" in r["attrs"] and "study.group" not in r["attrs"]
            and len(r.get("risk", [])) > 1]
    if len({r["attrs"]["net.width"] for r in runs}) < 2:
        return
    fig, ax = plt.subplots(figsize=(7, 4.6))
    cmap = plt.get_cmap("viridis")
    widths = sorted({r["attrs"]["net.width"] for r in runs})
    for r in sorted(runs, key=lambda r: r["attrs"]["net.width"]):
        w = r["attrs"]["net.width"]
        color = cmap(widths.index(w) / max(1, len(widths) - 1))
        ax.loglog(r["step"], r["risk"], color=color, lw=1.2,
                  label=f"N={w} ({r['attrs'].get('net.param', '?')})")
    ax.set_xlabel("optimizer steps t")
    ax.set_ylabel("held-out excess risk (dimensionless)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    writer.save(fig, "width_convergence", "Loss curves at fixed hyper-parameters across widths",
                "Curves of successive widths should bunch together as N grows (the study's "
                "Theorem 1): the gap between N and 2N shrinks.")


def figure_lm_curves(col, writer):
    runs = [r for r in col.runs if "train_loss" in r and len(r.get("risk", [])) > 1
            and r["file"] not in col.lm_files]
    if not runs:
        return
    fig, ax = plt.subplots(figsize=(7, 4.6))
    cmap = plt.get_cmap("viridis")
    runs = sorted(runs, key=lambda r: r["attrs"].get("batch", 0))[:8]
    for i, r in enumerate(runs):
        color = cmap(i / max(1, len(runs) - 1))
        b = r["attrs"].get("batch", "?")
        ax.semilogx(r["samples"], r["risk"], "--", color=color, lw=1, label=f"B={b} raw")
        ax.semilogx(r["samples"], r["risk_ewa"], "-", color=color, lw=1.5, label=f"B={b} EWA")
    ax.set_xlabel("tokens seen")
    ax.set_ylabel("validation loss (nats per token)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    writer.save(fig, "lm_curves", "Language-model validation loss, raw vs EWA weights",
                "Solid (EWA weights) below dashed (raw weights) is the averaging gain the "
                "study's constant-LR + EWA schedule relies on.")


def read_reference(reference_dir):
    def load(name):
        path = os.path.join(reference_dir, name)
        if not os.path.exists(path):
            return []
        with open(path, newline="") as f:
            return list(csv.DictReader(line for line in f if not line.startswith("#")))
    return load("zhang2025_chinchilla_cbs.csv"), load("zhang2025_fits.csv")


def figure_published(col, writer, reference):
    points, laws = reference
    if not points:
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.4))
    N = np.array([float(p["params_millions"]) for p in points])
    D = np.array([float(p["tokens_millions"]) for p in points])
    B = np.array([float(p["cbs_sequences"]) for p in points])
    left.loglog(N, B, "ks", ms=5, label="published CBS, Chinchilla (D = 20N)")
    right.loglog(D, B, "ks", ms=5, label="published CBS, Chinchilla (D = 20N)")
    for law in laws:
        c, e = float(law["coefficient"]), float(law["exponent"])
        if law["variable"] == "N":
            xs = np.geomspace(N.min(), N.max(), 20)
            left.loglog(xs, c * xs ** e, "-", label=f"{c:g} N^{e:g} ({law['fixed']})")
        else:
            xs = np.geomspace(D.min() / 4, D.max(), 20)
            right.loglog(xs, c * xs ** e, "-", label=f"{c:g} D^{e:g} ({law['fixed']})")
    lm = [g for g in col.estimates if g["family"].startswith("lm") or "lm" in g["series"]]
    lm = [g for g in lm if finite(g["cbs_study"]) and finite(g["n"])]
    if lm:
        right.loglog([g["n"] / 1e6 for g in lm], [g["cbs_study"] for g in lm], "o",
                     color="tab:red", label="ours (LM sweeps in these files)")
    left.set_xlabel("model size N (millions of parameters)")
    right.set_xlabel("data size D (millions of tokens)")
    for ax in (left, right):
        ax.set_ylabel("CBS B* (sequences of 512 tokens)")
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=7)
    writer.save(fig, "published_lm_cbs",
                "Published LM critical batch sizes (Zhang et al., ICLR 2025)",
                "The study's own numbers (data/reference/): at fixed D the CBS barely moves with "
                "N (slope 0.087); at fixed N it grows as D^0.47. Our exponents are in the claims "
                "table.")



# ----------------------------------------------------------------------------------------------
# LM studies (`cbs run` on an LM study file: groups per model size N and data budget D)
# ----------------------------------------------------------------------------------------------

def published_exponents(reference):
    """(exponent in D at fixed N, exponent in N at fixed D) of data/reference/zhang2025_fits.csv."""
    d_exp, n_exp = 0.47, 0.087
    for law in reference[1] if reference else []:
        if law.get("setting") == "data_size":
            d_exp = float(law["exponent"])
        elif law.get("setting") == "model_size":
            n_exp = float(law["exponent"])
    return d_exp, n_exp


def lm_groups(col, file):
    return [g for g in col.estimates if g["file"] == file and g["series"] == "lm"
            and finite(g["n"]) and finite(g["M"])]


def lm_fit(col, file, variable, fixed_value):
    for r in col.lm_fits:
        if r["file"] == file and r["variable"] == variable and finite(r["fixed_value"]) and \
                math.isclose(r["fixed_value"], fixed_value, rel_tol=1e-9):
            return r
    return None


def si(x):
    for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def lm_cbs_panel(ax, col, file, groups, x_col, fixed_col, variable, slope, slope_name):
    cmap = plt.get_cmap("viridis")
    fixed_values = sorted({g[fixed_col] for g in groups})
    for i, v in enumerate(fixed_values):
        color = cmap(0.85 * i / max(1, len(fixed_values) - 1))
        gs = sorted((g for g in groups if g[fixed_col] == v and finite(g["cbs_study"])
                     and g["cbs_study"] > 0), key=lambda g: g[x_col])
        if not gs:
            continue
        x = np.array([g[x_col] for g in gs])
        y = np.array([g["cbs_study"] for g in gs])
        lo = np.array([g["cbs_study_low"] if finite(g["cbs_study_low"]) else b
                       for g, b in zip(gs, y)])
        hi = np.array([g["cbs_study_high"] if finite(g["cbs_study_high"]) else b
                       for g, b in zip(gs, y)])
        name = ("N" if fixed_col == "M" else "D") + "=" + si(v)
        ax.errorbar(x, y, yerr=[np.maximum(y - lo, 0), np.maximum(hi - y, 0)], fmt="o",
                    color=color, ms=4, capsize=2, label=name)
        fit = lm_fit(col, file, variable, v)
        if fit is not None and finite(fit["exponent"]):
            xs = np.geomspace(x.min(), x.max(), 20)
            ax.plot(xs, fit["c"] * xs ** fit["exponent"], "-", color=color, lw=1.2,
                    label=f"{name}: slope {fit['exponent']:.2f} [{fmt_exp(fit['exponent_low'])},"
                          f" {fmt_exp(fit['exponent_high'])}]")
        if len(x) >= 2:
            pivot = math.exp(np.mean(np.log(x)))
            y_pivot = math.exp(np.mean(np.log(y)))
            xs = np.geomspace(x.min(), x.max(), 20)
            ax.plot(xs, y_pivot * (xs / pivot) ** slope, ":", color=color, lw=1.2,
                    label=f"published slope {slope:g} ({slope_name})" if i == 0 else None)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylabel("critical batch size B* (sequences)")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=6)


def figure_lm_study(col, writer, reference):
    d_exp, n_exp = published_exponents(reference)
    for file in sorted(col.lm_files):
        groups = lm_groups(col, file)
        if not groups:
            continue
        Ns = sorted({g["M"] for g in groups})
        Ds = sorted({g["n"] for g in groups})
        # Steps to target vs batch size: one panel per model size, one colour per budget.
        fig, axes = plt.subplots(1, len(Ns), figsize=(4.4 * len(Ns), 4.2), squeeze=False)
        cmap = plt.get_cmap("plasma")
        for ax, N in zip(axes[0], Ns):
            for i, D in enumerate(Ds):
                g = next((g for g in groups if g["M"] == N and g["n"] == D), None)
                if g is None:
                    continue
                pts = [r for r in col.steps if r["file"] == file and r["series"] == "lm"
                       and r["M"] == N and r["n"] == D and finite(r["steps"])]
                if not pts:
                    continue
                color = cmap(0.85 * i / max(1, len(Ds) - 1))
                B = np.array([r["batch"] for r in pts])
                S = np.array([r["steps"] for r in pts])
                ax.loglog(B, S, "o", ms=3.5, color=color, label=f"D={si(D)}")
                if finite(g["fit_a"]) and finite(g["fit_b"]) and len(B) >= 2:
                    xs = np.geomspace(B.min(), B.max(), 60)
                    ax.loglog(xs, g["fit_a"] + g["fit_b"] / xs, "-", color=color, lw=1)
                if finite(g["cbs_study"]):
                    ax.axvline(g["cbs_study"], color=color, ls="--", lw=0.8)
            ax.set_title(f"N = {si(N)} non-embedding parameters", fontsize=9)
            ax.set_xlabel("batch size B (sequences)")
            ax.set_ylabel("steps to R_opt(D)")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=6)
        writer.save(fig, "lm_steps_vs_batch", f"LM: steps to target vs batch size per (N, D) "
                    f"({file})",
                    "Points: fewest steps (over learning rates and EWA decays) to R_opt(D), the "
                    "best EWA validation loss reached by D tokens; solid: the a + b/B fit; dashed: "
                    "the CBS b/(5a) + 1.2 B_opt. A point missing: that batch size never reached "
                    "the target within the horizon.")
        fig, ax = plt.subplots(figsize=(7, 4.6))
        lm_cbs_panel(ax, col, file, groups, "n", "M", "data.samples", d_exp, "in D")
        ax.set_xlabel("data budget D (tokens)")
        writer.save(fig, "lm_cbs_vs_D", f"LM: CBS vs data budget D per model size ({file})",
                    "Bars: 95% bootstrap intervals. Solid: power-law fit at each N; dotted: the "
                    f"published slope {d_exp:g} (Zhang et al. 2025) through the same points. The "
                    "claim: the CBS grows with D.")
        fig, ax = plt.subplots(figsize=(7, 4.6))
        lm_cbs_panel(ax, col, file, groups, "M", "n", "model.size", n_exp, "in N")
        ax.set_xlabel("model size N (non-embedding parameters)")
        writer.save(fig, "lm_cbs_vs_N", f"LM: CBS vs model size per data budget ({file})",
                    "Bars: 95% bootstrap intervals. Solid: power-law fit at each D; dotted: the "
                    f"published slope {n_exp:g}. The claim: the CBS is nearly flat in N.")
        # Validation curves: the largest model, per batch size the run with the lowest final loss.
        runs = [r for r in col.runs if r["file"] == file and len(r.get("risk_ewa", [])) > 1]
        if runs:
            N = max(float(r["attrs"].get("model.size", 0)) for r in runs)
            best = {}
            for r in runs:
                if float(r["attrs"].get("model.size", 0)) != N:
                    continue
                b = r["attrs"].get("batch", 0)
                if b not in best or np.nanmin(r["risk_ewa"]) < np.nanmin(best[b]["risk_ewa"]):
                    best[b] = r
            fig, ax = plt.subplots(figsize=(7, 4.6))
            cmap = plt.get_cmap("viridis")
            for i, b in enumerate(sorted(best)):
                r = best[b]
                color = cmap(i / max(1, len(best) - 1))
                ax.semilogx(r["samples"], r["risk"], "--", color=color, lw=0.8)
                ax.semilogx(r["samples"], r["risk_ewa"], "-", color=color, lw=1.4,
                            label=f"B={b}, lr={r['attrs'].get('lr', '?')}")
            for D in Ds:
                ax.axvline(D, color="grey", lw=0.6, ls=":")
            ax.set_xlabel("tokens seen")
            ax.set_ylabel("validation loss (nats per token)")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7)
            writer.save(fig, "lm_validation_curves",
                        f"LM: validation loss, N = {si(N)}, best learning rate per batch size "
                        f"({file})",
                        "Solid: EWA weights (best of the tracked decays); dashed: raw weights; "
                        "dotted verticals: the data budgets D served by these runs.")


def lm_study_claims(col):
    d_exp, n_exp = getattr(col, "published", (0.47, 0.087))
    out = []

    def add(claim, where, predicted, measured, interval, verdict, basis):
        out.append({"claim": claim, "where": where, "predicted": predicted,
                    "measured": measured, "interval": interval, "verdict": verdict,
                    "basis": basis})

    for file in sorted(col.lm_files):
        for r in col.lm_fits:
            if r["file"] != file:
                continue
            low, high = r["exponent_low"], r["exponent_high"]
            if r["variable"] == "data.samples":
                verdict = "holds" if finite(low) and low > 0 else \
                    "inconclusive" if not (finite(high) and finite(low)) or \
                    high - low > INCONCLUSIVE_WIDTH else "fails"
                add("LM CBS grows with data", f"{file}: N = {si(r['fixed_value'])}",
                    f"> 0 (published {d_exp:g})", r["exponent"], interval_text(r), verdict,
                    "holds if the exponent's 95% interval lies above 0; inconclusive if it "
                    f"straddles 0 and is wider than {INCONCLUSIVE_WIDTH}; else fails. "
                    f"Published {d_exp:g} " + ("inside" if agrees(r, d_exp) else "outside") +
                    f" the interval +- {EXPONENT_SLACK}")
            elif r["variable"] == "model.size":
                if finite(low) and finite(high) and low >= -FLAT_EXPONENT and \
                        high <= FLAT_EXPONENT:
                    verdict = "holds"
                elif finite(low) and (low > FLAT_EXPONENT or high < -FLAT_EXPONENT):
                    verdict = "fails"
                else:
                    verdict = "inconclusive"
                add("LM CBS flat in model size", f"{file}: D = {si(r['fixed_value'])}",
                    f"~0 (published {n_exp:g})", r["exponent"], interval_text(r), verdict,
                    f"holds if the exponent's 95% interval lies within +-{FLAT_EXPONENT}; fails "
                    f"if it lies wholly outside; else inconclusive. Published {n_exp:g} " +
                    ("inside" if agrees(r, n_exp) else "outside") +
                    f" the interval +- {EXPONENT_SLACK}")
            elif r["variable"] == "joint":
                add("LM CBS grows with data", f"{file}: joint c D^a N^g, exponent a",
                    f"> 0 (published {d_exp:g})", r["exponent"], interval_text(r),
                    "holds" if finite(low) and low > 0 else "inconclusive"
                    if high - low > INCONCLUSIVE_WIDTH else "fails",
                    "joint fit over every (N, D); as above")
                g = {"exponent": r["gamma"], "exponent_low": r["gamma_low"],
                     "exponent_high": r["gamma_high"]}
                glow, ghigh = r["gamma_low"], r["gamma_high"]
                add("LM CBS flat in model size", f"{file}: joint c D^a N^g, exponent g",
                    f"~0 (published {n_exp:g})", r["gamma"], interval_text(g),
                    "holds" if glow >= -FLAT_EXPONENT and ghigh <= FLAT_EXPONENT else "fails"
                    if glow > FLAT_EXPONENT or ghigh < -FLAT_EXPONENT else "inconclusive",
                    "joint fit over every (N, D); as above")
    return out

# ----------------------------------------------------------------------------------------------
# Claims
# ----------------------------------------------------------------------------------------------

def interval_text(fit):
    return f"[{fmt_exp(fit['exponent_low'])}, {fmt_exp(fit['exponent_high'])}]"


def exponent_verdict(fit, predicted):
    low, high = fit["exponent_low"], fit["exponent_high"]
    if finite(low) and finite(high) and high - low > INCONCLUSIVE_WIDTH:
        return "inconclusive"
    return "holds" if agrees(fit, predicted) else "fails"


EXPONENT_RULE = (f"prediction within the 95% interval +- {EXPONENT_SLACK}; inconclusive if "
                 f"the interval is wider than {INCONCLUSIVE_WIDTH}")


def agrees(fit, predicted, slack=EXPONENT_SLACK):
    low, high = fit["exponent_low"], fit["exponent_high"]
    if not (finite(low) and finite(high)):
        return finite(fit["exponent"]) and abs(fit["exponent"] - predicted) <= slack
    return low - slack <= predicted <= high + slack


def flat_ratio(gs, column):
    gs = sorted((g for g in gs if finite(g.get(column)) and finite(g["cbs_study"])),
                key=lambda g: g[column])[-3:]
    if len(gs) < 2:
        return None
    ys = [g["cbs_study"] for g in gs]
    return max(ys) / min(ys)


# Families whose reported iterate's bias saturates at b = 2a+1 (docs/averaging.md): the uniform
# average keeps the early iterates' error at weight 1/t and does. The tail average and EWA
# windows that are a fraction of the run forget it and do not: their prediction is 1 - a/b.
# sgd and momentum (no averaging) keep THEORY.md's formula, shown but not tested. The study
# engine writes the matching predicted exponents (experiments/study.cpp, family_saturates).
SATURATING_FAMILIES = {"sgd", "momentum", "uniform_average"}


def effective_source_text(family):
    return "min(b, 2a+1)" if family in SATURATING_FAMILIES else "b"


def compute_claims(col, reference=([], [])):
    claims = []
    col.published = published_exponents(reference)

    def add(claim, where, predicted, measured, interval, verdict, basis):
        claims.append({"claim": claim, "where": where, "predicted": predicted,
                       "measured": measured, "interval": interval, "verdict": verdict,
                       "basis": basis})

    averaged = {"ewa", "momentum_ewa", "uniform_average", "tail_average"}
    claims += lm_study_claims(col)
    for file, series in col.series_keys():
        if col.is_lm_study(file, series):
            continue
        variable = col.swept_variable(file, series)
        for family in col.families(file, series):
            where = f"{file}: series '{series}', {family}"
            lm = family.startswith("lm")
            if variable == "data.samples":
                fit = col.fit(file, series, family, "data.samples")
                if fit is None:
                    continue
                if lm:
                    low, high = fit["exponent_low"], fit["exponent_high"]
                    verdict = "holds" if finite(low) and low > 0 else \
                        "inconclusive" if finite(high) and high - low > INCONCLUSIVE_WIDTH \
                        else "fails"
                    add("LM CBS grows with data", where, "> 0 (study: 0.47)",
                        fit["exponent"], interval_text(fit), verdict,
                        "holds if the exponent's 95% interval lies above 0; inconclusive if it "
                        f"straddles 0 and is wider than {INCONCLUSIVE_WIDTH}")
                    continue
                if family in averaged:
                    verdict = exponent_verdict(fit, fit["predicted"])
                    basis = EXPONENT_RULE
                else:
                    verdict = "not tested"
                    basis = "the theory assumes iterate averaging; shown for reference"
                s_text = effective_source_text(family)
                add(f"CBS ∝ n^(1 - a/{s_text})", where, fit["predicted"], fit["exponent"],
                    interval_text(fit), verdict, basis)
                for var, claim in (("r_opt", f"R_opt ∝ n^-({s_text}-1)/{s_text}"),
                                   ("t_star", f"T* ∝ n^(a/{s_text})")):
                    f2 = col.fit(file, series, family, var)
                    if f2 is None or family not in averaged:
                        continue
                    add(claim, where, f2["predicted"], f2["exponent"], interval_text(f2),
                        exponent_verdict(f2, f2["predicted"]), EXPONENT_RULE)
            elif variable in ("model.size", "net.width"):
                column = x_column(variable)
                fit = col.fit(file, series, family, variable)
                ratio = flat_ratio(col.group_rows(file, series, family), column)
                if fit is None and ratio is None:
                    continue
                exponent_ok = fit is not None and finite(fit["exponent_low"]) and \
                    fit["exponent_low"] >= -FLAT_EXPONENT and \
                    fit["exponent_high"] <= FLAT_EXPONENT
                ratio_ok = ratio is not None and ratio <= FLAT_RATIO
                claim = "CBS flat in model size M" if variable == "model.size" else \
                    "CBS flat in width under muP"
                add(claim, where, 0.0, fit["exponent"] if fit else float("nan"),
                    (interval_text(fit) if fit else "n/a") +
                    (f"; max/min over the 3 largest = {ratio:.2f}" if ratio else ""),
                    "holds" if (exponent_ok or ratio_ok) else "fails",
                    f"max/min of CBS over the three largest sizes <= {FLAT_RATIO}, or the "
                    f"exponent's interval within +-{FLAT_EXPONENT}")
        # Momentum raises the CBS: same series, same groups, momentum vs plain SGD.
        by_group = {}
        for g in col.estimates:
            if g["file"] == file and g["series"] == series and finite(g["cbs_study"]):
                by_group.setdefault(g["group"], {})[g["family"]] = g["cbs_study"]
        ratios = [v["momentum"] / v["sgd"] for v in by_group.values()
                  if "momentum" in v and "sgd" in v]
        if ratios and variable == "data.samples":
            add("Momentum raises the CBS", f"{file}: series '{series}', momentum vs sgd",
                "> 1 (ratio)", float(np.exp(np.mean(np.log(ratios)))),
                f"range [{min(ratios):.2f}, {max(ratios):.2f}] over {len(ratios)} groups",
                "holds" if np.mean(np.log(ratios)) > 0 and min(ratios) >= MOMENTUM_FLOOR
                else "fails",
                f"geometric mean of CBS(momentum) / CBS(sgd) over the groups > 1, and no group "
                f"below {MOMENTUM_FLOOR}")
    present = {c["claim"] for c in claims}
    if any(c.startswith("CBS ∝ n^") for c in present):
        present.add("CBS ∝ n^(1 - a/min(b, 2a+1))")
    for claim in ("CBS ∝ n^(1 - a/min(b, 2a+1))", "CBS flat in model size M",
                  "CBS flat in width under muP", "Momentum raises the CBS",
                  "LM CBS grows with data", "LM CBS flat in model size"):
        if claim not in present:
            add(claim, "-", "-", float("nan"), "-", "no data",
                "these study files hold no measurement of this claim")
    return claims


# ----------------------------------------------------------------------------------------------
# Writing the report
# ----------------------------------------------------------------------------------------------

def value_text(v):
    if isinstance(v, str):
        return v
    return fmt_exp(v)


def estimates_rows(col):
    out = []
    for g in col.estimates:
        ci = f"[{fmt(g['cbs_study_low'])}, {fmt(g['cbs_study_high'])}]"
        out.append([g["file"], g["series"], g["group"], g["family"], fmt(g["r_opt"], 4),
                    fmt(g["b_opt"]), fmt(g["cbs_study"]), ci, fmt(g["cbs_direct"]),
                    fmt(g["cbs_anchor_zero"]), fmt(g["b_noise"]), g.get("note", "")])
    return out


ESTIMATE_HEADER = ["file", "series", "group", "family", "R_opt", "B_opt", "CBS (study)",
                   "95% interval", "direct 20%", "b/(5a)", "B_noise", "note"]
CLAIM_HEADER = ["claim", "where", "predicted", "measured", "interval", "verdict", "verdict rule"]


def claim_cells(c):
    return [c["claim"], c["where"], value_text(c["predicted"]), value_text(c["measured"]),
            c["interval"], c["verdict"], c["basis"]]


def md_table(header, body):
    esc = [[str(x).replace("|", "\\|") for x in row] for row in body]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in esc]
    return "\n".join(lines)


def html_table(header, body, verdict_column=None):
    out = ["<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) +
           "</tr></thead><tbody>"]
    for row in body:
        cells = []
        for i, x in enumerate(row):
            cls = f' class="v-{x.replace(" ", "-")}"' if i == verdict_column else ""
            cells.append(f"<td{cls}>{html.escape(str(x))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def study_line(s):
    """What a study file is, as (code, rest) for the list at the top of the report."""
    if s.curves_source:
        source, form = s.curves_source
        return (source, f": curves ({form}) measured by cbs {s.meta['cbs_version']} "
                f"({s.meta['git_sha']}) on {s.meta['created']}, {len(s.runs)} runs, "
                f"listed as `{s.name}` below")
    return (s.path, f": cbs {s.meta['cbs_version']} ({s.meta['git_sha']}), "
            f"written {s.meta['created']}, {len(s.runs)} runs")


WINNER_HEADER = ["file", "group", "batch", "steps to target", "winning run", "hyper-parameters",
                 "runs", "diverged"]


def winner_rows(studies):
    out = []
    for s in studies:
        for r in rows(s.tables.get("cbs/winners")):
            out.append([s.name, r["group"], fmt(r["batch"], 6),
                        fmt(r["steps"], 6) if finite(r["steps"]) else "never",
                        r["run"] or "-", r["hparams"], fmt(r["runs"]), fmt(r["diverged"])])
    return out


WINNER_TEXT = ("Per batch size, the run (over its hyper-parameter runs) that reached the target "
               "in the fewest steps; diverged runs count as never reaching it.")


def write_markdown(path, studies, claims, col, figures):
    lines = ["# CBS report", ""]
    for s in studies:
        code, rest = study_line(s)
        lines.append(f"- `{code}`{rest}")
    lines += ["", "## Claims: predicted vs measured", "",
              md_table(CLAIM_HEADER, [claim_cells(c) for c in claims]), ""]
    if col.estimates:
        lines += ["## CBS per group", "", md_table(ESTIMATE_HEADER, estimates_rows(col)), ""]
    winners = winner_rows(studies)
    if winners:
        lines += ["## Winning runs per batch size (curves)", "", WINNER_TEXT, "",
                  md_table(WINNER_HEADER, winners), ""]
    lines += ["## Figures", ""]
    for f in figures:
        lines += [f"### {f.title}", "", f"![{f.title}]({f.name}.png)", "", f"*{f.caption}*", ""]
    with open(path, "w", encoding="utf-8") as out:
        out.write("\n".join(lines))


STYLE = """
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; }
th { background: #f0f0f0; }
.v-holds { background: #d8f5d8; } .v-fails { background: #f8d7d7; }
.v-no-data, .v-not-tested, .v-inconclusive { background: #eee; color: #666; }
figure { margin: 2em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-style: italic; color: #444; }
pre { background: #f7f7f7; padding: 0.5em; overflow-x: auto; font-size: 0.8em; }
"""


def write_html(path, out_dir, studies, claims, col, figures):
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>CBS report</title>", f"<style>{STYLE}</style></head><body>",
             "<h1>CBS report</h1><ul>"]
    for s in studies:
        code, rest = study_line(s)
        parts.append(f"<li><code>{html.escape(code)}</code>{html.escape(rest)}</li>")
    parts.append("</ul><h2>Claims: predicted vs measured</h2>")
    parts.append(html_table(CLAIM_HEADER, [claim_cells(c) for c in claims], verdict_column=5))
    if col.estimates:
        parts.append("<h2>CBS per group</h2>")
        parts.append(html_table(ESTIMATE_HEADER, estimates_rows(col)))
    winners = winner_rows(studies)
    if winners:
        parts.append("<h2>Winning runs per batch size (curves)</h2>")
        parts.append(f"<p>{html.escape(WINNER_TEXT)}</p>")
        parts.append(html_table(WINNER_HEADER, winners))
    parts.append("<h2>Figures</h2>")
    for f in figures:
        with open(os.path.join(out_dir, f.name + ".png"), "rb") as png:
            data = base64.b64encode(png.read()).decode("ascii")
        parts.append(f'<figure id="fig-{f.name}"><h3>{html.escape(f.title)}</h3>'
                     f'<img alt="{html.escape(f.title)}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{html.escape(f.caption)}</figcaption></figure>")
    for s in studies:
        parts.append(f"<details><summary>Configuration of {html.escape(s.name)}</summary>"
                     f"<pre>{html.escape(s.config)}</pre></details>")
    parts.append("</body></html>")
    with open(path, "w", encoding="utf-8") as out:
        out.write("\n".join(parts))


def json_value(v):
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    return v


def build(args):
    studies = [StudyFile(p) for p in args.studies]
    col = Collection(studies)
    out = os.path.abspath(args.out)
    parent = os.path.dirname(out)
    if not os.path.isdir(parent):
        fail(f"--out = {args.out}: the parent directory {parent} does not exist")
    if os.path.exists(out) and not os.path.isdir(out):
        fail(f"--out = {args.out}: exists and is not a directory")
    tmp = os.path.join(parent, f".{os.path.basename(out)}.partial-{os.getpid()}")
    try:
        os.mkdir(tmp)
    except OSError as e:
        fail(f"--out = {args.out}: cannot create a directory beside it ({e.strerror})")
    try:
        writer = FigureWriter(tmp)
        figure_risk_curves(col, writer)
        figure_steps_vs_batch(col, writer)
        for variable in ("data.samples", "model.size", "net.width"):
            figure_cbs_vs_variable(col, writer, variable)
        figure_threshold(col, writer)
        figure_ropt(col, writer)
        figure_coord_check(col, writer)
        figure_width_convergence(col, writer)
        figure_lm_curves(col, writer)
        reference = read_reference(args.reference)
        figure_lm_study(col, writer, reference)
        figure_published(col, writer, reference)
        claims = compute_claims(col, reference)
        write_markdown(os.path.join(tmp, "report.md"), studies, claims, col, writer.figures)
        write_html(os.path.join(tmp, "report.html"), tmp, studies, claims, col, writer.figures)
        with open(os.path.join(tmp, "claims.json"), "w") as f:
            json.dump({"claims": [{k: json_value(v) for k, v in c.items()} for c in claims],
                       "figures": [f.name + ".png" for f in writer.figures]}, f, indent=1)
        # Replace the previous report (if any) only now that the new one is complete.
        old = None
        if os.path.isdir(out):
            old = os.path.join(parent, f".{os.path.basename(out)}.old-{os.getpid()}")
            os.rename(out, old)
        os.rename(tmp, out)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        fail(f"--out = {args.out}: cannot write the report ({e.strerror}: {e.filename})")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if not args.quiet:
        print(f"cbs report: {len(writer.figures)} figures, {len(claims)} claims -> "
              f"{os.path.join(args.out, 'report.html')}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description="cbs report (run by the cbs executable)")
    parser.add_argument("studies", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--reference", default="")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    for p in args.studies:
        if not os.path.isfile(p):
            fail(f"study file {p}: no such file")
    build(args)


if __name__ == "__main__":
    main()
