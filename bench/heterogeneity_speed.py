"""Speed and accuracy of the S-, T-, X- and DR-learners' default settings (n = 4,000 x 10 covariates).

For each learner it reports seconds (wall clock and CPU time of the process,
one BLAS/OpenMP thread everywhere), sqrt(PEHE) against the simulated unit
effects, the ATE estimate and its standard error, for

* ``new``: this checkout's defaults (histogram gradient boosting, automatic
  cross-fitting folds, here 2 and 3 for the T- and DR-learners, whose models give
  both the unit effects and the influence-function SE, no bootstrap; the
  X-learner's four models fitted once on all rows as the peers fit them, its SE
  from their cross-arm predictions);
* ``before``: the project at ``--before-ref`` (the commit before the fold models
  were reused: 5 folds for the SE plus a full-sample fit), run in full like ``old``'s DR-learner;
* ``old``: the project at ``--old-ref`` (default: the commit before this work;
  ``GradientBoostingRegressor`` base, bootstrap SE with 50 replicates), extracted
  with ``git archive`` into a temporary folder and run in a subprocess. Its
  DR-learner is run in full. For S/T/X one point fit is timed and the default
  cost is ``(1 + n_boot) x`` that fit (the point fit plus ``n_boot`` bootstrap
  refits of the same size), unless ``--old-full`` runs the whole default;
* ``causalml`` / ``econml``: the same learners with the same base model
  (``--peer-python``: a throwaway virtualenv where both are installed; skipped
  when not given). CausalML's ``estimate_ate`` returns its own (in-sample) CI;
  EconML's meta-learners give an interval only with a 100-refit bootstrap,
  so they are timed without inference.

With ``--peer-python`` and ``--reps``, the coverage draws also go through
CausalML's own ``estimate_ate`` interval.

Then the new defaults on LaLonde CPS V-RAW (16,177 x 10), and the ATE interval
coverage of the new default over ``--reps`` seeded replications of a smaller
design (``--coverage-n`` rows).

    .venv/bin/python bench/heterogeneity_speed.py [--peer-python /tmp/peers/bin/python] [--reps 50]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import causal_core as cc  # noqa: E402

LEARNERS = ("s_learner", "t_learner", "x_learner", "dr_learner")
COVARIATES = [f"x{j}" for j in range(1, 11)]
ROLES = cc.Roles(treatment="treat", outcome="y", confounders=COVARIATES)
OLD_REF = "b5abf2e"
BEFORE_REF = "740f5b2"
OLD_N_BOOT = 50
#: The tester's figures (n = 4,000, 10 covariates, 2 cores): old project and CausalML, seconds.
TESTER = {"s_learner": (96.6, 2.1), "t_learner": (94.2, 2.3), "x_learner": (247.3, 5.8), "dr_learner": (23.6, 4.6)}


def design(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Ten N(0,1) covariates, confounded treatment, effect 1.5 + x1 - 0.5 x3^2 (ATE 1), nonlinear outcome."""
    from scipy.special import expit
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 10))
    t = rng.binomial(1, expit(0.8 * X[:, 0] - 0.4 * X[:, 1] + 0.3 * X[:, 2]))
    tau = 1.5 + X[:, 0] - 0.5 * X[:, 2] ** 2
    y = 0.5 + X[:, 0] + 0.5 * X[:, 1] + 0.5 * X[:, 2] + np.sin(X[:, 3]) + 0.5 * X[:, 4] + tau * t + rng.normal(size=n)
    df = pd.DataFrame(X, columns=COVARIATES)
    df["treat"], df["y"] = t, y
    return df, tau


def _pehe(effects: np.ndarray, tau: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(effects) - tau) ** 2)))


def _fastest(rows: list[dict]) -> list[dict]:
    """Per (learner, variant) the repeat with the least CPU time (the repeats give the same numbers)."""
    best: dict[tuple[str, str], dict] = {}
    for row in rows:
        key = (row["learner"], row["variant"])
        if key not in best or row["cpu_seconds"] < best[key]["cpu_seconds"]:
            best[key] = row
    return list(best.values())


def run_new(df: pd.DataFrame, tau: np.ndarray, repeats: int = 1, warm_up: bool = True) -> list[dict]:
    rows = []
    for method in LEARNERS if warm_up else ():  # warm-up: imports and first calls are not timed
        cc.estimate(df.head(300), ROLES, method, seed=0)
    for _ in range(repeats):
        for method in LEARNERS:
            wall, cpu = time.perf_counter(), time.process_time()
            r = cc.estimate(df, ROLES, method, seed=0)
            rows.append({"learner": method, "variant": "new", "seconds": time.perf_counter() - wall,
                         "cpu_seconds": time.process_time() - cpu, "sqrt_pehe": _pehe(r.unit_effects, tau),
                         "estimate": r.estimate, "std_error": r.std_error, "note": r.inference.method})
            print(rows[-1], flush=True)
    return _fastest(rows)


_OLD_SCRIPT = r"""
import json, sys, time
import numpy as np, pandas as pd
sys.path.insert(0, sys.argv[1])
import causal_core as cc
from causal_core.estimators.heterogeneity import meta_learners as ml
df = pd.read_pickle(sys.argv[2]); tau = np.load(sys.argv[3]); full = sys.argv[4] == "1"; n_boot = int(sys.argv[5])
variant = sys.argv[6]
covariates = [c for c in df.columns if c.startswith("x")]
roles = cc.Roles(treatment="treat", outcome="y", confounders=covariates)
X, t, y = df[covariates].to_numpy(float), df["treat"].to_numpy(), df["y"].to_numpy(float)
effects = {"s_learner": ml.s_learner_effects, "t_learner": ml.t_learner_effects, "x_learner": ml.x_learner_effects}
cc.estimate(df.head(300), roles, "dr_learner", seed=0)  # warm-up: imports and first calls are not timed
for method, learner in effects.items():
    learner(X[:300], t[:300], y[:300], ml.base_regressor(None, method=method, seed=0))
for method in ("s_learner", "t_learner", "x_learner", "dr_learner"):
    wall, cpu = time.perf_counter(), time.process_time()
    if method == "dr_learner" or full:
        r = cc.estimate(df, roles, method, seed=0)
        row = dict(estimate=r.estimate, std_error=r.std_error, unit=r.unit_effects, scale=1, note="measured in full")
    else:
        model = ml.base_regressor(None, method=method, seed=0)
        unit = effects[method](X, t, y, model)
        row = dict(estimate=float(unit.mean()), std_error=float("nan"), unit=unit, scale=1 + n_boot,
                   note=f"one point fit measured, x{1 + n_boot} (point fit + {n_boot} bootstrap refits)")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    unit = row.pop("unit"); scale = row.pop("scale")
    print(json.dumps(dict(row, learner=method, variant=variant, seconds=wall * scale, cpu_seconds=cpu * scale,
                          sqrt_pehe=float(np.sqrt(np.mean((unit - tau) ** 2))))), flush=True)
"""


def run_old(df: pd.DataFrame, tau: np.ndarray, *, ref: str, full: bool, n_boot: int, folder: Path,
            variant: str = "old") -> list[dict]:
    code = folder / "old"
    code.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "causal_core"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(code)], input=archive.stdout, check=True)
    df.to_pickle(folder / "data.pkl")
    np.save(folder / "tau.npy", tau)
    out = subprocess.run([sys.executable, "-c", _OLD_SCRIPT, str(code), str(folder / "data.pkl"),
                          str(folder / "tau.npy"), "1" if full else "0", str(n_boot), variant],
                         check=True, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(code)))
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


_PEER_SCRIPT = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor as HGB
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
arrays = np.load(sys.argv[1]); X, t, y, tau = arrays["X"], arrays["t"], arrays["y"], arrays["tau"]
base = lambda: HGB(max_depth=3, min_samples_leaf=5, random_state=0)
final = lambda: HGB(max_depth=2, learning_rate=0.05, min_samples_leaf=50, random_state=0)
logit = lambda: make_pipeline(StandardScaler(), LogisticRegression(C=1e6, max_iter=5000))

def emit(library, learner, start, unit, ate, se, note):
    wall, cpu = time.perf_counter() - start[0], time.process_time() - start[1]
    print(json.dumps(dict(learner=learner, variant=library, seconds=wall, cpu_seconds=cpu, estimate=float(ate),
                          std_error=float(se), sqrt_pehe=float(np.sqrt(np.mean((np.ravel(unit) - tau) ** 2))),
                          note=note)), flush=True)

from causal_core_peers import causalml_and_econml
causalml_and_econml(X[:300], t[:300], y[:300], base, final, logit, lambda *a: None)  # warm-up, not timed
for _ in range(int(sys.argv[2])):
    causalml_and_econml(X, t, y, base, final, logit, emit)
"""

_PEER_MODULE = r"""
import time
import numpy as np

def _start():
    return (time.perf_counter(), time.process_time())

def causalml_and_econml(X, t, y, base, final, logit, emit):
    from causalml.inference.meta import BaseSRegressor, BaseTRegressor, BaseXRegressor, BaseDRRegressor
    for learner, cls in (("s_learner", BaseSRegressor), ("t_learner", BaseTRegressor),
                         ("x_learner", BaseXRegressor), ("dr_learner", BaseDRRegressor)):
        start = _start()
        extra = {}
        if learner in ("x_learner", "dr_learner"):
            extra["p"] = logit().fit(X, t).predict_proba(X)[:, 1]
        model = cls(learner=base(), treatment_effect_learner=final()) if learner == "dr_learner" else cls(learner=base())
        unit = model.fit_predict(X, t, y, **extra)  # one fit; the ATE and its CI then reuse it
        ate, low, high = model.estimate_ate(X, t, y, pretrain=True, **extra)
        emit("causalml", learner, start, unit, np.ravel(ate)[0], (np.ravel(high)[0] - np.ravel(low)[0]) / 3.92,
             "fit_predict + estimate_ate(pretrain=True): CI from in-sample residuals"
             + (", logit propensity" if extra else ""))
    from econml.metalearners import SLearner, TLearner, XLearner
    from econml.dr import DRLearner
    for learner, make in (("s_learner", lambda: SLearner(overall_model=base())),
                          ("t_learner", lambda: TLearner(models=base())),
                          ("x_learner", lambda: XLearner(models=base(), propensity_model=logit()))):
        start = _start()
        model = make().fit(y, t, X=X)
        unit = model.effect(X)
        emit("econml", learner, start, unit, unit.mean(), float("nan"), "fit without inference (an interval needs a 100-refit bootstrap)")
    start = _start()
    model = DRLearner(model_propensity=logit(), model_regression=base(), model_final=final(), cv=5,
                      random_state=0).fit(y, t, X=X)
    unit = model.effect(X)
    emit("econml", "dr_learner", start, unit, unit.mean(), float("nan"), "fit, cv=5, no inference")
"""


def run_peers(df: pd.DataFrame, tau: np.ndarray, python: str, folder: Path, repeats: int = 1) -> list[dict]:
    (folder / "causal_core_peers.py").write_text(_PEER_MODULE)
    np.savez(folder / "data.npz", X=df[COVARIATES].to_numpy(float), t=df["treat"].to_numpy(), y=df["y"].to_numpy(float),
             tau=tau)
    out = subprocess.run([python, "-c", _PEER_SCRIPT, str(folder / "data.npz"), str(repeats)],
                         capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(folder)))
    if out.returncode:
        print(out.stderr[-3000:], file=sys.stderr)
    return _fastest([json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")])


_PEER_COVERAGE_SCRIPT = r"""
import glob, json, sys
import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor as HGB
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from causalml.inference.meta import BaseSRegressor, BaseTRegressor, BaseXRegressor
base = lambda: HGB(max_depth=3, min_samples_leaf=5, random_state=0)
logit = lambda: make_pipeline(StandardScaler(), LogisticRegression(C=1e6, max_iter=5000))
for path in sorted(glob.glob(sys.argv[1] + "/draw_*.npz")):
    d = np.load(path)
    X, t, y, sate = d["X"], d["t"], d["y"], float(d["tau"].mean())
    p = logit().fit(X, t).predict_proba(X)[:, 1]
    for learner, cls in (("s_learner", BaseSRegressor), ("t_learner", BaseTRegressor), ("x_learner", BaseXRegressor)):
        extra = {"p": p} if learner == "x_learner" else {}
        model = cls(learner=base())
        model.fit(X, t, y, **extra)
        ate, low, high = (float(np.ravel(v)[0]) for v in model.estimate_ate(X, t, y, pretrain=True, **extra))
        print(json.dumps(dict(learner=learner, hit=bool(low <= sate <= high), se=(high - low) / 3.92,
                              error=ate - sate)), flush=True)
"""


def peer_coverage(python: str, reps: int, n: int, folder: Path) -> list[dict]:
    """CausalML's own ``estimate_ate`` interval (in-sample residuals) over the coverage draws."""
    for rep in range(reps):
        df, tau = design(n, seed=10_000 + rep)
        np.savez(folder / f"draw_{rep:04d}.npz", X=df[COVARIATES].to_numpy(float), t=df["treat"].to_numpy(),
                 y=df["y"].to_numpy(float), tau=tau)
    out = subprocess.run([python, "-c", _PEER_COVERAGE_SCRIPT, str(folder)], capture_output=True, text=True)
    if out.returncode:
        print(out.stderr[-3000:], file=sys.stderr)
    results = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    rows = []
    for learner in ("s_learner", "t_learner", "x_learner"):
        mine = [r for r in results if r["learner"] == learner]
        if mine:
            errors = np.array([r["error"] for r in mine])
            rows.append({"learner": learner, "library": "causalml", "reps": len(mine), "n": n,
                         "coverage": float(np.mean([r["hit"] for r in mine])),
                         "mc_se": float(np.sqrt(0.95 * 0.05 / len(mine))),
                         "mean_se": float(np.mean([r["se"] for r in mine])),
                         "sd_estimate": float(errors.std(ddof=1)), "bias": float(errors.mean())})
            print(rows[-1], flush=True)
    return rows


def lalonde() -> list[dict]:
    df, roles = cc.load_sample("lalonde_cps"), cc.get_sample("lalonde_cps").roles
    rows = []
    for method in LEARNERS:
        wall, cpu = time.perf_counter(), time.process_time()
        r = cc.estimate(df, roles, method, estimand="ATT", seed=0)
        rows.append({"learner": method, "rows": r.n_used, "seconds": time.perf_counter() - wall,
                     "cpu_seconds": time.process_time() - cpu, "ATT": r.estimate, "std_error": r.std_error})
        print(rows[-1], flush=True)
    return rows


def coverage(reps: int, n: int, learners: tuple[str, ...], options: dict) -> list[dict]:
    rows = []
    for method in learners:
        hits, ses, errors, pehes = 0, [], [], []
        for rep in range(reps):
            df, tau = design(n, seed=10_000 + rep)
            sate = float(tau.mean())
            r = cc.estimate(df, ROLES, method, seed=rep, **options)
            hits += r.ci_low <= sate <= r.ci_high
            ses.append(r.std_error)
            errors.append(r.estimate - sate)
            pehes.append(_pehe(r.unit_effects, tau))
        rows.append({"learner": method, "reps": reps, "n": n, "coverage": hits / reps,
                     "mc_se": float(np.sqrt(0.95 * 0.05 / reps)), "mean_se": float(np.mean(ses)),
                     "sd_estimate": float(np.std(errors, ddof=1)), "bias": float(np.mean(errors)),
                     "sqrt_pehe": float(np.mean(pehes))})
        print(rows[-1], flush=True)
    return rows


def _table(rows: list[dict], columns: list[str]) -> list[str]:
    def cell(value):
        if isinstance(value, float):
            return "nan" if not np.isfinite(value) else f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
        return str(value)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return lines


def peer_summary(rows: list[dict]) -> list[dict]:
    """Per learner: the new defaults' CPU seconds over each peer's, and their sqrt(PEHE), side by side."""
    by = {(row["learner"], row["variant"]): row for row in rows}
    out = []
    for learner in LEARNERS:
        new = by.get((learner, "new"))
        peers = [p for p in ("causalml", "econml") if (learner, p) in by]
        if new is None or not peers:
            continue
        row = {"learner": learner, "new_cpu_s": new["cpu_seconds"], "new_sqrt_pehe": new["sqrt_pehe"]}
        met = []
        for peer in peers:
            ratio = new["cpu_seconds"] / by[(learner, peer)]["cpu_seconds"]
            row[f"{peer}_cpu_s"], row[f"ratio_vs_{peer}"] = by[(learner, peer)]["cpu_seconds"], ratio
            row[f"{peer}_sqrt_pehe"] = by[(learner, peer)]["sqrt_pehe"]
            if ratio <= 1.0:
                met.append(peer)
        row["ratio_le_1_against"] = ", ".join(met) or "neither"
        out.append(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--old-ref", default=OLD_REF)
    parser.add_argument("--old-full", action="store_true", help="run the old S/T/X defaults in full (minutes each)")
    parser.add_argument("--skip-old", action="store_true")
    parser.add_argument("--before-ref", default=BEFORE_REF, help="run this commit's defaults in full ('' to skip)")
    parser.add_argument("--peer-python", default="", help="python of a virtualenv with causalml and econml")
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--coverage-n", type=int, default=1000)
    parser.add_argument("--coverage-learners", nargs="*", default=list(LEARNERS))
    parser.add_argument("--coverage-folds", type=int, default=0, help="n_folds for the coverage runs (0: default)")
    parser.add_argument("--skip-lalonde", action="store_true")
    parser.add_argument("--repeats", type=int, default=3,
                        help="time the new defaults and the peers this many times each; keep the least CPU time")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "heterogeneity_speed.md"))
    args = parser.parse_args()

    load_before = os.getloadavg()
    df, tau = design(args.n, args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # the new defaults and the peers take turns, one repeat each, so that other load on the machine falls on
        # both alike; each keeps its least CPU time
        if args.peer_python:
            (Path(tmp) / "p").mkdir()
        for repeat in range(args.repeats):
            rows += run_new(df, tau, 1, warm_up=repeat == 0)
            if args.peer_python:
                rows += run_peers(df, tau, args.peer_python, Path(tmp) / "p", 1)
        rows = _fastest(rows)
        if not args.skip_old:
            (Path(tmp) / "o").mkdir()
            rows += run_old(df, tau, ref=args.old_ref, full=args.old_full, n_boot=OLD_N_BOOT, folder=Path(tmp) / "o")
        if args.before_ref:
            (Path(tmp) / "b").mkdir()
            rows += run_old(df, tau, ref=args.before_ref, full=True, n_boot=0, folder=Path(tmp) / "b",
                            variant="before")
    load_after = os.getloadavg()
    by = {(row["learner"], row["variant"]): row for row in rows}
    for row in rows:
        new = by[(row["learner"], "new")]
        row["new_cpu_ratio"] = new["cpu_seconds"] / row["cpu_seconds"] if row["variant"] != "new" else 1.0
        row["tester_old_s"], row["tester_causalml_s"] = TESTER[row["learner"]]
    rows.sort(key=lambda row: (LEARNERS.index(row["learner"]), row["variant"]))
    lala = [] if args.skip_lalonde else lalonde()
    options = {"n_folds": args.coverage_folds} if args.coverage_folds else {}
    cover = coverage(args.reps, args.coverage_n, tuple(args.coverage_learners), options) if args.reps else []
    peer_cover = []
    if args.reps and args.peer_python:
        with tempfile.TemporaryDirectory() as tmp:
            peer_cover = peer_coverage(args.peer_python, args.reps, args.coverage_n, Path(tmp))

    lines = ["# Heterogeneity learners: speed and accuracy of the defaults", "",
             f"`python bench/heterogeneity_speed.py {' '.join(sys.argv[1:])}`; one BLAS/OpenMP thread in every "
             f"process; design `bench/heterogeneity_speed.design(n={args.n}, seed={args.seed})` (10 covariates, "
             "effect 1.5 + x1 - 0.5 x3^2). `cpu_seconds` is the process CPU time (robust to other load on the "
             "machine); `seconds` is wall clock. `new_cpu_ratio` = new CPU seconds / this row's CPU seconds "
             "(below 1: the new default is faster). Old = the project at "
             f"`{args.old_ref}` (GradientBoosting base, {OLD_N_BOOT}-replicate bootstrap); before = the project at "
             f"`{args.before_ref}` (histogram boosting, a full-sample fit plus 5 cross-fitting folds for the SE, "
             "the DR-learner's effect model cross-fitted too), run in full; peers use "
             "`HistGradientBoostingRegressor(max_depth=3, min_samples_leaf=5)` as the new default does.", ""]
    lines += [f"Load average (1, 5, 15 min) of the 2-core machine: {', '.join(f'{v:.1f}' for v in load_before)} "
              f"before the timings, {', '.join(f'{v:.1f}' for v in load_after)} after; each new and peer timing is "
              f"the least CPU time of {args.repeats} repeats, the two taking turns.", ""]
    summary = peer_summary(rows)
    if summary:
        lines += ["## New defaults against the peers (CPU seconds, same data, same base model)", ""]
        lines += _table(summary, ["learner", "new_cpu_s", "causalml_cpu_s", "ratio_vs_causalml", "econml_cpu_s",
                                  "ratio_vs_econml", "new_sqrt_pehe", "causalml_sqrt_pehe", "econml_sqrt_pehe",
                                  "ratio_le_1_against"])
        lines += ["", "## All variants", ""]
    lines += _table(rows, ["learner", "variant", "seconds", "cpu_seconds", "new_cpu_ratio", "sqrt_pehe", "estimate",
                           "std_error", "tester_old_s", "tester_causalml_s", "note"])
    if lala:
        lines += ["", "## LaLonde CPS V-RAW (16,177 x 10), new defaults, ATT", ""]
        lines += _table(lala, ["learner", "rows", "seconds", "cpu_seconds", "ATT", "std_error"])
    if cover:
        lines += ["", f"## 95% interval coverage of the sample ATE, new defaults {options or ''} ({args.reps} seeded "
                      f"replications of the design above, n = {args.coverage_n}, seeds 10000 + rep)", ""]
        lines += _table(cover, ["learner", "reps", "n", "coverage", "mc_se", "mean_se", "sd_estimate", "bias",
                                "sqrt_pehe"])
    if peer_cover:
        lines += ["", "## The same draws through CausalML's own interval (`estimate_ate`, from in-sample residuals of "
                      "its single fit)", ""]
        lines += _table(peer_cover, ["learner", "library", "reps", "n", "coverage", "mc_se", "mean_se",
                                     "sd_estimate", "bias"])
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
