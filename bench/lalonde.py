"""LaLonde (1986) / Dehejia-Wahba benchmark: every back-door method against the $1,794 experimental ATT.

For the NSW treated compared with observational controls (CPS-1 and PSID-1),
and as a sanity check with the randomised controls, each registered back-door
method estimates the ATT of job training on 1978 earnings with two covariate
sets (Hainmueller 2012, Table 2):

- V-RAW: age, educ, black, hispanic, married, nodegree, re74, re75, u74, u75;
- V-INTERACTION: the same plus squares of the non-binary columns and every
  pairwise product (``causal_core.nuisance.features.expand_covariates(moments=2,
  interactions=True)``). Methods with ``moments``/``interactions`` options get
  them; for the others the expanded columns are added to the table.

Methods are read from the registry, so methods added later are included; those
that need roles other than confounders (instruments, mechanisms, selection...)
or do not estimate the ATT are skipped. A failing method is listed with its
error and does not stop the run.

Usage::

    .venv/bin/python bench/lalonde.py [--samples lalonde_cps lalonde_psid] [--methods ipw ...] [--time-limit 120]

Each method runs in a forked process and is stopped after ``--time-limit`` seconds.
The parent first imports what the app's worker processes import before their
first run (``causal_core.compute.jobs.WORKER_PRELOAD``), so a method's seconds
are what one run in the app costs; a library only one method needs (EconML,
torch) is imported inside its run, as in the app.

Writes ``bench/results/lalonde.md`` and prints it; ``--readme`` prints the README's table from that file.
"""
from __future__ import annotations

import argparse
import importlib
import multiprocessing
import re
import sys
import time
from pathlib import Path
from queue import Empty
from typing import Callable

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import causal_core as cc  # noqa: E402
from causal_core.compute.jobs import WORKER_PRELOAD  # noqa: E402
from causal_core.core.data import prepare  # noqa: E402
from causal_core.datasets.samples import LALONDE_EXPERIMENTAL_ATT  # noqa: E402
from causal_core.nuisance.features import expand_covariates  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "lalonde.md"
DEFAULT_SAMPLES = ("lalonde_experimental", "lalonde_cps", "lalonde_psid")
COVARIATE_SETS = {"V-RAW": (1, False), "V-INTERACTION": (2, True)}
BACK_DOOR_ROLES = {"confounders"}


def back_door_methods() -> list[cc.MethodInfo]:
    """Registered methods that need only treatment, outcome and confounders, and estimate the ATT."""
    return [
        info for info in cc.list_methods()
        if set(info.required_roles) <= BACK_DOOR_ROLES and info.treatment_kind == "binary" and "ATT" in info.estimands
    ]


def expanded_table(df: pd.DataFrame, roles: cc.Roles) -> tuple[pd.DataFrame, cc.Roles]:
    """The table with V-INTERACTION columns added, and roles that use them as confounders."""
    data = prepare(df, roles)
    X, names = expand_covariates(data.X, data.covariate_names, moments=2, interactions=True)
    columns = [re.sub(r"[^0-9A-Za-z_]+", "_", name) for name in names]
    out = df.loc[data.index, [roles.treatment, roles.outcome]].copy()
    out = pd.concat([out, pd.DataFrame(X, index=out.index, columns=columns)], axis=1)
    return out, cc.Roles(treatment=roles.treatment, outcome=roles.outcome, confounders=columns)


def _compare_row(df: pd.DataFrame, roles: cc.Roles, method_id: str, options: dict, queue) -> None:
    row = cc.compare(df, roles, [method_id], estimand="ATT", seed=0, options={method_id: options}).iloc[0]
    queue.put(row.to_dict())


def run_one(df: pd.DataFrame, roles: cc.Roles, info: cc.MethodInfo, options: dict, time_limit: float) -> dict:
    """One method's ATT as a flat row; errors and overruns of ``time_limit`` land in the ``error`` column."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    worker = context.Process(target=_compare_row, args=(df, roles, info.id, options, queue))
    worker.start()
    try:
        return queue.get(timeout=time_limit)
    except Empty:
        return {"method": info.id, "estimand": "ATT", "error": f"Stopped after the {time_limit:.0f} s time limit."}
    finally:
        worker.join(timeout=5)
        if worker.is_alive():
            worker.terminate()
            worker.join()


def run(samples: list[str], methods: list[str] | None, time_limit: float,
        on_row: Callable[[pd.DataFrame], None] | None = None) -> pd.DataFrame:
    for module in WORKER_PRELOAD:  # as the app's workers do before their first run
        importlib.import_module(module)
    infos = [m for m in back_door_methods() if methods is None or m.id in methods]
    rows = []
    for sample_id in samples:
        df = cc.load_sample(sample_id)
        roles = cc.get_sample(sample_id).roles
        expanded, expanded_roles = expanded_table(df, roles)
        for set_name, (moments, interactions) in COVARIATE_SETS.items():
            if sample_id == "lalonde_experimental" and set_name != "V-RAW":
                continue
            for info in infos:
                option_names = {o.name for o in info.options}
                if {"moments", "interactions"} <= option_names:
                    data, used_roles = df, roles
                    options = {"moments": moments, "interactions": interactions}
                elif moments == 1:
                    data, used_roles, options = df, roles, {}
                else:
                    data, used_roles, options = expanded, expanded_roles, {}
                print(f"  {sample_id:22s} {set_name:14s} {info.id} ...", file=sys.stderr, flush=True)
                start = time.perf_counter()
                row = run_one(data, used_roles, info, options, time_limit)
                row.update(sample=sample_id, covariates=set_name, wall_seconds=time.perf_counter() - start)
                rows.append(row)
                if on_row is not None:
                    on_row(_finish(rows))
    return _finish(rows)


def _finish(rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows)
    for column in ("estimate", "std_error", "ci_low", "ci_high", "n_used", "ess_control", "error"):
        if column not in table:
            table[column] = np.nan
    table["bias"] = table["estimate"] - LALONDE_EXPERIMENTAL_ATT
    table["covers_benchmark"] = (table["ci_low"] <= LALONDE_EXPERIMENTAL_ATT) & (
        LALONDE_EXPERIMENTAL_ATT <= table["ci_high"])
    return table


def _money(value: float) -> str:
    return "" if value is None or not np.isfinite(value) else f"{value:,.0f}"


def to_markdown(table: pd.DataFrame) -> str:
    """A markdown table: one line per (sample, covariate set, method)."""
    header = ["sample", "covariates", "method", "ATT", "bias", "SE", "95% CI", "covers $1,794", "rows used",
              "ESS control", "seconds",
              "note"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in table.iterrows():
        failed = isinstance(row.get("error"), str) and row["error"]
        note = row["error"] if failed else ""
        note = (note[:140] + "...") if len(note) > 140 else note
        cells = [
            row["sample"].replace("lalonde_", ""),
            row["covariates"],
            row["method"],
            "" if failed else _money(row["estimate"]),
            "" if failed else _money(row["bias"]),
            "" if failed else _money(row["std_error"]),
            "" if failed else f"[{_money(row['ci_low'])}, {_money(row['ci_high'])}]",
            "" if failed else ("yes" if row["covers_benchmark"] else "no"),
            "" if failed or pd.isna(row.get("n_used")) else f"{int(row['n_used']):,}",
            "" if failed or pd.isna(row.get("ess_control")) else f"{row['ess_control']:,.1f}",
            f"{row['wall_seconds']:.2f}",
            note.replace("|", "/"),
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


README_COLUMNS = (("cps", "V-RAW"), ("cps", "V-INTERACTION"), ("psid", "V-RAW"), ("psid", "V-INTERACTION"))


def readme_table(results: str) -> str:
    """The README's LaLonde table (estimate (SE), ✗ where the 95% CI misses $1,794, — where a method failed)
    read from a results file written by this script."""
    cells: dict[tuple[str, str, str], str] = {}
    methods: list[str] = []
    for line in results.splitlines():
        parts = [part.strip() for part in line.strip().strip("|").split("|")]
        if len(parts) < 12 or parts[0] in ("sample", "---") or set(parts[0]) <= {"-"}:
            continue
        sample, covariates, method, att, _bias, se, _ci, covers = parts[:8]
        if method not in methods:
            methods.append(method)
        cells[(sample, covariates, method)] = "—" if not att else f"{att} ({se})" + (" ✗" if covers == "no" else "")
    lines = ["| method | CPS V-RAW | CPS V-INTERACTION | PSID V-RAW | PSID V-INTERACTION |",
             "|---|---|---|---|---|"]
    for method in methods:
        row = [cells.get((sample, covariates, method), "—") for sample, covariates in README_COLUMNS]
        lines.append(f"| `{method}` | " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", nargs="+", default=list(DEFAULT_SAMPLES))
    parser.add_argument("--methods", nargs="+", default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds allowed per method and data set")
    parser.add_argument("--readme", action="store_true", help="print the README's table from --out and stop")
    args = parser.parse_args(argv)
    if args.readme:
        print(readme_table(args.out.read_text()))
        return

    def write(table: pd.DataFrame) -> str:
        text = _document(table, args.time_limit)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        return text

    print(write(run(args.samples, args.methods, args.time_limit, on_row=write)))


def _document(table: pd.DataFrame, time_limit: float) -> str:
    return (
        "# LaLonde benchmark: ATT of NSW job training on 1978 earnings\n\n"
        f"Experimental benchmark: ${LALONDE_EXPERIMENTAL_ATT:,.2f} (NSW treated minus NSW randomised controls). "
        "Bias = estimate - benchmark, in 1982 dollars. Observational controls: CPS-1 (15,992 men) and "
        "PSID-1 (2,490 men); the 185 treated are the same in every sample. V-RAW: the 10 covariates; "
        "V-INTERACTION: plus squares and pairwise products (moments=2, interactions=True). "
        "ESS: Kish effective sample size of the weights (all rows). seconds: wall time including data preparation, "
        "in a process forked after importing what the app's workers import before their first run, so a library "
        f"only one method needs (EconML, torch) is imported in its run (limit {time_limit:.0f} s per method).\n\n"
        "Generated by `bench/lalonde.py` (rewritten after every method, so an interrupted run keeps its rows).\n\n"
        + to_markdown(table) + "\n"
    )


if __name__ == "__main__":
    main()
