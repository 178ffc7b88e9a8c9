"""Plain functions that build the app's and the report's Plotly figures (no streamlit here).

Each module holds one chart; every function takes engine outputs (tables,
arrays, results) and returns a :class:`plotly.graph_objects.Figure`.
"""
from causal_core.charts.balance import love_plot
from causal_core.charts.covariates import covariate_distribution_plot
from causal_core.charts.diagram import causal_diagram
from causal_core.charts.forest import forest_plot
from causal_core.charts.mixtures import interventional_plot, mix_iid_plot, proxy_profile_plot, source_weights_plot
from causal_core.charts.overlap import overlap_plot
from causal_core.charts.response import response_curve_plot
from causal_core.charts.subgroups import subgroup_chart
from causal_core.charts.weights import weight_plot

__all__ = [
    "causal_diagram",
    "covariate_distribution_plot",
    "forest_plot",
    "interventional_plot",
    "love_plot",
    "mix_iid_plot",
    "overlap_plot",
    "proxy_profile_plot",
    "response_curve_plot",
    "source_weights_plot",
    "subgroup_chart",
    "weight_plot",
]
