"""A DuckDB query as a data source: the streamed estimators read its result as they read a file, equal to the
in-memory estimators on the loaded result, bit-identical on a real 2-worker cluster; anything but one read-only
SELECT over files inside the data folder is refused."""
from __future__ import annotations

import os
import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest

import causal_core as cc
from causal_core.compute.backend import cluster_client
from causal_core.datasets.simulate import linear_confounded
from causal_core.outofcore import estimate_large, open_query, preview, profile, streamed_estimate
from causal_core.outofcore import source as source_module
from causal_core.outofcore.tables import streamed_balance_table, streamed_subgroup_table
from tests.test_compute_backend import cluster  # noqa: F401  (the module-scoped LocalCluster fixture)

ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3", "x4", "region"])
ROWS = 500


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    df, _ = linear_confounded(n=3000, seed=5)
    df["id"] = np.arange(len(df))
    df.to_parquet(root / "main.parquet", row_group_size=700)
    pd.DataFrame({"id": df["id"], "keep": np.arange(len(df)) % 3 != 0}).to_parquet(root / "keep.parquet")
    outside = tmp_path_factory.mktemp("outside")
    df.to_parquet(outside / "secret.parquet")
    return root, outside


def _query(root) -> str:
    return (f"SELECT m.* FROM '{root / 'main.parquet'}' m JOIN '{root / 'keep.parquet'}' k USING (id) "
            "WHERE k.keep AND m.x1 > -2 ORDER BY m.id")


@pytest.mark.parametrize("method, estimand", [("difference_in_means", "ATE"), ("regression_adjustment", "ATT"),
                                              ("ipw", "ATE"), ("doubly_robust", "ATT"),
                                              ("entropy_balancing", "ATT")])
def test_a_query_streams_like_a_file_and_equals_the_in_memory_estimate(folder, method, estimand):
    root, _ = folder
    source = open_query(_query(root), data_root=root)
    loaded = duckdb.sql(_query(root)).df()
    assert source.n_rows == len(loaded) and 1500 < len(loaded) < 2000  # the JOIN and WHERE took effect
    got = streamed_estimate(source, ROLES, method, estimand=estimand, rows_per_partition=ROWS)
    want = cc.estimate(loaded, ROLES, method, estimand=estimand)
    assert got.n_partitions == -(-len(loaded) // ROWS)
    np.testing.assert_allclose([got.estimate, got.std_error], [want.estimate, want.std_error], rtol=1e-10)


@pytest.mark.parametrize("method", ["ipw", "entropy_balancing", "two_stage_least_squares"])
def test_a_query_on_the_cluster_gives_the_serial_numbers_bit_for_bit(cluster, folder, method):  # noqa: F811
    root, _ = folder
    if method == "two_stage_least_squares":
        sql = f"SELECT *, x2 + 0.5 * x3 AS z FROM '{root / 'main.parquet'}' WHERE id % 2 = 0"
        roles = cc.Roles(treatment="x1", outcome="y", confounders=["x4"], instruments=["z"])
    else:
        sql, roles = _query(root), ROLES
    source = open_query(sql, data_root=root)
    got = streamed_estimate(source, roles, method, rows_per_partition=ROWS)
    with cc.backend("serial"):
        want = streamed_estimate(source, roles, method, rows_per_partition=ROWS)
    assert cluster_client() is not None
    assert (got.estimate, got.std_error, got.n_used) == (want.estimate, want.std_error, want.n_used)


def test_profile_preview_tables_and_a_sampled_method_work_on_a_query(folder):
    root, _ = folder
    source = open_query(_query(root), data_root=root)
    loaded = duckdb.sql(_query(root)).df()
    assert profile(source).set_index("column").loc["region", "missing"] == 0
    pd.testing.assert_frame_equal(preview(source, 5), loaded.head(5))
    table = streamed_balance_table(source, ROLES, estimand="ATT", rows_per_partition=ROWS)
    want = cc.balance_table(loaded, ROLES, estimand="ATT")
    assert list(table.index) == list(want.index)
    exact = [c for c in want.columns if c.startswith(("mean_", "smd_", "var_ratio_")) and c != "var_ratio_ok"]
    np.testing.assert_allclose(table[exact].to_numpy(float), want[exact].to_numpy(float), rtol=1e-10, atol=1e-13)
    subgroups = streamed_subgroup_table(source, "treat", "y", "region")
    expected = cc.subgroup_table(loaded, "treat", "y", by="region")
    np.testing.assert_allclose(subgroups.table.to_numpy(float), expected.table.to_numpy(float), rtol=1e-10)
    result = estimate_large(source, ROLES, "nearest_neighbor_matching", estimand="ATT", seed=3, sample_rows=800)
    assert result.warnings[0].startswith(f"Estimated on a seeded sample of 800 of {len(loaded):,} rows")


@pytest.mark.parametrize("sql, fragment", [
    ("SELECT 1 AS a; SELECT 2 AS b", "2 statements"),
    ("COPY (SELECT 1) TO '{root}/written.csv'", "type COPY"),
    ("ATTACH '{root}/written.duckdb'", "type ATTACH"),
    ("INSTALL httpfs", "only a read-only SELECT"),
    ("LOAD httpfs", "only a read-only SELECT"),
    ("SET threads = 1", "type SET"),
    ("PRAGMA version", "type PRAGMA"),
    ("CREATE TABLE t AS SELECT 1", "type CREATE"),
    ("SELECT * FROM read_csv('/etc/passwd')", "outside the data folder"),
    ("SELECT * FROM '{outside}/secret.parquet'", "outside the data folder"),
    ("SELECT * FROM '{root}/../{outside_name}/secret.parquet'", "outside the data folder"),
    ("SELECT * FROM glob('/*')", "outside the data folder"),
    ("SELECT * FROM 'main.parquet'", "outside the data folder"),  # relative: resolved from the server's cwd
    ("SELEC 1", "could not be parsed"),
    ("   ", "empty"),
    ("SELECT * FROM '{root}/missing.parquet'", "could not be run"),
])
def test_anything_but_one_select_over_files_in_the_folder_is_refused(folder, sql, fragment):
    root, outside = folder
    before = sorted(p.name for p in root.iterdir())
    with pytest.raises(cc.CausalInputError, match=r"(?i)" + fragment.replace("(", r"\(")):
        open_query(sql.format(root=root, outside=outside, outside_name=outside.name), data_root=root)
    assert sorted(p.name for p in root.iterdir()) == before  # nothing written


def test_a_query_that_runs_too_long_is_stopped_with_a_message(folder, monkeypatch):
    root, _ = folder
    monkeypatch.setattr(source_module, "OPEN_QUERY_SECONDS", 0.3)
    with pytest.raises(cc.CausalInputError, match="took over 0.3 s"):
        open_query("SELECT count(*) FROM range(100000000000) a, range(10) b", data_root=root)


def test_a_query_with_a_trailing_comment_and_semicolon_opens(folder):
    root, _ = folder
    source = open_query(f"SELECT * FROM '{root / 'main.parquet'}' WHERE treat = 1; -- treated only", data_root=root)
    counted = duckdb.sql(f"SELECT count(*) FROM '{root / 'main.parquet'}' WHERE treat = 1").fetchall()[0][0]
    assert source.n_rows == counted > 0
    assert source.kind == "query" and source.data_root == str(root.resolve())


def test_the_sandbox_cannot_be_undone_from_inside_the_query(folder):
    root, outside = folder
    source = open_query(f"SELECT * FROM '{root / 'main.parquet'}'", data_root=root)
    con = source_module._connect(source)
    try:
        with pytest.raises(duckdb.Error):
            con.execute("SET enable_external_access = true")
        with pytest.raises(duckdb.PermissionException):
            con.execute(f"SELECT * FROM '{outside / 'secret.parquet'}'")
    finally:
        con.close()


def test_a_streamed_estimate_says_where_it_was_computed(cluster, folder):  # noqa: F811
    from causal_core.outofcore.large_run import scale_note

    root, _ = folder
    source = open_query(_query(root), data_root=root)
    on_cluster = streamed_estimate(source, ROLES, "difference_in_means", rows_per_partition=ROWS)
    assert on_cluster.compute["backend"] == "local" and on_cluster.compute["n_workers"] == 2
    assert "numpy" in str(on_cluster.compute)  # the package versions travel with it
    assert scale_note(on_cluster, source.n_rows).endswith(f"of at most {ROWS:,} rows, on a local Dask cluster of 2 workers).")
    with cc.backend("serial"):
        here = streamed_estimate(source, ROLES, "difference_in_means", rows_per_partition=ROWS)
    assert here.compute["backend"] == "serial" and scale_note(here, source.n_rows).endswith(f"{ROWS:,} rows).")


def _fingerprint(folder) -> dict[str, str]:
    import hashlib

    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_query_cannot_read_the_spill_files_of_the_other_connections(folder, tmp_path, monkeypatch):
    # DuckDB adds its spill folder to the allowed ones; its default is ".tmp" under the working directory, where
    # every other DuckDB connection of the app (another user's table, another query) spills its blocks
    root, _ = folder
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tmp").mkdir()
    (tmp_path / ".tmp" / "duckdb_temp_block").write_bytes(b"another session's rows")
    with pytest.raises(cc.CausalInputError, match="outside the data folder"):
        open_query(f"SELECT * FROM read_blob('{tmp_path / '.tmp'}/*')", data_root=root)
    source = open_query(f"SELECT * FROM '{root / 'main.parquet'}'", data_root=root)
    first, second = source_module._connect(source), source_module._connect(source)
    try:
        allowed = [con.execute("SELECT current_setting('allowed_directories')").fetchone()[0] for con in (first, second)]
        spills = [con.execute("SELECT current_setting('temp_directory')").fetchone()[0] for con in (first, second)]
    finally:
        first.close()
        second.close()
    assert spills[0] != spills[1]  # each connection its own folder, none shared with another session
    for folders, spill in zip(allowed, spills):
        assert sorted(folders) == sorted([str(root.resolve()) + "/", spill + "/"])
    # the spill folders lie in one private folder of this process (mode 0700), created by DuckDB when it spills
    parent = source_module._spill_parent()
    assert all(os.path.dirname(s) == parent for s in spills) and (os.stat(parent).st_mode & 0o077) == 0


def test_a_link_inside_the_folder_to_a_file_outside_it_is_refused(folder, tmp_path):
    root, outside = folder
    linked = tmp_path / "linked"
    linked.mkdir()
    shutil.copy(root / "main.parquet", linked / "real.parquet")
    (linked / "alias.parquet").symlink_to(linked / "real.parquet")  # a link within the folder is read
    (linked / "secret.parquet").symlink_to(outside / "secret.parquet")  # DuckDB resolves links before it checks
    assert open_query(f"SELECT * FROM '{linked / 'alias.parquet'}'", data_root=linked).n_rows == 3000
    with pytest.raises(cc.CausalInputError, match="outside the data folder"):
        open_query(f"SELECT * FROM '{linked / 'secret.parquet'}'", data_root=linked)


@pytest.mark.parametrize("sql, fragment", [
    ("COPY (SELECT 1 AS y) TO '{root}/main.parquet' (FORMAT parquet)", "type COPY"),  # over an existing file
    ("SELECT * FROM '{root}/main.parquet'; COPY (SELECT 1 AS y) TO '{root}/main.parquet'", "2 statements"),
    ("SELECT * FROM query('COPY (SELECT 1) TO ''{root}/written.csv''')", "could not be run"),
    ("SELECT * FROM read_text('{root}/../{outside_name}/secret.parquet')", "outside the data folder"),
    ("SELECT * FROM read_csv('https://example.com/x.csv')", "outside the data folder"),
])
def test_a_refused_query_leaves_every_file_byte_for_byte(folder, sql, fragment):
    root, outside = folder
    before, secret = _fingerprint(root), _fingerprint(outside)
    with pytest.raises(cc.CausalInputError, match=fragment):
        open_query(sql.format(root=root, outside_name=outside.name), data_root=root)
    assert _fingerprint(root) == before and _fingerprint(outside) == secret


def test_the_query_text_reaches_duckdb_as_one_literal_and_a_trusted_query_is_locked_too(folder):
    root, outside = folder
    odd = open_query("SELECT 'it''s'') --' AS x", data_root=root)  # quotes, a bracket and a comment marker: data
    assert odd.relation == "query('SELECT ''it''''s'''') --'' AS x')" and preview(odd)["x"].tolist() == ["it's') --"]
    trusted = open_query(f"SELECT * FROM '{outside / 'secret.parquet'}'")  # code, no data folder: any file
    con = source_module._connect(trusted)
    try:
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute("SET threads = 4")
    finally:
        con.close()
