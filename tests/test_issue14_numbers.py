"""Issue 14, the numbers: each number is computed once in the engine and shown the same everywhere.

Rows used after matching and trimming (per arm), ESS per arm, one SMD, every level of a
categorical in the balance table, one number formatter (never clipped, full precision in
CSV/XLSX), unit-effect means that say which population they average over, an agreement
verdict without the naive contrast, and labels instead of raw ids.
"""
from __future__ import annotations

import io
import re
from html import unescape
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

import causal_core as cc
from causal_core.charts import love_plot
from causal_core.charts.heterogeneity import unit_effects_histogram
from causal_core.core.formatting import format_number, format_table_value
from causal_core.core.labels import RESULT_NUMBER_COLUMNS, column_label, formatted_results, labelled_table
from causal_core.report.html_report import build_html_report
from causal_core.report.method_diagnostics import diagnostics_html
from causal_core.report.tables import results_table_csv, results_table_xlsx
from causal_core.robustness.method_lab import _recommend

ROOT = Path(__file__).resolve().parents[1]
PSID_ROLES = cc.Roles(treatment="treat", outcome="re78",
                      confounders=["age", "educ", "black", "hispanic", "married", "nodegree", "re74", "re75",
                                   "u74", "u75"])
#: The LaLonde PSID sample: 185 NSW treated and 2,490 PSID controls.
N_TREATED, N_CONTROL = 185, 2490


@pytest.fixture(scope="module")
def psid():
    df = cc.load_sample("lalonde_psid")
    results = {
        "exact_matching": cc.estimate(df, PSID_ROLES, "exact_matching", estimand="ATT", seed=0),
        "ipw": cc.estimate(df, PSID_ROLES, "ipw", estimand="ATT", seed=0, trim=0.01),
        "entropy_balancing": cc.estimate(df, PSID_ROLES, "entropy_balancing", estimand="ATT", seed=0),
        "difference_in_means": cc.estimate(df, PSID_ROLES, "difference_in_means", estimand="ATT", seed=0),
    }
    table = pd.DataFrame([{**r.summary(), "error": ""} for r in results.values()])
    return df, results, table


@pytest.fixture(scope="module")
def psid_report(psid):
    df, results, table = psid
    return build_html_report(data_name="lalonde_psid", df=df, roles=PSID_ROLES, estimand="ATT", table=table,
                             results=results)


def _report_cells(page: str, method: str) -> dict[str, str]:
    """Shown text of each number cell of one method's row in the report's results table."""
    body = page.split('id="results-table"', 1)[1].split("</table>", 1)[0]
    header = re.findall(r"<th>(.*?)</th>", body.split("</thead>", 1)[0])
    row = re.search(rf'<tr><td data-method="{method}">.*?</tr>', body, flags=re.S).group(0)
    cells = [unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r'<td class="number"[^>]*>.*?</td>', row)]
    return dict(zip([unescape(h) for h in header[1:]], cells))


def _csv(table: pd.DataFrame) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(results_table_csv(table))).set_index("method")


def _xlsx(table: pd.DataFrame) -> pd.DataFrame:
    sheet = openpyxl.load_workbook(io.BytesIO(results_table_xlsx(table)))["Results"]
    rows = list(sheet.iter_rows(values_only=True))
    return pd.DataFrame(rows[1:], columns=rows[0]).set_index("method")


# ---- 1. rows used count the units that enter the estimate ------------------------------------------------------

def test_exact_matching_rows_used_leave_out_unmatched_units(psid, psid_report):
    df, results, table = psid
    result = results["exact_matching"]
    d = result.diagnostics
    assert (d["n_dropped_treated"], d["n_dropped_control"]) == (134, 2425)  # the drops the issue found
    assert result.n_used_by_arm == {"treated": N_TREATED - 134, "control": N_CONTROL - 2425}
    assert result.n_used == N_TREATED + N_CONTROL - 134 - 2425 == int(np.sum(result.weights > 0))
    assert result.n_rows == len(df) == N_TREATED + N_CONTROL  # the rows in the design, kept apart
    csv, xlsx = _csv(table), _xlsx(table)
    for shown in (csv, xlsx):
        row = shown.loc["exact_matching"]
        assert (row["n_used"], row["n_treated"], row["n_control"], row["n_design"]) == (116, 51, 65, 2675)
    cells = _report_cells(psid_report, "exact_matching")
    assert (cells["Rows used"], cells["Treated used"], cells["Controls used"]) == ("116", "51", "65")


def test_trimmed_ipw_rows_used_leave_out_trimmed_units(psid, psid_report):
    df, results, table = psid
    result = results["ipw"]
    trimmed = result.diagnostics["n_trimmed"]
    # the issue found 2006 with the lbfgs logit; the exact MLE (Newton) puts one more control (row 276: propensity
    # 0.010013 by lbfgs, 0.009989 exactly) below the 0.01 threshold
    assert trimmed == 2007
    assert result.n_used == len(df) - trimmed == int(np.sum(result.weights > 0))
    assert sum(result.n_used_by_arm.values()) == result.n_used
    assert _csv(table).loc["ipw", "n_used"] == _xlsx(table).loc["ipw", "n_used"] == len(df) - trimmed
    assert _report_cells(psid_report, "ipw")["Rows used"] == f"{len(df) - trimmed:,}"
    # methods that drop nothing use every row of the design
    assert results["difference_in_means"].n_used == results["entropy_balancing"].n_used == len(df)


# ---- 2, 3. ESS per arm, labelled, and the same in every place -------------------------------------------------------

def test_ess_is_per_arm_and_the_same_in_table_warning_balance_and_report(psid, psid_report):
    df, results, table = psid
    result = results["entropy_balancing"]
    control = result.weight_diagnostics.ess_after["control"]
    assert control == pytest.approx(cc.effective_sample_size(result.weights[~result.treated]), rel=1e-12)
    assert control < 0.05 * N_CONTROL  # what matters for the ATT: few effective controls
    assert result.weight_diagnostics.ess_after["treated"] == pytest.approx(N_TREATED)  # treated unweighted
    row = table.set_index("method").loc["entropy_balancing"]
    assert row["ess_control"] == control and row["ess_treated"] == result.weight_diagnostics.ess_after["treated"]
    assert "ess" not in table.columns  # no unlabelled pooled ESS
    balance = cc.balance_table(result, df)
    assert balance.attrs["ess"]["control"]["after"] == pytest.approx(control, rel=1e-12)
    assert any(f"effective sample size {control:.0f} of {N_CONTROL} rows" in w for w in result.warnings)
    assert _csv(table).loc["entropy_balancing", "ess_control"] == pytest.approx(control, rel=1e-12)
    assert _xlsx(table).loc["entropy_balancing", "ess_control"] == pytest.approx(control, rel=1e-15)  # 16 digits
    shown = format_number(control)
    assert _report_cells(psid_report, "entropy_balancing")["ESS control"] == shown
    grid = formatted_results(table).set_index("method")
    assert grid.loc["entropy_balancing", "ess_control"] == shown
    assert f"{shown} of {N_CONTROL:,} rows" in diagnostics_html(result)


def test_ipw_ess_before_is_the_row_count_not_the_untrimmed_weights(psid):
    df, results, _ = psid
    result = results["ipw"]
    ess = result.weight_diagnostics
    assert dict(ess.ess_before) == {"treated": float(N_TREATED), "control": float(N_CONTROL)}
    assert ess.ess_after["control"] < ess.n_positive["control"] < ess.ess_before["control"]
    balance = cc.balance_table(result, df)
    assert balance.attrs["ess"]["control"]["before"] == ess.ess_before["control"]
    assert balance.attrs["ess"]["control"]["after"] == pytest.approx(ess.ess_after["control"], rel=1e-12)
    assert not {"ess_before", "ess_after"} & set(result.diagnostics)  # one ESS, not a second copy
    block = diagnostics_html(result)
    assert f"{format_number(ess.ess_after['control'])} of {N_CONTROL:,} rows" in block


# ---- 4. one SMD --------------------------------------------------------------------------------------------------

def _cobalt_att_smd(df: pd.DataFrame, column: str, weights: np.ndarray | None = None) -> float:
    """Cobalt's ATT SMD written out: weighted mean difference over the unadjusted treated SD; binary raw."""
    t = df["treat"].to_numpy() == 1
    x = df[column].to_numpy(dtype=float)
    w = np.ones(len(x)) if weights is None else weights
    difference = np.average(x[t], weights=w[t]) - np.average(x[~t], weights=w[~t])
    if set(np.unique(x)) <= {0.0, 1.0}:
        return float(difference)
    return float(difference / x[t].std(ddof=1))


@pytest.mark.parametrize("method", ["exact_matching", "ipw", "entropy_balancing"])
def test_max_smd_of_the_method_diagnostics_is_the_balance_tables(psid, psid_report, method):
    df, results, _ = psid
    result = results[method]
    balance = cc.balance_table(result, df)
    assert result.diagnostics["max_abs_smd_before"] == balance["smd_before"].abs().max()
    assert result.diagnostics["max_abs_smd_after"] == balance["smd_after"].abs().max()
    by_hand = max(abs(_cobalt_att_smd(df, c)) for c in PSID_ROLES.confounders)
    assert result.diagnostics["max_abs_smd_before"] == pytest.approx(by_hand, rel=1e-12)
    by_hand_after = max(abs(_cobalt_att_smd(df, c, result.weights)) for c in PSID_ROLES.confounders)
    assert result.diagnostics["max_abs_smd_after"] == pytest.approx(by_hand_after, rel=1e-9, abs=1e-12)
    section = re.search(rf'<section class="method-diagnostics" id="diagnostics-{method}">(.*?)</section>',
                        psid_report, flags=re.S).group(1)
    assert f"<th>Largest |SMD| before (balance table)</th><td class=\"number\" data-value=\"" \
           f"{result.diagnostics['max_abs_smd_before']!r}\">{format_number(balance['smd_before'].abs().max())}</td>" \
        in section


# ---- 5. every level of a categorical confounder ---------------------------------------------------------------------

def _level_driven_design(n: int = 600, seed: int = 3) -> pd.DataFrame:
    """Treatment driven by the reference level 'a' of a categorical (the first level in sorted order)."""
    rng = np.random.default_rng(seed)
    region = rng.choice(["a", "b", "c"], size=n)
    x = rng.normal(size=n)
    treat = (rng.random(n) < np.where(region == "a", 0.8, 0.25)).astype(int)
    y = 1.0 * treat + x + (region == "a") + rng.normal(size=n)
    return pd.DataFrame({"x": x, "region": region, "treat": treat, "y": y})


def test_balance_table_and_love_plot_show_every_level_including_the_reference():
    df = _level_driven_design()
    roles = cc.Roles(treatment="treat", outcome="y", confounders=["x", "region"])
    before = df.copy()
    result = cc.estimate(df, roles, "ipw", estimand="ATE")
    table = cc.balance_table(result, df)
    pd.testing.assert_frame_equal(df, before)
    assert list(table.index) == ["x", "region=a", "region=b", "region=c"]
    t = df["treat"] == 1
    share = lambda rows: float((df.loc[rows, "region"] == "a").mean())  # noqa: E731
    assert table.loc["region=a", "smd_before"] == pytest.approx(share(t) - share(~t), rel=1e-12)
    assert table["smd_before"].abs().idxmax() == "region=a"  # the level that drives treatment is there
    assert result.diagnostics["max_abs_smd_before"] == table["smd_before"].abs().max()
    figure = love_plot({"Inverse probability weighting": table})
    labels = {str(v) for trace in figure.data for v in (trace.y if trace.y is not None else ())}
    assert {"region=a", "region=b", "region=c"} <= labels
    # the estimators still see one indicator fewer than levels
    assert "region=a" not in result.covariate_names and "region=b" in result.covariate_names


# ---- 9. one formatter, never clipped, full precision in the exports -----------------------------------------------

@pytest.mark.parametrize("value, column, expected", [
    (0.009934, "std_error", "0.009934"), (-15204.78, "estimate", "-15,204.78"), (5.31e-134, "p_value", "<0.001"),
    (0.3141, "p_value", "0.314"), (2954.0, "estimate", "2,954.00"), (669.0, "n_used", "669"),
    (23.38, "ess_control", "23.38"), (float("nan"), "ess_control", ""), (None, "estimate", ""),
    (1.5e-7, "std_error", "1.500e-07"), (123456789.123, "estimate", "123,456,789.12"),
])
def test_the_one_formatter_keeps_every_digit_that_matters(value, column, expected):
    assert format_table_value(value, column) == expected


def test_grid_report_and_exports_show_the_same_numbers(psid, psid_report):
    _, results, table = psid
    grid = formatted_results(table).set_index("method")
    csv, xlsx = _csv(table), _xlsx(table)
    raw = table.set_index("method")
    for method in results:
        cells = _report_cells(psid_report, method)
        for column in RESULT_NUMBER_COLUMNS:
            if column == "seconds":
                continue
            assert cells[column_label(column)] == grid.loc[method, column], (method, column)
            value = raw.loc[method, column]
            if pd.isna(value):
                assert grid.loc[method, column] == "" and pd.isna(csv.loc[method, column])
                continue
            assert float(csv.loc[method, column]) == float(value)  # CSV: full precision, read back exactly
            # XLSX: a number cell; openpyxl writes 16 significant digits (Excel itself shows 15), so the
            # last bit of a double may differ: a relative 1e-15 is the file format's precision
            assert float(xlsx.loc[method, column]) == pytest.approx(float(value), rel=1e-15, abs=0)
    assert not any(text in ("None", "nan") for text in grid.to_numpy().ravel())


# ---- 8. unit-effect means say which population they average over ------------------------------------------------

def test_unit_effect_means_name_their_population():
    treated = np.array([True, True, False, False, False])
    effects = np.array([3.0, 5.0, -20.0, -10.0, -12.0])
    result = cc.EstimateResult(estimate=4.0, std_error=1.0, ci_low=2.0, ci_high=6.0, estimand="ATT",
                               method="t_learner", n_used=5, unit_effects=effects, treated=treated)
    averages = result.unit_effect_averages()
    assert averages == [("mean over treated rows (the ATT population)", 4.0),
                        ("mean over all rows (the ATE)", pytest.approx(-6.8))]
    texts = [a.text for a in unit_effects_histogram(effects, averages=averages).layout.annotations]
    assert any("treated rows (the ATT population): 4.000" in t for t in texts)
    assert any("all rows (the ATE): -6.800" in t for t in texts)
    assert not any("Mean of all rows" in t for t in texts)


# ---- 10. agreement leaves out the naive contrast; "not reliable" is no success -------------------------------------

def _result(method: str, estimate: float, se: float) -> cc.EstimateResult:
    return cc.EstimateResult(estimate, se, estimate - 1.96 * se, estimate + 1.96 * se, "ATT", method, 100)


def test_agreement_leaves_out_difference_in_means():
    results = {"difference_in_means": _result("difference_in_means", -15204.78, 600.0),
               "ipw": _result("ipw", 1500.0, 800.0), "entropy_balancing": _result("entropy_balancing", 2000.0, 900.0)}
    summary = cc.agreement_summary(results)
    assert summary.excluded == ("difference_in_means",)
    assert summary.n_methods == 2 and summary.same_sign and summary.agree
    assert "difference_in_means" not in set(summary.table["method"])
    assert "left out" in summary.verdict
    with pytest.raises(cc.CausalInputError, match="at least 2 adjusting methods.*difference_in_means"):
        cc.agreement_summary({m: results[m] for m in ("difference_in_means", "ipw")})
    split = cc.agreement_summary({"ipw": _result("ipw", 1.0, 0.1), "entropy_balancing": _result("entropy_balancing", -1.0, 0.1)})
    assert not split.agree


def test_no_reliable_method_is_not_a_success():
    table = pd.DataFrame({"method": ["ipw", "regression_adjustment"], "label": ["IPW", "Regression"],
                          "n_ok": [10, 10], "rmse": [0.1, 0.5], "bias": [0.05, 0.4], "coverage": [0.5, 0.6],
                          "coverage_mc_se": [0.05, 0.05]})
    recommended, text = _recommend(table, 1.0, "ATT", "linear")
    assert recommended is None and "No method is reliable" in text
    lab = cc.MethodLabResult(table=table, truth=1.0, estimand="ATT", scenario="linear", effect=1.0, confounding=1.0,
                             n_replications=10, recommended=recommended, recommendation=text)
    assert not lab.reliable
    page = (ROOT / "pages" / "10_Robustness.py").read_text(encoding="utf-8")
    assert "(st.success if lab.reliable else st.warning)(lab.recommendation)" in page
    assert "st.success(lab.recommendation)" not in page


# ---- 18. labels, not raw ids -----------------------------------------------------------------------------------------

def test_report_and_tables_use_labels_not_raw_ids(psid, psid_report):
    _, results, _ = psid
    block = diagnostics_html(results["ipw"])
    for raw in ("se_method", "n_trimmed", "ess_before", "max_abs_smd_before"):
        assert f">{raw}<" not in block and f"<code>{raw}</code>" not in block
    assert "Standard error computed by" in block and "Rows trimmed" in block
    agreement = labelled_table(cc.agreement_summary(results).table)
    assert "distance_in_se" not in agreement.columns and "Method" in agreement.columns
    assert set(agreement["Method"]) == {cc.get_method(m).label for m in ("exact_matching", "ipw", "entropy_balancing")}
    ovb = pd.DataFrame({"benchmark": ["re74"], "kd": [1.0], "ky": [1.0], "r2dx_benchmark": [0.02],
                        "adjusted_estimate": [None]})
    shown = labelled_table(ovb)
    assert not {"kd", "ky", "r2dx_benchmark"} & set(shown.columns)
    assert shown.iloc[0].tolist()[-1] == ""  # an empty cell, never "None"


# ---- the app shows the engine's numbers -------------------------------------------------------------------------------

def test_estimate_and_diagnostics_pages_show_the_engines_rows_used_and_ess():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.selectbox(key="data_sample").set_value("lalonde_psid").run()
    at.button(key="data_load_sample").click().run()
    at.session_state["methods"] = ["exact_matching", "ipw"]
    at.session_state["method_options"] = {"ipw": {"trim": 0.01}}
    at.session_state["estimand"] = "ATT"
    at.switch_page("pages/4_Estimate.py").run()
    at.button(key="est_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    bundle = at.session_state["results"]
    assert bundle.estimand == "ATT" and set(bundle.results) == {"exact_matching", "ipw"}
    grid = next(d for d in at.dataframe if "n_used" in d.value.columns).value.set_index("label")
    exact = grid.loc[cc.get_method("exact_matching").label]
    assert (exact["n_used"], exact["n_treated"], exact["n_control"]) == ("116", "51", "65")
    ipw = bundle.results["ipw"]
    shown = grid.loc[cc.get_method("ipw").label]
    assert shown["n_used"] == f"{ipw.n_used:,}" == "668"  # 669 with the lbfgs logit: see the trimmed-rows test
    assert shown["ess_control"] == format_number(ipw.weight_diagnostics.ess_after["control"])
    assert shown["estimate"] == format_number(ipw.estimate) and shown["std_error"] == format_number(ipw.std_error)

    at.switch_page("pages/5_Diagnostics.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.selectbox(key="diag_method").set_value("ipw").run()
    quantities = next(d for d in at.dataframe if "quantity" in d.value.columns).value.set_index("quantity")["value"]
    assert quantities["Rows used (enter the estimate)"] == "668"
    assert quantities["Rows used: control"] == f"{ipw.n_used_by_arm['control']:,}"
    assert quantities["Effective sample size (Kish): control"] == format_number(ipw.weight_diagnostics.ess_after["control"])
    assert quantities["Largest |SMD| before (balance table)"] == format_number(ipw.diagnostics["max_abs_smd_before"])
    assert "se_method" not in quantities.index and "n_trimmed" not in quantities.index
