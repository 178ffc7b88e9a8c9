"""The server-side analysis store and its use by the app: round trip, expiry, size cap, refused ids, restore."""
from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import causal_core as cc
from pages._session_store import AnalysisStore, StoreUnavailable, is_analysis_id, new_analysis_id

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")


@pytest.fixture()
def store(tmp_path):
    return AnalysisStore(tmp_path / "store", ttl=3600, max_bytes=10_000_000)


def test_round_trip_keeps_the_table_state_and_results_exactly(store):
    df = cc.load_sample("lalonde_psid")
    roles = cc.get_sample("lalonde_psid").roles
    result = cc.estimate(df, roles, "ipw", estimand="ATT", seed=0)
    analysis = new_analysis_id()
    assert store.save(analysis, "data", df)
    assert store.save(analysis, "state", {"roles": roles, "seed": 3})
    assert store.save(analysis, "results", {"ipw": result})
    parts = store.load(analysis)
    pd.testing.assert_frame_equal(parts["data"], df)
    assert parts["state"] == {"roles": roles, "seed": 3}
    assert parts["results"]["ipw"].estimate == result.estimate
    assert (parts["results"]["ipw"].weights == result.weights).all()
    store.save(analysis, "results", None)
    assert "results" not in store.load(analysis)


def test_directory_is_private(store):
    assert stat.S_IMODE(os.stat(store.root).st_mode) == 0o700
    analysis = new_analysis_id()
    store.save(analysis, "state", {})
    assert stat.S_IMODE(os.stat(store.root / analysis).st_mode) & 0o077 == 0


def test_a_symlinked_store_directory_is_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(StoreUnavailable, match="not a plain directory"):
        AnalysisStore(tmp_path / "link")


def test_idle_analyses_expire(tmp_path):
    store = AnalysisStore(tmp_path / "store", ttl=1.0, sweep_every=0.0)
    old, fresh = new_analysis_id(), new_analysis_id()
    store.save(old, "state", {"seed": 1})
    past = time.time() - 5
    os.utime(store.root / old, (past, past))
    assert not store.exists(old) and store.load(old) is None
    store.save(fresh, "state", {"seed": 2})  # a write sweeps: the expired folder is deleted
    assert not (store.root / old).exists()
    assert store.load(fresh) == {"state": {"seed": 2}}


def test_size_cap_drops_least_recently_used_and_refuses_oversized_tables(tmp_path):
    store = AnalysisStore(tmp_path / "store", max_bytes=300_000)
    block = pd.DataFrame({"x": range(15_000)})  # about 120 kB pickled
    first, second, third = new_analysis_id(), new_analysis_id(), new_analysis_id()
    for i, analysis in enumerate((first, second)):
        assert store.save(analysis, "data", block)
        past = time.time() - 100 + i
        os.utime(store.root / analysis, (past, past))
    store.touch(first)  # first is now the most recently used
    assert store.save(third, "data", block)
    assert store.exists(first) and store.exists(third) and not store.exists(second)
    assert store.total_bytes() <= store.max_bytes
    huge = pd.DataFrame({"x": range(100_000)})
    assert store.save(third, "data", huge) is False
    assert "data" not in store.load(third)


@pytest.mark.parametrize("bad", ["", "short", "../../etc/passwd" + "a" * 16, "a" * 31 + "/", "a" * 33,
                                 "ä" * 32, None, 12])
def test_bad_ids_are_refused(store, bad):
    assert not is_analysis_id(bad)
    assert store.load(bad) is None and not store.exists(bad)
    with pytest.raises(ValueError, match="is not valid"):
        store.save(bad, "state", {})


def test_unknown_well_formed_id_is_not_found(store):
    assert is_analysis_id(new_analysis_id())
    assert store.load(new_analysis_id()) is None


# ----------------------------------------------------------------- the app, through AppTest


@pytest.fixture()
def private_store(tmp_path, monkeypatch):
    """Point the app's store at a fresh directory (its cached instance is cleared before and after)."""
    from pages import _state

    monkeypatch.setenv("CAUSAL_WORKBENCH_STORE", str(tmp_path / "app-store"))
    _state._store.clear()
    yield tmp_path / "app-store"
    _state._store.clear()


def _fresh_session(analysis: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if analysis is not None:
        at.query_params["analysis"] = analysis
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_new_session_with_the_id_gets_data_roles_and_results_back(private_store):
    at = _fresh_session()
    at.selectbox(key="data_sample").set_value("simulated_linear").run()
    at.button(key="data_load_sample").click().run()
    at.switch_page("pages/4_Estimate.py").run()
    for info in cc.list_methods():
        box = at.checkbox(key=f"est_use_{info.id}")
        if not box.disabled:
            box.set_value(info.id in ("difference_in_means", "ipw"))
    at.run()
    at.button(key="est_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    before = at.session_state["results"]
    analysis = at.session_state["_analysis_id"]
    assert is_analysis_id(analysis) and (private_store / analysis / "data.pkl").is_file()

    again = _fresh_session(analysis)  # a reload: new session, same URL
    dataset = again.session_state["dataset"]
    assert dataset.name == at.session_state["dataset"].name and dataset.version == 1
    pd.testing.assert_frame_equal(dataset.df, at.session_state["dataset"].df)
    assert again.session_state["roles"] == at.session_state["roles"]
    assert again.session_state["methods"] == ["difference_in_means", "ipw"]
    restored = again.session_state["results"]
    assert list(restored.results) == ["difference_in_means", "ipw"]
    assert restored.results["ipw"].estimate == before.results["ipw"].estimate
    again.switch_page("pages/4_Estimate.py").run()
    assert not again.exception
    assert not any("out of date" in w.value for w in again.warning)  # restored results are current
    assert again.dataframe  # the results table is drawn without running again


#: a well-formed id that no store holds (fixed, so every pytest-xdist worker collects the same test ids)
@pytest.mark.parametrize("presented", ["not-an-id", "A" * 16 + "b" * 16])
def test_an_unknown_or_malformed_id_starts_empty_with_a_note(private_store, presented):
    at = _fresh_session(presented)
    assert "dataset" not in at.session_state
    assert any("no longer kept on the server" in w.value for w in at.warning)
    assert not list(private_store.iterdir())  # nothing was created for an id the server did not make
