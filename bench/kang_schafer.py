"""Kang & Schafer (2007) with misspecified covariates: balancing and doubly robust methods against DoubleML's IRM.

The design (Kang & Schafer 2007, Statistical Science 22(4)), with a treatment
effect added to the outcome model as the issue's tester did:

    Z ~ N(0, I_4),  T ~ Bernoulli(expit(-Z1 + 0.5 Z2 - 0.25 Z3 - 0.1 Z4)),
    Y = 210 + 10 T + 27.4 Z1 + 13.7 (Z2 + Z3 + Z4) + N(0, 1),

so the effect is 10 for every unit (ATE = ATT = 10; the ATE is estimated).
The methods see only the misspecified covariates

    X1 = exp(Z1 / 2),  X2 = Z2 / (1 + exp(Z1)) + 10,  X3 = (Z1 Z3 / 25 + 0.6)^3,  X4 = (Z2 + Z4 + 20)^2,

on which neither the logit propensity nor the linear outcome model is right.
For each of ``--reps`` seeded draws of ``--n`` rows every method estimates
the ATE; a draw it refuses (``CausalInputError``) counts as a refusal and is
left out of its RMSE. The peer, DoubleML's ``DoubleMLIRM`` with random-forest
nuisances (``--peer-python``: a throwaway virtualenv with ``doubleml``
installed, never this project's requirements), runs in a subprocess on the same
draws. Results go to ``bench/results/kang_schafer.md``.

    .venv/bin/python bench/kang_schafer.py --peer-python /tmp/peers_Q/bin/python [--reps 30] [--n 1000]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.special import expit  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import causal_core as cc  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "kang_schafer.md"
DRAWS = ROOT / "bench" / "results" / "kang_schafer_draws.jsonl"
PEER_KEY = "peer"
TAU = 10.0
COVARIATES = ["x1", "x2", "x3", "x4"]
ROLES = cc.Roles(treatment="treat", outcome="y", confounders=COVARIATES)
#: (row label, method id, options, family) in the order of the table.
METHODS = (
    ("entropy balancing, means (cvxpy)", "entropy_balancing", {"solver": "cvxpy"}, "balancing"),
    ("entropy balancing, means (newton)", "entropy_balancing", {}, "balancing"),
    ("entropy balancing, moments=2", "entropy_balancing", {"moments": 2}, "balancing"),
    ("entropy balancing, moments=3", "entropy_balancing", {"moments": 3}, "balancing"),
    ("entropy balancing, moments=2 + interactions", "entropy_balancing", {"moments": 2, "interactions": True},
     "balancing"),
    ("entropy balancing, basis='auto'", "entropy_balancing", {"basis": "auto"}, "balancing"),
    ("approximate_residual_balancing, means", "approximate_residual_balancing", {}, "balancing"),
    ("approximate_residual_balancing, basis='auto'", "approximate_residual_balancing", {"basis": "auto"},
     "balancing"),
    ("ipw (logit)", "ipw", {}, "weighting"),
    ("doubly_robust (logit + OLS)", "doubly_robust", {}, "doubly robust"),
    ("doubly_robust (random forests, cross-fitted)", "doubly_robust",
     {"propensity_model": "random_forest", "outcome_model": "random_forest", "cross_fit": True}, "doubly robust"),
    ("dr_learner (defaults)", "dr_learner", {}, "doubly robust"),
)
REFERENCE = "entropy balancing, means (cvxpy)"
AUTO_LABEL = "entropy balancing, basis='auto'"


def design(n: int, seed: int) -> pd.DataFrame:
    """One Kang-Schafer draw with the misspecified covariates x1..x4 and effect ``TAU``."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 4))
    treat = rng.binomial(1, expit(-z[:, 0] + 0.5 * z[:, 1] - 0.25 * z[:, 2] - 0.1 * z[:, 3]))
    y = 210 + TAU * treat + 27.4 * z[:, 0] + 13.7 * (z[:, 1] + z[:, 2] + z[:, 3]) + rng.normal(size=n)
    return pd.DataFrame({
        "x1": np.exp(z[:, 0] / 2),
        "x2": z[:, 1] / (1 + np.exp(z[:, 0])) + 10,
        "x3": (z[:, 0] * z[:, 2] / 25 + 0.6) ** 3,
        "x4": (z[:, 1] + z[:, 3] + 20) ** 2,
        "treat": treat,
        "y": y,
    })


_PEER_SCRIPT = r"""
import json, os, sys, time, warnings
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"
import numpy as np
import doubleml as dml
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
warnings.filterwarnings("ignore")
draws = np.load(sys.argv[1])
out = []
for key in sorted(draws.files, key=lambda k: int(k.split("_")[1])):
    seed = int(key.split("_")[1])
    a = draws[key]
    x, d, y = a[:, :4], a[:, 4], a[:, 5]
    start = time.perf_counter()
    data = dml.DoubleMLData.from_arrays(x, y, d)
    ml_g = RandomForestRegressor(n_estimators=200, min_samples_leaf=5, random_state=seed, n_jobs=1)
    ml_m = RandomForestClassifier(n_estimators=200, min_samples_leaf=5, random_state=seed, n_jobs=1)
    np.random.seed(seed)
    model = dml.DoubleMLIRM(data, ml_g, ml_m, n_folds=5, score="ATE")
    model.fit()
    low, high = np.asarray(model.confint(level=0.95)).ravel()
    out.append({"seed": seed, "estimate": float(model.coef[0]), "se": float(model.se[0]),
                "ci_low": float(low), "ci_high": float(high), "seconds": time.perf_counter() - start})
print(json.dumps({"version": dml.__version__, "rows": out}))
"""


def run_peer(frames: dict[int, pd.DataFrame], python: str) -> tuple[str, list[dict]]:
    """DoubleML IRM on the same draws, in ``python``.

    Nuisances: the same forests as this project's ``"random_forest"`` models
    (200 trees, at least 5 rows a leaf, scikit-learn's other defaults), 5-fold
    cross-fitting, DoubleML's default propensity trimming (0.01).
    """
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "draws.npz"
        np.savez(path, **{f"seed_{seed}": df[COVARIATES + ["treat", "y"]].to_numpy(float)
                          for seed, df in frames.items()})
        done = subprocess.run([python, "-c", _PEER_SCRIPT, str(path)], check=True, capture_output=True, text=True)
    payload = json.loads(done.stdout.strip().splitlines()[-1])
    return f"DoubleML {payload['version']} IRM", payload["rows"]


def run_project(frames: dict[int, pd.DataFrame], labels: list[str], cache: dict[str, dict[int, dict]],
                cache_path: Path) -> None:
    """Each method in ``labels`` on each draw, skipping the (method, draw) pairs already in ``cache``."""
    specs = {label: (method, options) for label, method, options, _ in METHODS}
    for seed, df in frames.items():
        for label in labels:
            if seed in cache.setdefault(label, {}):
                continue
            method, options = specs[label]
            start = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    r = cc.estimate(df, ROLES, method, estimand="ATE", seed=seed, **options)
                row = {"seed": seed, "estimate": r.estimate, "se": r.std_error, "ci_low": r.ci_low,
                       "ci_high": r.ci_high, "seconds": time.perf_counter() - start,
                       "basis": r.diagnostics.get("basis", "")}
            except cc.CausalInputError as exc:
                row = {"seed": seed, "refused": str(exc), "seconds": time.perf_counter() - start}
            cache[label][seed] = row
            with cache_path.open("a") as handle:
                handle.write(json.dumps({"label": label, "n": len(df), **row}) + "\n")
        print(f"seed {seed} done", file=sys.stderr, flush=True)


def load_cache(path: Path, n: int) -> dict[str, dict[int, dict]]:
    """Rows already computed for this ``n``: ``{label: {seed: row}}`` (the file is one JSON row a line)."""
    cache: dict[str, dict[int, dict]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if row.pop("n", n) == n:
                cache.setdefault(row.pop("label"), {})[row["seed"]] = row
    return cache


def summarise(rows: list[dict]) -> dict[str, float]:
    fitted = [r for r in rows if "estimate" in r]
    est = np.array([r["estimate"] for r in fitted])
    cover = np.array([r["ci_low"] <= TAU <= r["ci_high"] for r in fitted])
    return {
        "rmse": float(np.sqrt(np.mean((est - TAU) ** 2))) if est.size else float("nan"),
        "bias": float(np.mean(est - TAU)) if est.size else float("nan"),
        "sd": float(np.std(est, ddof=1)) if est.size > 1 else float("nan"),
        "coverage": float(cover.mean()) if est.size else float("nan"),
        "refused": len(rows) - len(fitted),
        "draws": len(rows),
        "seconds": float(np.mean([r["seconds"] for r in rows])),
    }


def paired_ratio_interval(rows: list[dict], peer_rows: list[dict], *, reps: int = 2000, seed: int = 0) -> tuple[float, float]:
    """90% paired-bootstrap interval (over draws) of RMSE(rows) / RMSE(peer_rows), on the draws both estimated."""
    ours = {r["seed"]: r["estimate"] for r in rows if "estimate" in r}
    theirs = {r["seed"]: r["estimate"] for r in peer_rows if "estimate" in r}
    seeds = sorted(set(ours) & set(theirs))
    a = np.array([ours[k] for k in seeds]) - TAU
    b = np.array([theirs[k] for k in seeds]) - TAU
    picks = np.random.default_rng(seed).integers(0, len(seeds), size=(reps, len(seeds)))
    ratios = np.sqrt((a[picks] ** 2).mean(axis=1) / (b[picks] ** 2).mean(axis=1))
    return float(np.quantile(ratios, 0.05)), float(np.quantile(ratios, 0.95))


def _bases_used(rows: list[dict]) -> str:
    counts = pd.Series([r.get("basis", "") for r in rows if "estimate" in r]).value_counts()
    return "; ".join(f"{basis} x{count}" for basis, count in counts.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--peer-python", default="", help="python of a virtualenv with doubleml installed")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--draws", default=str(DRAWS),
                        help="one JSON row per (method, draw), reused by later runs (delete it to start afresh)")
    parser.add_argument("--only", default="", help="run only the methods whose label contains this text")
    parser.add_argument("--skip", default="", help="leave out the methods whose label contains this text")
    parser.add_argument("--no-report", action="store_true", help="compute and store the draws, write no table")
    args = parser.parse_args()
    frames = {seed: design(args.n, seed) for seed in range(args.reps)}
    draws_path = Path(args.draws)
    cache = load_cache(draws_path, args.n)
    labels = [label for label, *_ in METHODS if args.only in label and not (args.skip and args.skip in label)]
    if args.only == PEER_KEY:
        labels = []
    run_project(frames, labels, cache, draws_path)
    if args.peer_python and (not args.only or args.only == PEER_KEY):
        missing = {seed: df for seed, df in frames.items() if seed not in cache.get(PEER_KEY, {})}
        if missing:
            version, peer_rows = run_peer(missing, args.peer_python)
            with draws_path.open("a") as handle:
                for row in peer_rows:
                    cache.setdefault(PEER_KEY, {})[row["seed"]] = row
                    handle.write(json.dumps({"label": PEER_KEY, "n": args.n, "version": version, **row}) + "\n")
    if args.no_report:
        return
    project = {label: [cache[label][seed] for seed in frames if seed in cache.get(label, {})]
               for label, *_ in METHODS}
    summaries = {label: summarise(rows) for label, rows in project.items() if rows}
    families = {label: family for label, _, _, family in METHODS}
    peer_label = ""
    peer_rows = [cache[PEER_KEY][seed] for seed in frames if seed in cache.get(PEER_KEY, {})]
    if peer_rows:
        peer_label = f"{peer_rows[0].get('version', 'DoubleML IRM')} (random forests)"
        summaries[peer_label] = summarise(peer_rows)
        families[peer_label] = "peer (doubly robust)"
    counts = {label: len(rows) for label, rows in project.items()}
    reference = summaries[REFERENCE]["rmse"]
    lines = [
        "# Kang & Schafer (2007), misspecified covariates",
        "",
        f"`.venv/bin/python bench/kang_schafer.py{' --peer-python ' + args.peer_python if args.peer_python else ''}"
        f" --reps {args.reps} --n {args.n}` ({platform.machine()}, {os.cpu_count()} cores shared with other jobs,"
        f" one BLAS thread; the seconds are wall clock on that loaded machine). One row per (method, draw) is in"
        f" `bench/results/{DRAWS.name}`.",
        "",
        f"n = {args.n}, {args.reps} seeded draws (seeds 0..{args.reps - 1}); Y = 210 + 10 T + 27.4 Z1 + 13.7 (Z2 + Z3 + Z4)"
        " + N(0, 1), so the effect is 10 for every unit; the ATE is estimated from the transformed covariates"
        " X1 = exp(Z1/2), X2 = Z2/(1+exp(Z1)) + 10, X3 = (Z1 Z3/25 + 0.6)^3, X4 = (Z2 + Z4 + 20)^2."
        " RMSE, bias, SD and coverage (of the 95% interval) are over the draws a method did not refuse;"
        f" 'ratio' is the RMSE over that of {REFERENCE} ({reference:.3f}).",
        "",
        "| method | family | draws | RMSE | ratio | bias | SD | coverage | refused | s per draw |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, s in summaries.items():
        lines.append(f"| {label} | {families[label]} | {s['draws']} | {s['rmse']:.3f} | {s['rmse'] / reference:.2f} | "
                     f"{s['bias']:+.3f} | {s['sd']:.3f} | {s['coverage']:.2f} | {s['refused']} | {s['seconds']:.2f} |")
    lines += ["", f"Bases chosen by basis='auto': {_bases_used(project[AUTO_LABEL])}.", ""]
    for label, rows in project.items():
        for row in rows:
            if "refused" in row:
                lines.append(f"- Refused: {label}, seed {row['seed']}: {row['refused'].split(':')[0].rstrip('.')}.")
    lines.append("")
    balancing = {k: v for k, v in summaries.items() if families[k] == "balancing" and v["refused"] == 0}
    best_bal = min(balancing, key=lambda k: balancing[k]["rmse"])
    ratio = balancing[best_bal]["rmse"] / reference
    lines.append(f"- Goal 1 (best balancing method without refusals under 0.5x means-only entropy balancing): "
                 f"{'MET' if ratio < 0.5 else 'NOT MET'}: {best_bal}, ratio {ratio:.2f}, "
                 f"coverage {balancing[best_bal]['coverage']:.2f}.")
    if peer_label:
        robust = {k: v for k, v in summaries.items() if families[k] == "doubly robust"}
        best_dr = min(robust, key=lambda k: robust[k]["rmse"])
        peer = summaries[peer_label]
        dr_ratio = robust[best_dr]["rmse"] / peer["rmse"]
        low, high = paired_ratio_interval(project[best_dr], peer_rows)
        lines.append(f"- Goal 2 (best doubly robust method at or below {peer_label}): "
                     f"{'MET' if dr_ratio <= 1.0 else 'NOT MET'}: {best_dr}, RMSE {robust[best_dr]['rmse']:.3f} vs "
                     f"{peer['rmse']:.3f} ({dr_ratio:.2f}x; 90% paired bootstrap over the draws {low:.2f}-{high:.2f}x,"
                     f" so {'a tie within Monte Carlo error' if low < 1 < high else 'a clear difference'}), "
                     f"coverage {robust[best_dr]['coverage']:.2f} vs {peer['coverage']:.2f}.")
        for label in robust:
            if label != best_dr:
                low, high = paired_ratio_interval(project[label], peer_rows)
                lines.append(f"  - {label}: {robust[label]['rmse'] / peer['rmse']:.2f}x the peer's RMSE "
                             f"(90% paired bootstrap {low:.2f}-{high:.2f}x), coverage {robust[label]['coverage']:.2f}.")
    else:
        lines.append("- Goal 2: not measured (no --peer-python given).")
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
