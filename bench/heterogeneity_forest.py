"""Causal forest and double ML against the DR-learner: sqrt(PEHE), ATE bias and coverage, CATE interval coverage.

Design A (``causal_core.datasets.simulate.heterogeneous_confounded``, the design of
``bench/heterogeneity.py``): unit effect 1 + x1, confounded treatment. Design B
(below): a nonlinear effect with an interaction, ``tau = 1 + 2 expit(3 x1) 1[x2 > -0.5]``,
the same confounding. Every method runs at its defaults (the causal forest:
200 honest trees on 5-fold cross-fitted linear / logit nuisances); the forest is also run with
EconML's ``outcome_model="auto"`` and with boosting, ``dml`` at its default final-stage basis chosen by the
cross-validated R-loss (``final_model="auto"``), with the linear basis and with squares (``"polynomial"``). Design C is the heterogeneity-speed design of
``bench/heterogeneity_speed.py`` (10 covariates, effect 1.5 + x1 - 0.5 x3^2, a nonlinear outcome).

For each design and method: mean sqrt(PEHE) (sqrt mean (tau_hat - tau)^2), the
constant predictor's, the mean ATE bias against the sample ATE, the 95%
interval coverage of the ATE, and for methods with per-row intervals the mean
(and lowest) share of rows whose 95% CATE interval covers their true effect, with the Monte Carlo
standard errors (SD over replications / sqrt(reps)) of the mean sqrt(PEHE) and of the mean coverage.
EconML's ``CausalForestDML`` at its own defaults is run beside them as the reference. A second table
names each design's best project method (lowest mean sqrt(PEHE) among the rows with per-row
intervals) beside the reference. Seconds are CPU seconds of the process (``time.process_time``),
one BLAS/OpenMP thread. Sections of the results file from ``## `` on are kept as they are.

    .venv/bin/python bench/heterogeneity_forest.py --reps 8 --n 1500
"""
from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import causal_core as cc  # noqa: E402
from causal_core.datasets.simulate import heterogeneous_confounded  # noqa: E402

ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3"])
#: (row label, method, options); every other option at its default.
METHODS = (("causal_forest", "causal_forest", {}),
           ("causal_forest (outcome_model='auto')", "causal_forest", {"outcome_model": "auto"}),
           ("causal_forest (outcome_model='gradient_boosting')", "causal_forest",
            {"outcome_model": "gradient_boosting"}),
           ("dml", "dml", {}), ("dml (final_model='linear')", "dml", {"final_model": "linear"}),
           ("dml (final_model='polynomial')", "dml", {"final_model": "polynomial"}),
           ("dr_learner", "dr_learner", {}))
#: The reference of the issue's goal: EconML's CausalForestDML at the library's own defaults (its 'auto'
#: nuisance models, 2-fold cross-fitting, 100 trees), run directly on the arrays, one job.
LIBRARY_DEFAULTS = "econml CausalForestDML (library defaults)"


def design_a(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    df, _ = heterogeneous_confounded(n=n, seed=seed)
    return df, 1.0 + df["x1"].to_numpy()


def design_b(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    from scipy.special import expit

    rng = np.random.default_rng(seed)
    x1, x2, x3 = rng.normal(size=(3, n))
    t = rng.binomial(1, expit(0.8 * x1 - 0.4 * x2))
    tau = 1.0 + 2.0 * expit(3.0 * x1) * (x2 > -0.5)
    y = 0.5 + tau * t + x1 + 0.5 * x2 + 0.5 * x3 + rng.normal(size=n)
    return pd.DataFrame({"x1": x1, "x2": x2, "x3": x3, "treat": t, "y": y}), tau


def design_c(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    sys.path.insert(0, str(ROOT / "bench"))
    from heterogeneity_speed import design

    return design(n, seed)


DESIGNS = {"A: tau = 1 + x1": design_a, "B: tau = 1 + 2 expit(3 x1) 1[x2 > -0.5]": design_b,
           "C: 10 covariates, tau = 1.5 + x1 - 0.5 x3^2": design_c}


def _roles(df: pd.DataFrame) -> cc.Roles:
    return cc.Roles(treatment="treat", outcome="y", confounders=[c for c in df.columns if c.startswith("x")])


def library_defaults(df: pd.DataFrame, seed: int) -> tuple[np.ndarray, float, float, np.ndarray, np.ndarray]:
    """EconML's CausalForestDML at its defaults: (CATE, ATE, its SE, CATE interval low, high)."""
    from econml.dml import CausalForestDML

    X = df[list(_roles(df).confounders)].to_numpy()
    forest = CausalForestDML(discrete_treatment=True, random_state=seed, n_jobs=1)
    forest.fit(df["y"].to_numpy(), df["treat"].to_numpy(), X=X)
    low, high = (np.ravel(b) for b in forest.effect_interval(X, alpha=0.05))
    return (np.ravel(forest.effect(X)), float(np.ravel(forest.ate_)[0]), float(np.ravel(forest.ate_stderr_)[0]),
            low, high)


def _one(method: str, options: dict, df: pd.DataFrame, seed: int
         ) -> tuple[np.ndarray, float, float, float, np.ndarray, np.ndarray]:
    """(CATE, estimate, ci_low, ci_high, CATE interval low, high or None) of one method on one draw."""
    if method == LIBRARY_DEFAULTS:
        cate, ate, se, low, high = library_defaults(df, seed)
        return cate, ate, ate - 1.959964 * se, ate + 1.959964 * se, low, high
    r = cc.estimate(df, _roles(df), method, seed=seed, **options)
    return (r.unit_effects, r.estimate, r.ci_low, r.ci_high, r.diagnostics.get("cate_ci_low"),
            r.diagnostics.get("cate_ci_high"))


def run(reps: int, n: int) -> pd.DataFrame:
    rows = []
    for design, simulate in DESIGNS.items():
        for rep in range(reps):
            df, tau = simulate(n, 1000 + rep)
            for label, method, options in (*METHODS, (LIBRARY_DEFAULTS, LIBRARY_DEFAULTS, {})):
                start = time.process_time()
                cate, estimate, ci_low, ci_high, low, high = _one(method, options, df, rep)
                seconds = time.process_time() - start
                rows.append({
                    "design": design, "method": label, "rep": rep,
                    "pehe": float(np.sqrt(np.mean((cate - tau) ** 2))),
                    "constant_pehe": float(np.std(tau)), "bias": estimate - float(tau.mean()),
                    "covered": ci_low <= tau.mean() <= ci_high,
                    "cate_coverage": float(np.mean((low <= tau) & (tau <= high))) if low is not None else np.nan,
                    "seconds": seconds})
    raw = pd.DataFrame(rows)

    def mc_se(values: pd.Series) -> float:
        return float(values.std(ddof=1) / np.sqrt(values.count())) if values.count() > 1 else np.nan

    return raw.groupby(["design", "method"], sort=False).agg(
        sqrt_pehe=("pehe", "mean"), sqrt_pehe_mc_se=("pehe", mc_se), constant_sqrt_pehe=("constant_pehe", "mean"),
        ate_bias=("bias", "mean"), ate_coverage=("covered", "mean"), cate_interval_coverage=("cate_coverage", "mean"),
        cate_coverage_mc_se=("cate_coverage", mc_se), lowest_cate_coverage=("cate_coverage", "min"),
        seconds=("seconds", "mean")).reset_index()


def best_against_reference(table: pd.DataFrame) -> pd.DataFrame:
    """Per design: the project method with per-row intervals and the lowest mean sqrt(PEHE), beside EconML's."""
    rows = []
    for design, group in table.groupby("design", sort=False):
        reference = group[group["method"] == LIBRARY_DEFAULTS].iloc[0]
        ours = group[(group["method"] != LIBRARY_DEFAULTS) & group["cate_interval_coverage"].notna()]
        best = ours.loc[ours["sqrt_pehe"].idxmin()]
        rows.append({"design": design, "best project method": best["method"], "sqrt_pehe": best["sqrt_pehe"],
                     "cate_interval_coverage": best["cate_interval_coverage"],
                     "coverage_mc_se": best["cate_coverage_mc_se"], "econml sqrt_pehe": reference["sqrt_pehe"],
                     "econml coverage": reference["cate_interval_coverage"],
                     "sqrt_pehe ratio (project / econml)": best["sqrt_pehe"] / reference["sqrt_pehe"]})
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame) -> str:
    def cell(v):
        if isinstance(v, (float, np.floating)):
            return "—" if np.isnan(v) else f"{v:.3f}"
        return str(v)
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=8)
    parser.add_argument("--n", type=int, default=1500)
    args = parser.parse_args()
    table = run(args.reps, args.n)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    text = (f"# Causal forest and double ML benchmark\n\n{args.reps} replications, n = {args.n}, every method "
            "at its defaults unless named, one thread; seconds are CPU seconds. The last row of each design is "
            "EconML's CausalForestDML at the library's own defaults (the issue's reference); its ATE is EconML's "
            "ate_. `*_mc_se`: Monte Carlo standard error over the replications.\n\n" + markdown(table) + "\n\n"
            "## Best project method per design against the reference\n\nThe project method with per-row "
            "intervals and the lowest mean sqrt(PEHE), from the table above.\n\n"
            + markdown(best_against_reference(table)) + "\n\n"
            f"Generated by `bench/heterogeneity_forest.py --reps {args.reps} --n {args.n}` on "
            f"{datetime.date.today().isoformat()} (load average {load}); the sections below were measured "
            "earlier by one-off sweeps and are kept from the previous file.\n")
    out = ROOT / "bench" / "results" / "heterogeneity_forest.md"
    kept = _earlier_sections(out)
    out.write_text(text + kept)
    print(text)


#: Sections of the results file measured once by hand-run settings sweeps; the script keeps them.
KEPT_SECTIONS = ("## Forest settings", "## Nuisance settings")


def _earlier_sections(path: Path) -> str:
    """The sections of ``path`` listed in :data:`KEPT_SECTIONS` (from the first to the end), or ``""``."""
    if not path.exists():
        return ""
    old = path.read_text()
    starts = [old.find("\n" + heading) for heading in KEPT_SECTIONS if old.find("\n" + heading) >= 0]
    return old[min(starts):] if starts else ""


if __name__ == "__main__":
    main()
