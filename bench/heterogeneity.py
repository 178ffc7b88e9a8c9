"""Heterogeneity benchmark: PEHE and ATE bias of the CATE learners, and subgroup recovery by the mixture method.

Design A (``causal_core.datasets.simulate.heterogeneous_confounded``): unit effect 1 + x1,
confounded treatment, n rows per replication. For every learner it reports the
mean PEHE (sqrt mean (tau_hat - tau)^2), the PEHE of the constant true-ATE
predictor, the mean ATE bias against the sample ATE, the mean standard error,
the SD of the estimates across replications and the 95% interval coverage.

Design B (``tests/designs_heterogeneity.three_cluster_design``): three
well-separated covariate clusters with effects 1, 3, -1; reports how often
BIC picks 3 subgroups, the subgroup-effect errors in units of their own SEs,
and the overall-ATE coverage.

    .venv/bin/python bench/heterogeneity.py --reps 10 --n 1500
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import causal_core as cc  # noqa: E402
from causal_core.datasets.simulate import heterogeneous_confounded  # noqa: E402
from designs_heterogeneity import CLUSTER_EFFECTS, CLUSTER_ROLES, three_cluster_design  # noqa: E402

ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3"])
LEARNERS = {
    "s_learner": {},  # default SE: the cross-fitted influence function (add "n_boot": 30 for the bootstrap)
    "t_learner": {},
    "x_learner": {},
    "dr_learner": {},
    "tarnet": {},
    "tarnet (CFR, MMD alpha=1)": {"cfr_penalty": 1.0},
}


def learners(reps: int, n: int) -> pd.DataFrame:
    rows = []
    for rep in range(reps):
        df, truth = heterogeneous_confounded(n=n, seed=1000 + rep)
        tau = 1.0 + df["x1"].to_numpy()
        constant = float(np.sqrt(np.mean((tau - tau.mean()) ** 2)))
        for label, options in LEARNERS.items():
            method = label.split(" ")[0]
            start = time.perf_counter()
            r = cc.estimate(df, ROLES, method, seed=rep, **options)
            rows.append({"learner": label, "rep": rep, "pehe": float(np.sqrt(np.mean((r.unit_effects - tau) ** 2))),
                         "constant_pehe": constant, "bias": r.estimate - truth["SATE"], "se": r.std_error,
                         "covered": r.ci_low <= truth["SATE"] <= r.ci_high, "seconds": time.perf_counter() - start})
    raw = pd.DataFrame(rows)
    return raw.groupby("learner", sort=False).agg(
        pehe=("pehe", "mean"), constant_pehe=("constant_pehe", "mean"), ate_bias=("bias", "mean"),
        mean_se=("se", "mean"), sd_estimate=("bias", "std"), coverage=("covered", "mean"),
        seconds=("seconds", "mean")).reset_index()


def subgroups(reps: int, n: int) -> pd.DataFrame:
    rows = []
    for rep in range(reps):
        df, cluster, tau = three_cluster_design(n, seed=2000 + rep)
        r = cc.estimate(df, CLUSTER_ROLES, "gmm_subgroups", seed=rep)
        labels, table = r.diagnostics["assignments"], r.diagnostics["subgroups"]
        z = []
        for _, row in table.iterrows():
            members = labels == row["subgroup"]
            z.append((row["estimate"] - CLUSTER_EFFECTS[np.bincount(cluster[members]).argmax()]) / row["std_error"])
        rows.append({"rep": rep, "k": r.diagnostics["n_subgroups"], "max_abs_z": float(np.max(np.abs(z))),
                     "covered": r.ci_low <= tau.mean() <= r.ci_high, "bias": r.estimate - tau.mean()})
    raw = pd.DataFrame(rows)
    return pd.DataFrame([{"replications": reps, "n": n, "share_k_3": float((raw["k"] == 3).mean()),
                          "max_subgroup_abs_z": raw["max_abs_z"].max(), "overall_bias": raw["bias"].mean(),
                          "overall_coverage": raw["covered"].mean()}])


def markdown(table: pd.DataFrame) -> str:
    """A pipe table (pandas' to_markdown needs the optional tabulate package)."""
    def cell(v):
        return f"{v:.3f}" if isinstance(v, (float, np.floating)) else str(v)
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--n", type=int, default=1500)
    args = parser.parse_args()
    a = learners(args.reps, args.n)
    b = subgroups(args.reps, args.n)
    text = (f"# Heterogeneity benchmark\n\n{args.reps} replications, n = {args.n}.\n\n"
            "## CATE learners (effect 1 + x1, confounded)\n\n" + markdown(a) +
            "\n\n## Gaussian-mixture subgroups (three clusters, effects 1, 3, -1)\n\n" +
            markdown(b) + "\n")
    out = ROOT / "bench" / "results" / "heterogeneity.md"
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
