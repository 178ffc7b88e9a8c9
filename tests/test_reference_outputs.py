"""The engine against published and peer-library reference numbers kept in ``tests/reference/*.json``.

Each file names its source (book or paper, table or section), the data and the
engine call, and lists ``quantities``: the published ``value``, the
``tolerance`` with the reason for it (published precision: half a unit of the
last printed digit), or ``"compare": "inside_interval"`` where the check is a
confidence interval covering the value. Numbers from another library come
with the exact script beside the file (``script``, kept as text, not run).
Each reference has one engine function here, keyed by its ``name``, that
returns the quantities it lists.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pytest

import causal_core as cc
from causal_core.nuisance.newton_logit import NewtonLogit
from causal_core.robustness.sensitivity import ovb_sensitivity

HERE = Path(__file__).resolve().parent
REFERENCE_DIR = HERE / "reference"
SAMPLE_DATA = HERE.parent / "sample_data"
REQUIRED_FIELDS = ("name", "source", "published", "data", "engine_call", "quantities")

NHEFS_COVARIATES = ["sex", "race", "age", "age_sq", "education", "smokeintensity", "smokeintensity_sq",
                    "smokeyrs", "smokeyrs_sq", "exercise", "active", "wt71", "wt71_sq"]
NHEFS_ROLES = cc.Roles(treatment="qsmk", outcome="wt82_71", confounders=NHEFS_COVARIATES)
CARD_CONTROLS = ["exper", "expersq", "black", "smsa", "south", "smsa66"] + [f"reg66{i}" for i in range(2, 10)]


def load_reference(name: str) -> dict[str, Any]:
    """One reference file as a dict, with ``values``: quantity -> published value."""
    reference = json.loads((REFERENCE_DIR / f"{name}.json").read_text())
    reference["values"] = {q["quantity"]: q["value"] for q in reference["quantities"]}
    return reference


def load_nhefs() -> pd.DataFrame:
    """NHEFS as the book analyses it: rows with a 1982 weight, categorical codes as text, squared terms."""
    raw = pd.read_csv(SAMPLE_DATA / "nhefs.csv")
    df = raw[raw["wt82_71"].notna()].copy()
    for column in ("education", "exercise", "active"):
        df[column] = df[column].astype(int).astype(str)
    for column in ("age", "smokeintensity", "smokeyrs", "wt71"):
        df[f"{column}_sq"] = df[column] ** 2
    return df


def _nhefs_ipw_chapter12() -> dict[str, Any]:
    # the exact MLE as R's glm, passed in so that its score is treated as known, as the book's GEE interval does
    r = cc.estimate(load_nhefs(), NHEFS_ROLES, "ipw", estimand="ATE", propensity_model=NewtonLogit())
    return {"n_used": r.n_used, "estimate": r.estimate, "ci_low": r.ci_low, "ci_high": r.ci_high}


def _nhefs_ipw_program12_2_exact() -> dict[str, Any]:
    r = cc.estimate(load_nhefs(), NHEFS_ROLES, "ipw", estimand="ATE")  # the default: the exact Newton logit
    return {"n_used": r.n_used, "estimate": r.estimate}


def _card_2sls_wooldridge_15_4() -> dict[str, Any]:
    roles = cc.Roles(treatment="educ", outcome="lwage", instruments=["nearc4"], confounders=CARD_CONTROLS)
    r = cc.estimate(pd.read_csv(SAMPLE_DATA / "card.csv"), roles, "two_stage_least_squares", estimand="LATE",
                    cov_type="unadjusted")
    return {"n_used": r.n_used, "estimate": r.estimate, "std_error": r.std_error,
            "ols_estimate": r.diagnostics["ols_estimate"]}


def _darfur_sensemakr() -> dict[str, Any]:
    df = pd.read_csv(HERE / "data" / "darfur.csv")
    dummies = pd.get_dummies(df["village"], prefix="village", drop_first=True, dtype=float)
    data = pd.concat([df.drop(columns="village"), dummies], axis=1)
    roles = cc.Roles(treatment="directlyharmed", outcome="peacefactor",
                     confounders=["female", "age", "farmer_dar", "herder_dar", "pastvoted", "hhsize_darfur",
                                  *dummies.columns])
    s = ovb_sensitivity(data, roles, benchmarks=["female"], kd=[1, 2, 3])
    out = {"dof": s.dof, "estimate": s.estimate, "std_error": s.std_error, "robustness_value": s.robustness_value,
           "robustness_value_alpha": s.robustness_value_alpha, "partial_r2_treatment": s.partial_r2_treatment}
    for _, row in s.benchmarks.iterrows():
        for column in ("r2dz_x", "r2yz_dx", "adjusted_estimate"):
            out[f"{row['kd']:g}x female {column}"] = row[column]
    return out


def _lalonde_nsw_experimental() -> dict[str, Any]:
    nsw, roles = cc.load_sample("lalonde_experimental"), cc.get_sample("lalonde_experimental").roles
    unadjusted = cc.estimate(nsw, roles, "difference_in_means", estimand="ATT")
    adjusted = cc.estimate(nsw, roles, "regression_adjustment", estimand="ATT")
    return {"n_used": unadjusted.n_used, "difference_in_means": unadjusted.estimate,
            "regression_adjustment 95% CI": (adjusted.ci_low, adjusted.ci_high)}


ENGINE: dict[str, Callable[[], dict[str, Any]]] = {
    "nhefs_ipw_chapter12": _nhefs_ipw_chapter12,
    "nhefs_ipw_program12_2_exact": _nhefs_ipw_program12_2_exact,
    "card_2sls_wooldridge_15_4": _card_2sls_wooldridge_15_4,
    "darfur_sensemakr": _darfur_sensemakr,
    "lalonde_nsw_experimental": _lalonde_nsw_experimental,
}
REFERENCE_NAMES = sorted(path.stem for path in REFERENCE_DIR.glob("*.json"))


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_engine_reproduces_reference(name: str):
    reference = load_reference(name)
    computed = ENGINE[name]()
    assert set(computed) == set(reference["values"]), "engine function and reference list different quantities"
    misses = []
    for q in reference["quantities"]:
        got = computed[q["quantity"]]
        if q.get("compare") == "inside_interval":
            ok = got[0] <= q["value"] <= got[1]
        else:
            ok = abs(got - q["value"]) <= q["tolerance"]
        if not ok:
            misses.append(f"{q['quantity']}: engine {got}, published {q['value']} ({q.get('tolerance', 'interval')})")
    assert not misses, "; ".join(misses)


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_reference_file_is_complete(name: str):
    reference = load_reference(name)
    assert reference["name"] == name and name in ENGINE
    assert all(reference.get(field) for field in REQUIRED_FIELDS), [f for f in REQUIRED_FIELDS if not reference.get(f)]
    for q in reference["quantities"]:
        assert q.get("why"), q["quantity"]
        assert q.get("compare") == "inside_interval" or q.get("tolerance", -1) >= 0, q["quantity"]
    if "script" in reference:
        assert (REFERENCE_DIR / reference["script"]).is_file()


def test_every_engine_function_has_a_reference_file():
    assert sorted(ENGINE) == REFERENCE_NAMES
