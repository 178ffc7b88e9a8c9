"""Chart functions: each returns a Plotly figure holding the numbers it was given."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import causal_core as cc
from causal_core.charts import (
    causal_diagram,
    covariate_distribution_plot,
    forest_plot,
    love_plot,
    overlap_plot,
    response_curve_plot,
    subgroup_chart,
    weight_plot,
)
from causal_core.charts.diagram import group_label
from causal_core.datasets.samples import simpson_recommendation_frame
from causal_core.diagnostics.identification import identify


@pytest.fixture(scope="module")
def results_table() -> pd.DataFrame:
    return pd.DataFrame({
        "method": ["a", "b", "c"], "label": ["A", "B", "C"], "estimate": [1.0, 2.0, np.nan],
        "ci_low": [0.5, 1.0, np.nan], "ci_high": [1.5, 3.5, np.nan], "error": ["", "", "failed"],
    })


def test_forest_plot_draws_only_successful_rows_with_their_intervals(results_table):
    figure = forest_plot(results_table, outcome="re78", estimand="ATT", reference=1.2)
    trace = figure.data[0]
    assert list(trace.y) == ["A", "B"]
    np.testing.assert_allclose(trace.x, [1.0, 2.0])
    np.testing.assert_allclose(trace.error_x.array, [0.5, 1.5])
    np.testing.assert_allclose(trace.error_x.arrayminus, [0.5, 1.0])
    assert "re78" in figure.layout.xaxis.title.text and "ATT" in figure.layout.xaxis.title.text
    assert any(shape.x0 == 1.2 for shape in figure.layout.shapes)


@pytest.mark.parametrize("table", [pd.DataFrame(), pd.DataFrame({"method": ["a"], "estimate": [np.nan],
                                                                   "ci_low": [np.nan], "ci_high": [np.nan]})])
def test_forest_plot_without_estimates_says_so(table):
    figure = forest_plot(table)
    assert isinstance(figure, go.Figure) and len(figure.data) == 0
    assert "estimate" in figure.layout.annotations[0].text.lower()


def test_love_plot_uses_absolute_smd_and_threshold(linear_design):
    df, _ = linear_design
    roles = cc.Roles(treatment="treat", outcome="y", confounders=("x1", "x2", "x4"))
    result = cc.estimate(df, roles, "ipw", estimand="ATE")
    table = cc.balance_table(df, roles, weights=result.weights, estimand="ATE")
    figure = love_plot({"IPW": table})
    unadjusted, ipw, threshold = figure.data
    assert threshold.name == "Threshold 0.1" and threshold.line.dash == "dash"
    by_name = dict(zip(unadjusted.y, unadjusted.x))
    for covariate in table.index:
        assert by_name[covariate] == pytest.approx(abs(table.loc[covariate, "smd_before"]))
    assert dict(zip(ipw.y, ipw.x))["x1"] == pytest.approx(abs(table.loc["x1", "smd_after"]))
    assert min(ipw.x) >= 0
    assert any(shape.x0 == 0.1 for shape in figure.layout.shapes)
    assert figure.layout.xaxis.title.text == "Absolute standardised mean difference"


def test_love_plot_without_tables_is_an_empty_figure():
    assert len(love_plot({}).data) == 0


def test_overlap_plot_shares_sum_to_one_per_arm():
    rng = np.random.default_rng(1)
    score = rng.uniform(0.05, 0.95, 500)
    treated = rng.uniform(size=500) < score
    figure = overlap_plot(score, treated)
    treated_bars, control_bars = figure.data
    assert np.sum(treated_bars.y) == pytest.approx(1.0)
    assert np.sum(control_bars.y) == pytest.approx(-1.0)
    assert f"n={treated.sum()}" in treated_bars.name


def test_weight_plot_reports_kish_ess_per_arm():
    weights = np.array([1.0, 1.0, 1.0, 1.0, 2.0, 0.5, 0.5, 3.0])
    treated = np.array([1, 1, 1, 1, 0, 0, 0, 0], dtype=bool)
    figure = weight_plot(weights, treated)
    control_ess = (6.0 ** 2) / (4 + 0.25 + 0.25 + 9)
    assert "ESS=4.0" in figure.data[0].name
    assert f"ESS={control_ess:,.1f}" in figure.data[1].name
    assert sum(figure.data[0].y) == 4 and sum(figure.data[1].y) == 4


@pytest.mark.parametrize("values", [np.linspace(0, 10, 40), np.array(["a", "b"] * 20)])
def test_covariate_distribution_plot_has_weighted_panel(values):
    treated = np.arange(40) % 3 == 0
    weights = np.linspace(0.5, 2, 40)
    figure = covariate_distribution_plot(values, treated, weights=weights, name="x")
    assert len(figure.data) == 4
    for trace in figure.data:
        assert np.sum(trace.y) == pytest.approx(1.0)
    assert len(covariate_distribution_plot(values, treated, name="x").data) == 2


def test_subgroup_chart_shows_strata_then_aggregate_and_flags_reversal():
    df = simpson_recommendation_frame()
    result = cc.subgroup_table(df, "algorithm", "success", by="income", treated_level="A")
    figure = subgroup_chart(result, by="income", outcome="success")
    assert result.reversal
    assert list(figure.data[0].x)[-1] == "All (aggregate)"
    np.testing.assert_allclose(figure.data[0].y, result.table["mean_treated"].to_numpy())
    assert any("Reversal" in a.text for a in figure.layout.annotations)


def test_response_curve_plot_with_band():
    curve = pd.DataFrame({"treatment": [2.0, 1.0, 3.0], "response": [2.0, 1.0, 3.0],
                          "ci_low": [1.5, 0.5, 2.5], "ci_high": [2.5, 1.5, 3.5]})
    figure = response_curve_plot(curve, treatment="educ", outcome="lwage")
    band, line = figure.data
    assert list(line.x) == [1.0, 2.0, 3.0]
    assert "educ" in figure.layout.xaxis.title.text and "lwage" in figure.layout.yaxis.title.text
    assert len(response_curve_plot(pd.DataFrame({"x": [1]})).data) == 0


@pytest.mark.parametrize("extra, boxes", [
    ({}, {"Treatment", "Outcome"}),
    ({"confounders": tuple(f"c{i}" for i in range(12))}, {"Confounders (12)"}),
    ({"instruments": ("z",)}, {"Instruments"}),
    ({"mechanisms": ("m",)}, {"Mechanisms"}),
    ({"proxies": ("p",)}, {"Hidden confounder U", "Proxies of U"}),
    ({"selection": "s", "shadow": "w"}, {"Outcome recorded", "Shadow variable"}),
])
def test_causal_diagram_draws_a_box_per_role(extra, boxes):
    roles = cc.Roles(treatment="t", outcome="y", **extra)
    figure = causal_diagram(roles)
    titles = {a.text.split("</b>")[0].removeprefix("<b>") for a in figure.layout.annotations if a.text}
    assert boxes <= titles
    arrows = [a for a in figure.layout.annotations if a.showarrow]
    assert arrows, "the diagram has arrows"


def test_causal_diagram_names_the_strategy():
    df = pd.DataFrame({"t": [0, 1, 0, 1], "y": [1.0, 2, 3, 4], "z": [1.0, 0, 1, 0]})
    roles = cc.Roles(treatment="t", outcome="y", instruments=("z",))
    figure = causal_diagram(roles, identify(roles, df))
    assert "Instrumental variable" in figure.layout.title.text


def test_mechanisms_replace_the_direct_arrow():
    with_m = causal_diagram(cc.Roles(treatment="t", outcome="y", mechanisms=("m",)))
    without = causal_diagram(cc.Roles(treatment="t", outcome="y"))
    # T -> M -> Y, plus the declared hidden confounder's dashed U -> T and U -> Y
    assert sum(a.showarrow for a in with_m.layout.annotations) == 4
    assert any("Hidden confounder" in (a.text or "") for a in with_m.layout.annotations)
    assert sum(a.showarrow for a in without.layout.annotations) == 1


@pytest.mark.parametrize("columns, expected", [
    (("a", "b"), "a, b"), (("a", "b", "c", "d", "e"), "a, b, c +2 more"),
])
def test_group_label(columns, expected):
    assert group_label(columns) == expected


def _projection_figure() -> go.Figure:
    from causal_core.charts.heterogeneity import subgroup_projection_plot

    rng = np.random.default_rng(0)
    return subgroup_projection_plot(rng.normal(size=(60, 2)), rng.integers(1, 7, 60))


def _proxy_figure() -> go.Figure:
    from causal_core.charts.mixtures import proxy_profile_plot

    table = pd.DataFrame({"proxy": ["p1", "p1"], "level": [0, 1], "source 1": [0.8, 0.2], "source 2": [0.3, 0.7]})
    return proxy_profile_plot(table)


@pytest.mark.parametrize("make", [_projection_figure, _proxy_figure], ids=["subgroup_projection", "proxy_profile"])
def test_titled_chart_keeps_its_legend_inside_the_figure_and_clear_of_the_title(make):
    """A wrapped legend above the plot used to overprint the title (six subgroups on the Heterogeneity page)."""
    figure = make()
    assert figure.layout.title.text
    legend = figure.layout.legend
    assert legend.yref == "container" and legend.yanchor == "bottom" and 0 <= legend.y <= 0.05
