"""Plain functions that build the app's and the report's Plotly figures (no streamlit here).

Each module holds one chart; every function takes engine outputs (tables,
arrays, results) and returns a :class:`plotly.graph_objects.Figure`.
"""
from .balance import love_plot
from .covariates import covariate_distribution_plot
from .diagram import causal_diagram
from .forest import forest_plot
from .mixtures import interventional_plot, mix_iid_plot, proxy_profile_plot, source_weights_plot
from .overlap import overlap_plot
from .response import response_curve_plot
from .subgroups import subgroup_chart
from .weights import weight_plot

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
