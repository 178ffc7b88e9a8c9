"""Bad-input battery: every case of ``tests/test_bad_input.py`` (and a few identifiability cases) over the registry.

Each method runs on its contract design (``tests/test_contract.py``) with the
cheap settings of ``tests/test_bad_input.py`` (torch methods train 2 epochs of
4 hidden units). Each case is classified as:

* ``clear error``: :class:`causal_core.CausalInputError` with the engine's own sentence;
* ``warned answer``: a result carrying at least one warning beyond the clean design's;
* ``clean answer``: a result with finite numbers and no new warning, where an answer is acceptable;
* ``raw exception``: any other exception, or the API's "failed unexpectedly" safety net;
* ``silent wrong answer``: a result without a new warning where an error or warning was due
  (a case that must be refused, NaN/inf in estimate/SE/CI, or an estimate off by more than
  1e6 times the outcome's standard deviation);
* ``over 60 s``: any outcome that took longer than 60 seconds.

Groups: ``existing`` (the cases the test file had before the hardening issue),
``new`` (seed, dates, extreme magnitudes: fixed on branch h3a), ``limits`` (p > n, tiny
arms, perfect separation: per-method identifiability limits, fixed on branch h3b).

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python bench/bad_input_battery.py [--methods ipw,d2vd] [--groups new,limits]

Writes ``bench/results/bad_input_battery.md`` and prints it.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import causal_core as cc  # noqa: E402
from test_bad_input import LIST_ROLE_NAMES, _bad_option_values, _design, _infos  # noqa: E402

OUTCOMES = ("clear error", "warned answer", "clean answer", "raw exception", "silent wrong answer", "over 60 s")
NUMPY_REPRS = ("np.int64(", "np.float64(", "np.str_(", "np.True_", "np.False_", "np.int32(", "np.bool_(")
BAD_SEEDS = ("x", -1, 1.5, None, 2**70, True)


@dataclass(frozen=True)
class Case:
    group: str
    method: str
    name: str
    build: Callable[[], tuple[pd.DataFrame, cc.Roles, dict, Any]]  # -> (df, roles, options, seed)
    expect: str  # "error", "answer" (an error is also fine when it is clear) or "warning" (error or warned answer)


def _cases_for(info: cc.MethodInfo) -> list[Case]:
    df0, roles0, options0 = _design(info)
    cases: list[Case] = []

    def add(group, name, expect, mutate):
        def build():
            df, roles, options = _design(info)
            seed = 1
            out = mutate(df, roles, options)
            if out is not None:
                df, roles, options, seed = out
            return df, roles, options, seed
        cases.append(Case(group, info.id, name, build, expect))

    # ---- existing cases of tests/test_bad_input.py
    def text_outcome(df, roles, options):
        outcome = df[roles.outcome].astype(object)
        outcome.iloc[int(np.flatnonzero(outcome.notna())[0])] = "n/a"
        df[roles.outcome] = outcome
    add("existing", "text in outcome", "error", text_outcome)

    def constant_treatment(df, roles, options):
        df[roles.treatment] = 1
    add("existing", "constant treatment", "error", constant_treatment)

    if info.treatment_kind == "binary":
        def single_treated(df, roles, options):
            treated = np.flatnonzero(df[roles.treatment].to_numpy() == 1)
            df[roles.treatment] = 0
            df.loc[df.index[treated[0]], roles.treatment] = 1
        add("existing", "single treated row", "error", single_treated)

    for role in LIST_ROLE_NAMES:
        if getattr(roles0, role):
            column = getattr(roles0, role)[0]
            for label, bad in (("all missing", np.nan), ("all infinite", np.inf)):
                def unusable(df, roles, options, column=column, bad=bad):
                    df[column] = bad
                add("existing", f"{role} {label}", "error", unusable)

    def duplicated(df, roles, options):
        return pd.concat([df, df[[roles.treatment]]], axis=1), roles, options, 1
    add("existing", "duplicated column", "error", duplicated)

    for role in info.required_roles:
        def empty_role(df, roles, options, role=role):
            return df, replace(roles, **{role: () if role in LIST_ROLE_NAMES else None}), options, 1
        add("existing", f"empty {role}", "error", empty_role)

    add("existing", "unknown option", "error", lambda df, roles, options: (df, roles, {**options, "bogus": 1}, 1))
    for spec in info.options:
        for value in _bad_option_values(spec):
            add("existing", f"option {spec.name}={value!r}", "error",
                lambda df, roles, options, n=spec.name, v=value: (df, roles, {**options, n: v}, 1))

    if info.treatment_kind == "binary" and not info.needs_torch:
        add("existing", "boolean treatment", "answer",
            lambda df, roles, options: (df.assign(**{roles.treatment: df[roles.treatment].astype(bool)}),
                                        roles, options, 1))
        add("existing", "labelled treatment", "answer",
            lambda df, roles, options: (df.assign(**{roles.treatment: np.where(df[roles.treatment] == 1, "yes", "no")}),
                                        replace(roles, treated_level="yes"), options, 1))
        column = roles0.columns()[-1] if roles0.confounders == () else roles0.confounders[0]
        if pd.api.types.is_float_dtype(df0[column]):
            def infinite(df, roles, options, column=column):
                df.loc[df.index[:3], column] = np.inf
            add("existing", "3 infinite values", "warning", infinite)

    # ---- new cases (this branch)
    for seed in BAD_SEEDS:
        add("new", f"seed={seed!r}", "error", lambda df, roles, options, s=seed: (df, roles, options, s))
    add("new", "seed=np.int64(3)", "answer", lambda df, roles, options: (df, roles, options, np.int64(3)))

    dates = pd.Timestamp("2020-01-01") + pd.to_timedelta(np.arange(len(df0)), unit="D")
    add("new", "datetime outcome", "error",
        lambda df, roles, options: (df.assign(**{roles.outcome: dates}), roles, options, 1))
    if roles0.confounders and not info.needs_torch:
        first = roles0.confounders[0]
        add("new", "datetime confounder", "warning",
            lambda df, roles, options: (df.assign(**{first: dates}), roles, options, 1))
    def date_treatment(df, roles, options):
        if info.treatment_kind == "binary":
            values = np.where(df[roles.treatment].to_numpy() == 1, dates[1], dates[0])
        else:
            values = dates
        return df.assign(**{roles.treatment: values}), roles, options, 1
    add("new", "datetime treatment", "error", date_treatment)
    add("new", "outcome x1e300", "error",
        lambda df, roles, options: (df.assign(**{roles.outcome: df[roles.outcome] * 1e300}), roles, options, 1))
    if roles0.confounders:
        numeric = [c for c in roles0.confounders if pd.api.types.is_float_dtype(df0[c])]
        if numeric:
            add("new", "confounder x1e300", "error",
                lambda df, roles, options: (df.assign(**{numeric[0]: df[numeric[0]] * 1e300}), roles, options, 1))
            add("new", "confounder x1e50", "error",
                lambda df, roles, options: (df.assign(**{numeric[0]: df[numeric[0]] * 1e50}), roles, options, 1))
            add("new", "confounder x1e30", "answer",
                lambda df, roles, options: (df.assign(**{numeric[0]: df[numeric[0]] * 1e30}), roles, options, 1))
    add("new", "outcome x1e100", "answer",
        lambda df, roles, options: (df.assign(**{roles.outcome: df[roles.outcome] * 1e100}), roles, options, 1))

    # ---- identifiability limits (branch h3b)
    if info.treatment_kind == "binary":
        def p_over_n(df, roles, options):
            small = df.iloc[:40].copy()
            rng = np.random.default_rng(0)
            noise = pd.DataFrame(rng.normal(size=(40, 60)), index=small.index, columns=[f"noise{i}" for i in range(60)])
            small = pd.concat([small, noise], axis=1)
            return small, replace(roles, confounders=tuple(roles.confounders) + tuple(noise.columns)), options, 1
        if roles0.confounders:
            add("limits", "p > n", "warning", p_over_n)

        def tiny_arm(df, roles, options):
            treated = np.flatnonzero(df[roles.treatment].to_numpy() == 1)
            df[roles.treatment] = 0
            df.loc[df.index[treated[:3]], roles.treatment] = 1
        add("limits", "3 treated rows", "warning", tiny_arm)

        if roles0.confounders:
            numeric = [c for c in roles0.confounders if pd.api.types.is_float_dtype(df0[c])]
            if numeric:
                def separation(df, roles, options, column=numeric[0]):
                    df[roles.treatment] = (df[column] > df[column].median()).astype(int)
                add("limits", "perfect separation", "warning", separation)
    return cases


def _markdown(frame: pd.DataFrame, index: bool = True) -> str:
    """A pipe table (pandas' ``to_markdown`` needs tabulate, which the project does not pin)."""
    frame = frame.reset_index() if index else frame
    cells = [[str(c) for c in frame.columns]] + [[str(v).replace("|", "/").replace("\n", " ") for v in row]
                                                  for row in frame.itertuples(index=False)]
    lines = ["| " + " | ".join(row) + " |" for row in cells]
    lines.insert(1, "|" + "---|" * len(frame.columns))
    return "\n".join(lines)


def _outcome_scale(df: pd.DataFrame, roles: cc.Roles) -> float:
    try:
        values = pd.to_numeric(df[roles.outcome], errors="coerce").to_numpy(dtype=float)
    except (TypeError, ValueError):
        return 1.0
    finite = values[np.isfinite(values)]
    with np.errstate(over="ignore", invalid="ignore"):
        sd = float(np.std(finite)) if finite.size else 0.0
    return sd if np.isfinite(sd) and sd > 0 else 1.0


def classify(case: Case, clean_warnings: set[str]) -> tuple[str, str, float]:
    """(outcome, message or numbers, seconds) of one case."""
    start = time.perf_counter()
    scale = 1.0
    try:
        df, roles, options, seed = case.build()
        scale = _outcome_scale(df, roles)
        info = cc.get_method(case.method)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = cc.estimate(df, roles, case.method, estimand=info.estimands[0], seed=seed, **options)
    except cc.CausalInputError as exc:
        seconds = time.perf_counter() - start
        text = str(exc)
        outcome = "raw exception" if "failed unexpectedly" in text else "clear error"
        return ("over 60 s" if seconds > 60 else outcome), text, seconds
    except Exception as exc:  # noqa: BLE001 - this is what the battery looks for
        seconds = time.perf_counter() - start
        return ("over 60 s" if seconds > 60 else "raw exception"), f"{type(exc).__name__}: {exc}", seconds
    seconds = time.perf_counter() - start
    numbers = (result.estimate, result.std_error, result.ci_low, result.ci_high)
    new_warnings = [w for w in result.warnings if w not in clean_warnings]
    text = f"estimate {result.estimate:.4g}, SE {result.std_error:.4g}" + (f"; {' | '.join(new_warnings)}" if new_warnings else "")
    if seconds > 60:
        return "over 60 s", text, seconds
    if new_warnings:
        return "warned answer", text, seconds
    # a method that ignores the confounders (difference in means) says so on every result: extra or
    # separating covariates change nothing it computes, and that standing warning is the one due
    ignores_covariates = any(w.startswith("Confounders are ignored") for w in result.warnings)
    if case.group == "limits" and ignores_covariates and case.name in ("p > n", "perfect separation"):
        return "warned answer", text + " (its standing warning: confounders are ignored)", seconds
    finite = all(math.isfinite(v) for v in numbers)
    if case.expect != "answer" or not finite or abs(result.estimate) > 1e6 * scale:
        return "silent wrong answer", text, seconds
    return "clean answer", text, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="", help="comma-separated method ids (default: all with a design)")
    parser.add_argument("--groups", default="existing,new,limits")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "bad_input_battery.md"))
    args = parser.parse_args(argv)
    wanted = set(filter(None, args.methods.split(",")))
    groups = set(args.groups.split(","))
    infos = [p.values[0] for p in _infos() if not wanted or p.values[0].id in wanted]

    rows = []
    for info in infos:
        df, roles, options = _design(info)
        try:
            clean = cc.estimate(df, roles, info.id, estimand=info.estimands[0], seed=1, **options)
            clean_warnings = set(clean.warnings)
        except Exception as exc:  # noqa: BLE001
            print(f"{info.id}: clean design fails ({type(exc).__name__}: {exc})", file=sys.stderr)
            clean_warnings = set()
        for case in _cases_for(info):
            if case.group not in groups:
                continue
            outcome, text, seconds = classify(case, clean_warnings)
            rows.append({"group": case.group, "method": case.method, "case": case.name, "outcome": outcome,
                         "seconds": round(seconds, 2), "message": text})
            if outcome in ("raw exception", "silent wrong answer", "over 60 s"):
                print(f"[{case.group}] {case.method} / {case.name}: {outcome}: {text[:300]}", file=sys.stderr)
    table = pd.DataFrame(rows)
    totals = (table.groupby(["group", "outcome"]).size().unstack(fill_value=0)
              .reindex(columns=list(OUTCOMES), fill_value=0))
    totals.loc["all"] = totals.sum()
    numpy_reprs = table[table["message"].map(lambda m: any(r in m for r in NUMPY_REPRS))]
    lines = ["# Bad-input battery", "", f"{len(table)} cases over {len(infos)} methods.", "",
             _markdown(totals), "", f"Messages with a numpy repr ({', '.join(NUMPY_REPRS)}): {len(numpy_reprs)}.", ""]
    bad = table[table["outcome"].isin(["raw exception", "silent wrong answer", "over 60 s"])]
    if len(bad):
        lines += ["## Cases to fix", "", _markdown(bad, index=False), ""]
    text = "\n".join(lines)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
