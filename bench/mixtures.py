"""Benchmark of the mixture solvers on simulations with known sources.

Measures (1) recovery error of the weights, the within-source distributions and
the ATE against sample size for each solver, (2) how often EM from one random
start ends in a worse local optimum than EM from the moment solution, (3) the
coverage of latent_mixture's bootstrap interval, and (4) k-coin recovery by Prony.
Writes bench/results/mixtures.md. Run: ``.venv/bin/python bench/mixtures.py [--quick]``.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import causal_core as cc  # noqa: E402
from causal_core.core.data import prepare  # noqa: E402
from causal_core.estimators.latent.latent_mixture import encode_latent_class_data  # noqa: E402
from causal_core.studies.mixtures import latent_confounder_frame, repeated_measurements_frame  # noqa: E402
from causal_core.studies.mixtures.em import fit_em, random_parameters  # noqa: E402
from causal_core.studies.mixtures.fit import fit_latent_mixture, moment_parameters  # noqa: E402
from causal_core.studies.mixtures.latent_class import LatentClassParameters, interventional_means  # noqa: E402

ROLES = cc.Roles(treatment="treat", outcome="outcome", proxies=[f"proxy{j}" for j in range(1, 5)])
THREE = dict(weights=(0.5, 0.3, 0.2),
             proxy_probs=np.array([[0.1, 0.5, 0.9], [0.8, 0.2, 0.6], [0.3, 0.9, 0.1], [0.5, 0.1, 0.7], [0.2, 0.6, 0.4]]),
             treat_prob=(0.2, 0.5, 0.8), outcome_prob=np.array([[0.1, 0.3], [0.4, 0.5], [0.6, 0.9]]))


def _encode(df, roles):
    return encode_latent_class_data(prepare(df, roles, cc.get_method("latent_mixture")))[0]


def _errors(params: LatentClassParameters, truth: dict) -> tuple[float, float, float]:
    proxy = np.column_stack([p[:, 1] for p in params.proxy_probs])  # (k, m)
    order = [int(np.argmin(np.abs(proxy - row).sum(axis=1))) for row in truth["proxy_probs"]]
    if sorted(order) != list(range(params.k)):
        order = list(np.argsort(proxy[:, 0]))
    weight_error = float(np.max(np.abs(params.weights[order] - truth["weights"])))
    proxy_error = float(np.max(np.abs(proxy[order] - truth["proxy_probs"])))
    ate = float(np.diff(interventional_means(params, (0.0, 1.0)))[0])
    return weight_error, proxy_error, abs(ate - truth["ATE"])


def recovery_table(sizes, reps) -> list[str]:
    lines = ["| design | n | solver | weight err (mean max-abs) | proxy prob err | |ATE err| | seconds/fit |",
             "|---|---|---|---|---|---|---|"]
    for design, kwargs, roles_proxies, k in (("k=2, 4 binary proxies", {}, 4, 2),
                                              ("k=3, 5 binary proxies", {**THREE, "n_proxies": 5}, 5, 3)):
        roles = cc.Roles(treatment="treat", outcome="outcome", proxies=[f"proxy{j}" for j in range(1, roles_proxies + 1)])
        for n in sizes:
            for solver in ("moments", "em", "moments+em"):
                errs, seconds = [], 0.0
                for rep in range(reps):
                    df, truth = latent_confounder_frame(n=n, seed=1000 + rep, **kwargs)
                    data = _encode(df, roles)
                    start = time.perf_counter()
                    fit = fit_latent_mixture(data, k, solver=solver, n_restarts=10, seed=rep)
                    seconds += time.perf_counter() - start
                    errs.append(_errors(fit.params, truth))
                e = np.mean(errs, axis=0)
                lines.append(f"| {design} | {n} | {solver} | {e[0]:.4f} | {e[1]:.4f} | {e[2]:.4f} | {seconds / reps:.3f} |")
    return lines


def failure_table(n, reps, starts) -> list[str]:
    lines = ["| design | n | start | runs | runs ending > 0.5 log-lik below the best | weight err > 0.1 |",
             "|---|---|---|---|---|---|"]
    for design, kwargs, m, k in (("k=2, 4 binary proxies", {}, 4, 2), ("k=3, 5 binary proxies", {**THREE, "n_proxies": 5}, 5, 3)):
        roles = cc.Roles(treatment="treat", outcome="outcome", proxies=[f"proxy{j}" for j in range(1, m + 1)])
        random_bad = random_wrong = moment_bad = moment_wrong = runs = 0
        for rep in range(reps):
            df, truth = latent_confounder_frame(n=n, seed=2000 + rep, **kwargs)
            data = _encode(df, roles)
            best = fit_em(data, k, n_restarts=20, seed=rep)
            start, _ = moment_parameters(data, k, seed=rep)
            from_moments = fit_em(data, k, n_restarts=0, start=start)
            best_ll = max(best.log_likelihood, from_moments.log_likelihood)
            moment_bad += from_moments.log_likelihood < best_ll - 0.5
            moment_wrong += _errors(from_moments.params, truth)[0] > 0.1
            rng = np.random.default_rng(rep)
            for _ in range(starts):
                single = fit_em(data, k, n_restarts=0, start=random_parameters(data, k, rng))
                runs += 1
                random_bad += single.log_likelihood < best_ll - 0.5
                random_wrong += _errors(single.params, truth)[0] > 0.1
        lines.append(f"| {design} | {n} | one random start | {runs} | {random_bad / runs:.1%} | {random_wrong / runs:.1%} |")
        lines.append(f"| {design} | {n} | moment solution | {reps} | {moment_bad / reps:.1%} | {moment_wrong / reps:.1%} |")
    return lines


def coverage_lines(n, reps, n_boot) -> list[str]:
    lines = ["| solver | n | reps | n_boot | coverage of 95% CI | mean SE | SD of estimates | mean |naive - ATE| | seconds/estimate |",
             "|---|---|---|---|---|---|---|---|---|"]
    for solver in ("moments+em", "moments"):
        hits, ses, estimates, naive_gap, seconds = 0, [], [], [], 0.0
        for rep in range(reps):
            df, truth = latent_confounder_frame(n=n, seed=3000 + rep)
            start = time.perf_counter()
            r = cc.estimate(df, ROLES, "latent_mixture", seed=rep, solver=solver, n_boot=n_boot, n_restarts=3)
            seconds += time.perf_counter() - start
            hits += r.ci_low <= truth["ATE"] <= r.ci_high
            ses.append(r.std_error)
            estimates.append(r.estimate)
            naive_gap.append(abs(r.diagnostics["naive_difference"] - truth["ATE"]))
        lines.append(f"| {solver} | {n} | {reps} | {n_boot} | {hits / reps:.1%} (MC SE {np.sqrt(0.95 * 0.05 / reps):.1%}) | "
                     f"{np.mean(ses):.4f} | {np.std(estimates, ddof=1):.4f} | {np.mean(naive_gap):.3f} | {seconds / reps:.2f} |")
    return lines


def coin_lines(sizes, reps) -> list[str]:
    lines = ["| sources | trials | n | weight err (mean max-abs) | bias err | median Hankel cond | share warned |",
             "|---|---|---|---|---|---|---|"]
    for weights, biases, trials in (((0.35, 0.65), (0.2, 0.7), 6), ((0.5, 0.3, 0.2), (0.1, 0.5, 0.9), 6)):
        k = len(weights)
        for n in sizes:
            werr, berr, conds, warned = [], [], [], 0
            for rep in range(reps):
                df, _ = repeated_measurements_frame(n=n, seed=rep, trials=trials, weights=weights, biases=biases)
                r = cc.fit_mix_iid(df, count="successes", trials=trials, k=k)
                order = np.argsort(biases)
                werr.append(np.max(np.abs(np.array(r.weights) - np.array(weights)[order])))
                berr.append(np.max(np.abs(np.array(r.biases) - np.array(biases)[order])))
                conds.append(r.condition_number)
                warned += bool(r.warnings)
            lines.append(f"| k={k} {biases} | {trials} | {n} | {np.mean(werr):.4f} | {np.mean(berr):.4f} | "
                         f"{np.median(conds):.1f} | {warned / reps:.0%} |")
    return lines


def main() -> None:
    quick = "--quick" in sys.argv
    start = time.perf_counter()
    sections = [
        "# Mixture solvers: recovery, EM local optima, CI coverage",
        "",
        f"Generated by `bench/mixtures.py{' --quick' if quick else ''}` on this machine (2 shared CPU cores).",
        "",
        "## 1. Recovery error against sample size (latent class model, binary outcome)",
        "",
        *recovery_table((500, 2000, 8000), 5 if quick else 20),
        "",
        "## 2. EM from one random start vs from the moment solution",
        "",
        *failure_table(2000, 5 if quick else 20, 10),
        "",
        "## 3. latent_mixture bootstrap interval (k=2 design, true ATE 0.22)",
        "",
        *coverage_lines(2000, 20 if quick else 200, 100),
        "",
        "## 4. k coins (k-MixIID) by Prony",
        "",
        *coin_lines((500, 2000, 8000), 20 if quick else 100),
        "",
    ]
    sections.append(f"Total time {time.perf_counter() - start:.0f} s.")
    out = ROOT / "bench" / "results" / "mixtures.md"
    out.write_text("\n".join(sections) + "\n")
    print("\n".join(sections))


if __name__ == "__main__":
    main()
