"""Causal forest and double ML against the DR-learner: sqrt(PEHE), ATE bias and coverage, CATE interval coverage.

Design A (``causal_core.datasets.simulate.heterogeneous_confounded``, the design of
``bench/heterogeneity.py``): unit effect 1 + x1, confounded treatment. Design B
(below): a nonlinear effect with an interaction, ``tau = 1 + 2 expit(3 x1) 1[x2 > -0.5]``,
the same confounding. Every method runs at its defaults (the causal forest:
200 honest trees on 5-fold cross-fitted linear / logit nuisances); the forest is also run with
EconML's ``outcome_model="auto"`` and with boosting. Design C is the heterogeneity-speed design of
``bench/heterogeneity_speed.py`` (10 covariates, effect 1.5 + x1 - 0.5 x3^2, a nonlinear outcome).

For each design and method: mean sqrt(PEHE) (sqrt mean (tau_hat - tau)^2), the
constant predictor's, the mean ATE bias against the sample ATE, the 95%
interval coverage of the ATE, and for methods with per-row intervals the mean
(and lowest) share of rows whose 95% CATE interval covers their true effect.
EconML's ``CausalForestDML`` at its own defaults is run beside them as the reference.

    .venv/bin/python bench/heterogeneity_forest.py --reps 8 --n 1500
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

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
           ("dml", "dml", {}), ("dr_learner", "dr_learner", {}))
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
                start = time.perf_counter()
                cate, estimate, ci_low, ci_high, low, high = _one(method, options, df, rep)
                seconds = time.perf_counter() - start
                rows.append({
                    "design": design, "method": label, "rep": rep,
                    "pehe": float(np.sqrt(np.mean((cate - tau) ** 2))),
                    "constant_pehe": float(np.std(tau)), "bias": estimate - float(tau.mean()),
                    "covered": ci_low <= tau.mean() <= ci_high,
                    "cate_coverage": float(np.mean((low <= tau) & (tau <= high))) if low is not None else np.nan,
                    "seconds": seconds})
    raw = pd.DataFrame(rows)
    return raw.groupby(["design", "method"], sort=False).agg(
        sqrt_pehe=("pehe", "mean"), constant_sqrt_pehe=("constant_pehe", "mean"), ate_bias=("bias", "mean"),
        ate_coverage=("covered", "mean"), cate_interval_coverage=("cate_coverage", "mean"),
        lowest_cate_coverage=("cate_coverage", "min"), seconds=("seconds", "mean")).reset_index()


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
    text = (f"# Causal forest and double ML benchmark\n\n{args.reps} replications, n = {args.n}, every method "
            "at its defaults, one core. The last row of each design is EconML's CausalForestDML at the "
            "library's own defaults (the issue's reference); its ATE is EconML's ate_.\n\n" + markdown(table) + "\n")
    out = ROOT / "bench" / "results" / "heterogeneity_forest.md"
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
