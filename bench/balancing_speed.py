"""DCB and ARB before/after: seconds and numbers of the old code (read from git) and the new, in one run.

The old code is the balancing modules at commit ``OLD_COMMIT`` (before the
fast solvers), read with ``git show`` and executed up to their ``@register``
line, so only their pure functions (``dcb_weights``; ARB's ``_arm_mean`` with
the cvxpy programme and ``ElasticNetCV(precompute='auto')``) are used. For
LaLonde PSID and CPS (ATT; V-RAW and V-INTERACTION), it times

- DCB: one weight fit of the controls (old ``dcb_weights`` vs new), and the
  difference of the two ATTs in units of the new bootstrap SE;
- ARB: the control arm's elastic net + balancing programme (old ``_arm_mean``
  vs new), the two ATTs and plug-in SEs; and the balancing programme alone,
  cvxpy's formulation vs the dual;
- the full default ``cc.estimate`` of both methods (new code), which for DCB
  includes its 100 bootstrap refits.

Usage::

    .venv/bin/python bench/balancing_speed.py [--samples lalonde_psid lalonde_cps] [--skip-old-dcb-interaction]

Writes ``bench/results/balancing_speed.md``.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import causal_core as cc  # noqa: E402
from causal_core.core.data import prepare  # noqa: E402
from causal_core.estimators.balancing import residual_balancing as arb_new  # noqa: E402
from causal_core.estimators.balancing.confounder_balancing import dcb_weights  # noqa: E402
from causal_core.nuisance.features import expand_covariates, pooled_scale  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "balancing_speed.md"
OLD_COMMIT = "740f5b2"
SETS = {"V-RAW": (1, False), "V-INTERACTION": (2, True)}


def old_module(path: str) -> dict:
    """The pure functions of ``path`` at ``OLD_COMMIT`` (everything above its ``@register``)."""
    source = subprocess.run(["git", "show", f"{OLD_COMMIT}:{path}"], cwd=ROOT, check=True, capture_output=True,
                            text=True).stdout
    import types

    module = types.ModuleType("old_" + Path(path).stem)
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source[:source.index("@register(")], f"old:{path}", "exec"), module.__dict__)
    return module.__dict__


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - start


def dcb_att(data, X_std, fit_function) -> tuple[float, float]:
    """The ATT of DCB (as the method computes it) with ``fit_function`` for the control weights; and seconds."""
    treated = data.treated
    target = X_std[treated].mean(axis=0)
    fit, seconds = timed(fit_function, X_std[~treated], data.y[~treated], target)
    return float(data.y[treated].mean() - fit.weights @ data.y[~treated]), seconds


def arb_att(data, X_std, arm_mean) -> tuple[float, float, float]:
    """ATT, plug-in SE (as the method computes them) with ``arm_mean`` for the control arm; and seconds."""
    treated = data.treated
    (mean, variance, gamma, predicted), seconds = timed(arm_mean, X_std, data.y, ~treated, treated, 0.5, 0)
    residual = data.y[~treated] - predicted[~treated]
    observed = data.y[treated] - predicted[treated]
    variance = float(np.sum(gamma**2 * residual**2) + observed.var(ddof=1) / observed.size)
    return float(data.y[treated].mean() - mean), float(np.sqrt(variance)), seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", nargs="+", default=["lalonde_psid", "lalonde_cps"])
    parser.add_argument("--skip-full", action="store_true", help="skip the full default cc.estimate timings")
    args = parser.parse_args(argv)
    old_dcb = old_module("causal_core/estimators/balancing/confounder_balancing.py")
    old_arb = old_module("causal_core/estimators/balancing/residual_balancing.py")
    dcb_rows, arb_rows, qp_rows, full_rows = [], [], [], []
    warm = np.random.default_rng(0).normal(size=(60, 3))  # imports and first calls, outside the timings
    for arm_mean in (arb_new._arm_mean, old_arb["_arm_mean"]):
        arm_mean(warm, warm[:, 0], np.arange(60) < 30, np.arange(60) >= 30, 0.5, 0)
    for sample in args.samples:
        df = cc.load_sample(sample)
        roles = cc.get_sample(sample).roles
        data = prepare(df, roles)
        for set_name, (moments, interactions) in SETS.items():
            X, _ = expand_covariates(data.X, data.covariate_names, moments=moments, interactions=interactions)
            scale = pooled_scale(X, data.treated)
            label = f"{sample.replace('lalonde_', '')} {set_name} ({data.n:,} x {X.shape[1]})"
            print(label, file=sys.stderr, flush=True)
            # DCB: one control-arm fit, old vs new
            X_dcb = X / scale
            new_att, new_s = dcb_att(data, X_dcb, dcb_weights)
            old_att, old_s = dcb_att(data, X_dcb, old_dcb["dcb_weights"])
            dcb_rows.append((label, old_s, new_s, old_att, new_att))
            # ARB: control arm, old vs new; and the programme alone
            X_arb = (X - X.mean(axis=0)) / scale
            new = arb_att(data, X_arb, arb_new._arm_mean)
            old = arb_att(data, X_arb, old_arb["_arm_mean"])
            arb_rows.append((label, old[2], new[2], old[0], new[0], old[1], new[1]))
            arm, target = X_arb[~data.treated], X_arb[data.treated].mean(axis=0)
            reference, cvxpy_s = timed(arb_new.approximate_balancing_weights_cvxpy, arm, target, 0.5)
            (fast, gap), dual_s = timed(arb_new.balancing_weights_dual, arm, target, 0.5)
            qp_rows.append((label, cvxpy_s, dual_s, arb_new.balancing_objective(arm, target, 0.5, reference),
                            arb_new.balancing_objective(arm, target, 0.5, fast), gap,
                            float(np.linalg.norm(fast - reference))))
            if not args.skip_full:
                options = {"moments": moments, "interactions": interactions}
                for method in ("differentiated_confounder_balancing", "approximate_residual_balancing"):
                    result, seconds = timed(cc.estimate, df, roles, method, estimand="ATT", seed=0, **options)
                    full_rows.append((label, method, result.estimate, result.std_error, seconds))
                    print(f"  {method} {seconds:.1f} s", file=sys.stderr, flush=True)
    se_by_label = {label: se for label, method, _, se, _ in full_rows if method.startswith("differentiated")}
    load = os.getloadavg()
    lines = [
        "# Balancing speed: differentiated confounder balancing and approximate residual balancing, before/after",
        "",
        f"Generated by `bench/balancing_speed.py` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}) on the "
        f"shared 2-core machine, one BLAS thread (load average at the end {load[0]:.1f}, {load[1]:.1f}, "
        f"{load[2]:.1f}: other sessions were running, so absolute seconds are noisy; ratios are from one run). "
        f"Old code: commit {OLD_COMMIT}. ATT, seed 0.",
        "",
        "## DCB: one weight fit of the control arm (defaults: lambda = delta = 1, max_iter = 100)",
        "",
        "| data | old s | new s | speed-up | old ATT | new ATT | difference / new bootstrap SE |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, old_s, new_s, old_att, new_att in dcb_rows:
        se = se_by_label.get(label, float("nan"))
        lines.append(f"| {label} | {old_s:.2f} | {new_s:.2f} | {old_s / new_s:.1f}x | {old_att:,.2f} | "
                     f"{new_att:,.2f} | {abs(new_att - old_att) / se:.1e} |")
    lines += ["", "## ARB: the control arm (cross-validated elastic net + balancing programme)", "",
              "| data | old s | new s | speed-up | old ATT | new ATT | old SE | new SE | ATT difference / SE |",
              "|---|---|---|---|---|---|---|---|---|"]
    for label, old_s, new_s, old_att, new_att, old_se, new_se in arb_rows:
        lines.append(f"| {label} | {old_s:.2f} | {new_s:.2f} | {old_s / new_s:.1f}x | {old_att:,.2f} | "
                     f"{new_att:,.2f} | {old_se:,.2f} | {new_se:,.2f} | {abs(new_att - old_att) / new_se:.1e} |")
    lines += ["", "## ARB balancing programme alone: cvxpy (CLARABEL) vs the dual", "",
              "| data | cvxpy s | dual s | speed-up | cvxpy objective | dual objective | dual's certified gap | "
              "||weights difference|| |", "|---|---|---|---|---|---|---|---|"]
    for label, cvxpy_s, dual_s, ref_obj, fast_obj, gap, diff in qp_rows:
        lines.append(f"| {label} | {cvxpy_s:.2f} | {dual_s:.2f} | {cvxpy_s / dual_s:.1f}x | {ref_obj:.12g} | "
                     f"{fast_obj:.12g} | {gap:.1e} | {diff:.1e} |")
    if full_rows:
        lines += ["", "## Full default `cc.estimate` (new code; DCB includes its 100 bootstrap refits)", "",
                  "| data | method | ATT | SE | seconds |", "|---|---|---|---|---|"]
        for label, method, estimate, se, seconds in full_rows:
            lines.append(f"| {label} | {method} | {estimate:,.0f} | {se:,.0f} | {seconds:.1f} |")
    text = "\n".join(lines) + "\n"
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
