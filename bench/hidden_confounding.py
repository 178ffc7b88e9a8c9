"""Hidden confounding and hidden selection: 2SLS, Heckman and front-door adjustment vs the naive contrast.

For each simulated design (generators in ``tests/designs_hidden.py``) the
script draws ``--reps`` data sets, runs the method through
``causal_core.estimate`` and the naive contrast beside it, and prints bias,
SD, RMSE, mean reported SE and 95% CI coverage. Results go to
``bench/results/hidden_confounding.md``.

Usage::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/hidden_confounding.py            # about 3 CPU-minutes
    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/hidden_confounding.py --reps 50  # quick check
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import causal_core as cc  # noqa: E402
from designs_hidden import (  # noqa: E402
    FRONT_DOOR_ROLES,
    HECKMAN_ROLES,
    IV_ROLES,
    front_door_data,
    iv_data,
    selection_data,
)

RESULTS = ROOT / "bench" / "results" / "hidden_confounding.md"


def _ols_coefficient(df: pd.DataFrame, outcome: str, regressors: list[str], target: str) -> float:
    design = sm.add_constant(df[regressors].astype(float), has_constant="add")
    return float(sm.OLS(df[outcome], design, missing="drop").fit().params[target])


def _design_list(reps: int, fd_boot: int) -> list[dict]:
    """(label, generator(seed) -> (df, truth), method, roles, options, naive(df) -> float, naive label, reps)."""
    fd_roles_x = cc.Roles(treatment="treat", outcome="y", mechanisms=["m"], confounders=["x1"])
    designs = [
        dict(label="IV, continuous treatment, n=1000", data=lambda s: iv_data(n=1000, seed=s),
             method="two_stage_least_squares", roles=IV_ROLES, options={}, estimand="LATE",
             naive=lambda d: _ols_coefficient(d, "y", ["treat", "x1"], "treat"), naive_label="OLS on treat, x1", reps=reps),
        dict(label="IV, binary treatment, n=1000", data=lambda s: iv_data(n=1000, seed=s, binary_treatment=True),
             method="two_stage_least_squares", roles=IV_ROLES, options={}, estimand="LATE",
             naive=lambda d: _ols_coefficient(d, "y", ["treat", "x1"], "treat"), naive_label="OLS on treat, x1", reps=reps),
        dict(label="IV, weak instrument (F~5), n=1000", data=lambda s: iv_data(n=1000, seed=s, first_stage=0.22),
             method="two_stage_least_squares", roles=IV_ROLES, options={}, estimand="LATE",
             naive=lambda d: _ols_coefficient(d, "y", ["treat", "x1"], "treat"), naive_label="OLS on treat, x1", reps=reps),
        dict(label="Heckman, rho=0.8, n=1000", data=lambda s: selection_data(n=1000, seed=s),
             method="heckman", roles=HECKMAN_ROLES, options={}, estimand="ATE",
             naive=lambda d: _ols_coefficient(d, "y", ["treat", "x1"], "treat"), naive_label="OLS on selected rows", reps=reps),
    ]
    for kind, n, roles, cov in [("discrete", 1000, FRONT_DOOR_ROLES, False), ("linear", 1000, fd_roles_x, True),
                                ("nonparametric", 1000, FRONT_DOOR_ROLES, False)]:
        designs.append(dict(
            label=f"Front door, {kind} mechanism{' + covariate' if cov else ''}, n={n}",
            data=lambda s, kind=kind, n=n, cov=cov: front_door_data(n=n, seed=s, kind=kind, with_covariate=cov),
            method="front_door", roles=roles, options={"mechanism_type": kind, "n_boot": fd_boot}, estimand="ATE",
            naive=lambda d: float(d.loc[d.treat == 1, "y"].mean() - d.loc[d.treat == 0, "y"].mean()),
            naive_label="difference in means", reps=reps if kind != "nonparametric" else max(20, reps // 2),
        ))
    return designs


def run_design(design: dict) -> dict:
    estimates, ses, covered, naive = [], [], [], []
    refused = 0
    start = time.process_time()
    truth = None
    for rep in range(design["reps"]):
        df, truth = design["data"](10_000 + rep)
        naive.append(design["naive"](df))
        try:
            result = cc.estimate(df, design["roles"], design["method"], estimand=design["estimand"], seed=rep,
                                 **design["options"])
        except cc.CausalInputError:
            refused += 1
            continue
        estimates.append(result.estimate)
        ses.append(result.std_error)
        covered.append(result.ci_low <= truth <= result.ci_high)
    est, nv = np.asarray(estimates), np.asarray(naive)
    return {
        "design": design["label"],
        "method": design["method"],
        "truth": truth,
        "reps": design["reps"],
        "bias": est.mean() - truth,
        "sd": est.std(ddof=1),
        "rmse": float(np.sqrt(np.mean((est - truth) ** 2))),
        "mean_se": float(np.mean(ses)),
        "coverage": float(np.mean(covered)),
        "refused": refused,
        "naive": design["naive_label"],
        "naive_bias": nv.mean() - truth,
        "naive_sd": nv.std(ddof=1),
        "naive_rmse": float(np.sqrt(np.mean((nv - truth) ** 2))),
        "cpu_s_per_fit": (time.process_time() - start) / design["reps"],
    }


def _markdown(table: pd.DataFrame) -> str:
    """A GitHub table without the optional ``tabulate`` dependency."""
    def cell(value) -> str:
        return f"{value:.3f}" if isinstance(value, (float, np.floating)) else str(value)

    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "---|" * table.shape[1]
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--fd-boot", type=int, default=100, help="bootstrap replicates per front-door fit")
    args = parser.parse_args(argv)
    rows = []
    for design in _design_list(args.reps, args.fd_boot):
        row = run_design(design)
        rows.append(row)
        print(f"{row['design']}: bias {row['bias']:+.3f}, SD {row['sd']:.3f}, RMSE {row['rmse']:.3f}, "
              f"coverage {row['coverage']:.2f}; naive bias {row['naive_bias']:+.3f}", flush=True)
    table = pd.DataFrame(rows)
    RESULTS.parent.mkdir(exist_ok=True)
    lines = [
        "# Hidden confounding / hidden selection benchmark",
        "",
        f"`bench/hidden_confounding.py --reps {args.reps} --fd-boot {args.fd_boot}`; designs in `tests/designs_hidden.py`.",
        "Coverage is of the method's 95% interval (normal for 2SLS and Heckman, bootstrap percentile for front door);",
        f"with {args.reps} replications its Monte Carlo SE is about {np.sqrt(0.95 * 0.05 / args.reps):.3f}.",
        "",
        _markdown(table),
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
