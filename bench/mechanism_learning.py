"""Mechanism learning on the hidden-confounder simulation: ordinary vs mechanism-learned classifiers.

For each seed, a confounded training table (P(U = Y) = 0.9) and a
non-confounded test table (P(U = Y) = 0.5) are drawn from
:func:`causal_core.studies.mechanism.mechanism_learning_data`; each classifier is
trained on the raw training rows and on front-door deconfounded samples
(causal bootstrap and causally weighted GMM) and scored on the test rows.
The Bayes accuracy on the test population (using only the features, with U
independent of Y) is estimated from a large sample for reference.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python bench/mechanism_learning.py [--seeds 10] [--n-train 2000]

Writes ``bench/results/mechanism_learning.md`` and prints it.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import causal_core as cc  # noqa: E402
from causal_core.studies.mechanism import mechanism_learning_data  # noqa: E402
from causal_core.studies.mechanism.evaluate import CLASSIFIERS, make_classifier  # noqa: E402

FEATURES = ["x1", "x2"]


def markdown_table(table: pd.DataFrame) -> str:
    """A DataFrame as a GitHub markdown table (index included), without extra dependencies."""
    frame = table.reset_index()
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * frame.shape[1]
    body = ["| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def run(seeds: int, n_train: int, n_test: int) -> pd.DataFrame:
    rows = []
    for seed in range(seeds):
        train = mechanism_learning_data(n_train, seed=seed, confounding=0.9)
        test = mechanism_learning_data(n_test, seed=10_000 + seed, confounding=0.5)
        samples, seconds = {"ordinary": train}, {"ordinary": 0.0}
        for method in ("bootstrap", "cw_gmm"):
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                samples[method] = cc.front_door_resample(train, "y", "z", FEATURES, method=method, seed=seed)
            seconds[method] = time.perf_counter() - start
        for classifier in CLASSIFIERS:
            for training, frame in samples.items():
                model = make_classifier(classifier, seed).fit(frame[FEATURES], frame["y"])
                rows.append({"seed": seed, "classifier": classifier, "training": training,
                             "accuracy": float(np.mean(model.predict(test[FEATURES]) == test["y"])),
                             "resample_seconds": seconds[training]})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--n-test", type=int, default=5000)
    args = parser.parse_args(argv)
    table = run(args.seeds, args.n_train, args.n_test)
    summary = (table.groupby(["classifier", "training"])["accuracy"]
               .agg(mean="mean", sd="std").reset_index()
               .pivot(index="classifier", columns="training"))
    summary.columns = [f"{training} {stat}" for stat, training in summary.columns]
    order = [f"{t} {s}" for t in ("ordinary", "bootstrap", "cw_gmm") for s in ("mean", "sd")]
    summary = summary[order].round(3)
    big = mechanism_learning_data(200_000, seed=99, confounding=0.5)
    # Bayes rule on the deployment population, from a fine logistic fit with quadratic terms
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler
    bayes = make_pipeline(PolynomialFeatures(2), StandardScaler(), LogisticRegression(max_iter=2000))
    bayes.fit(big[FEATURES], big["y"])
    check = mechanism_learning_data(200_000, seed=98, confounding=0.5)
    bayes_accuracy = float(np.mean(bayes.predict(check[FEATURES]) == check["y"]))
    timing = table.groupby("training")["resample_seconds"].median().round(2)
    lines = [
        "# Mechanism learning: ordinary vs deconfounded classifiers",
        "",
        f"Simulation `causal_core.studies.mechanism.mechanism_learning_data`: {args.seeds} seeds, {args.n_train} confounded "
        f"training rows (P(U=Y)=0.9), {args.n_test} non-confounded test rows (P(U=Y)=0.5). Accuracy on the test rows "
        "(mean and SD over seeds).",
        "",
        markdown_table(summary),
        "",
        f"Reference: best achievable accuracy on the test population (quadratic logistic fit on 200,000 "
        f"deployment rows) = {bayes_accuracy:.3f}.",
        "",
        "Median seconds to deconfound one training table: "
        + ", ".join(f"{k} {v}" for k, v in timing.items() if k != "ordinary")
        + " (shared 2-core machine under load).",
    ]
    text = "\n".join(lines) + "\n"
    out = ROOT / "bench" / "results" / "mechanism_learning.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
