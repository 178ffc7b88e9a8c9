"""A Dask dataframe as a data source of the streamed estimators: the same numbers as its Parquet file."""
from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core.outofcore import estimate_large, open_table, streamed_estimate
from causal_core.outofcore.dask_source import from_dask

ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "region"])


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(21)
    n = 4000
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    region = rng.choice(["north", "south", "east"], size=n)
    treat = (rng.random(n) < 1 / (1 + np.exp(-(0.5 * x1 + 0.3 * (region == "south"))))).astype(int)
    y = 2.0 * treat + x1 - 0.5 * x2 + (region == "east") + rng.normal(size=n)
    y[::97] = np.nan  # rows with a missing outcome are dropped, as in memory
    return pd.DataFrame({"treat": treat, "y": y, "x1": x1, "x2": x2, "region": region})


@pytest.fixture(scope="module")
def sources(table, tmp_path_factory):
    folder = tmp_path_factory.mktemp("dask_source")
    table.to_parquet(folder / "t.parquet", index=False)
    parquet = open_table(folder / "t.parquet")
    # uneven Dask partitions (7 of them) that are re-cut into the estimators' fixed partitions
    dask = from_dask(dd.from_pandas(table, npartitions=7, sort=False))
    return parquet, dask


@pytest.mark.parametrize("method, estimand, options", [
    ("difference_in_means", "ATE", {}),
    ("regression_adjustment", "ATE", {}),
    ("regression_adjustment", "ATT", {"interactions": True}),
])
def test_a_dask_source_equals_the_parquet_file(sources, table, method, estimand, options):
    parquet, dask = sources
    assert dask.n_rows == parquet.n_rows == len(table) and dask.columns == parquet.columns
    from_file = streamed_estimate(parquet, ROLES, method, estimand=estimand, rows_per_partition=900, **options)
    from_dask_frame = streamed_estimate(dask, ROLES, method, estimand=estimand, rows_per_partition=900, **options)
    assert from_dask_frame.n_partitions == from_file.n_partitions == 5
    assert from_dask_frame.n_used == from_file.n_used
    assert abs(from_dask_frame.estimate - from_file.estimate) < 1e-10
    assert abs(from_dask_frame.std_error - from_file.std_error) < 1e-10
    in_memory = cc.estimate(table, ROLES, method, estimand=estimand, **options)
    assert abs(from_dask_frame.estimate - in_memory.estimate) < 1e-10


def test_a_method_without_a_streamed_form_runs_on_a_seeded_sample_of_the_dask_frame(sources, table):
    _, dask = sources
    first = estimate_large(dask, ROLES, "propensity_score_matching", seed=4, sample_rows=1500)
    again = estimate_large(dask, ROLES, "propensity_score_matching", seed=4, sample_rows=1500)
    assert (first.estimate, first.std_error) == (again.estimate, again.std_error)
    assert "sample of 1,500 of 4,000 rows" in first.warnings[0]
    drawn = dask.sample(1500, 4, columns=["treat", "y"])
    assert len(drawn) == 1500 and drawn.isin(table[["treat", "y"]].to_dict("list")).all().all()


def test_a_dask_source_refuses_what_is_not_there(sources):
    _, dask = sources
    with pytest.raises(cc.CausalInputError, match="Column 'nope' given in the roles is not in 'dask dataframe'"):
        streamed_estimate(dask, cc.Roles(treatment="treat", outcome="y", confounders=["nope"]),
                          "difference_in_means")
    with pytest.raises(cc.CausalInputError, match="must be a dask.dataframe.DataFrame; got DataFrame"):
        from_dask(pd.DataFrame({"a": [1]}))
