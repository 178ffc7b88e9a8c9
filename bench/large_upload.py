"""Large uploads: time ``read_table`` on a ~220 MB CSV/TSV, its Parquet twin and an Excel workbook, then the pipeline.

The table is ``causal_core.datasets.simulate.linear_confounded`` (true effect 2) with
three extra covariates that do not matter (``age``, ``income``, ``sector``):
10 columns, 3,000,000 rows by default. Numbers are written with 7 decimals,
which makes the CSV about 210 MB. Excel is inherently slow to parse, so the
workbook holds only the first ``--excel-rows`` rows (about 21 MB).

For each file, in a fresh child process: seconds of ``read_table`` (the bytes
are already in memory, as after a Streamlit upload; it checks the upload
limits and parses in its own capped child, ``causal_core.datasets.safe_read``), the
peak RSS of that reader child, and the peak RSS before and after it (pyarrow and calamine allocate outside Python, so tracemalloc
would not see them). Then ``cc.estimate`` (ipw, regression_adjustment,
entropy_balancing) and ``cc.balance_table`` on all rows read from the CSV.
Files are written to a temporary directory and removed afterwards. Results go
to ``bench/results/large_upload.md`` and stdout.

Run from the repository root::

    .venv/bin/python bench/large_upload.py [--rows 2500000] [--excel-rows 300000]
"""
from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import causal_core as cc  # noqa: E402
from causal_core.datasets.simulate import linear_confounded  # noqa: E402
from causal_core.datasets.table_reader import read_table  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "large_upload.md"
METHODS = ("ipw", "regression_adjustment", "entropy_balancing")
ROLES = cc.Roles(treatment="treat", outcome="y",
                 confounders=("x1", "x2", "x3", "x4", "region", "age", "income", "sector"))


def make_table(n: int, seed: int = 7) -> tuple[pd.DataFrame, float]:
    """10 columns: ``linear_confounded`` plus three irrelevant covariates; numbers rounded as written."""
    df, truth = linear_confounded(n=n, seed=seed, effect=2.0)
    rng = np.random.default_rng(seed + 1)
    df["age"] = rng.integers(18, 81, size=n)
    df["income"] = np.round(rng.lognormal(10, 0.5, size=n), 2)
    df["sector"] = rng.choice(["agri", "industry", "services", "public", "other"], size=n)
    for column in ("x1", "x2", "x3", "y"):
        df[column] = df[column].round(7)
    return df, truth["ATE"]


def write_files(df: pd.DataFrame, excel_rows: int, folder: Path) -> dict[str, Path]:
    """The same table as CSV, TSV and Parquet, and its first ``excel_rows`` rows as .xlsx."""
    paths = {"csv": folder / "large.csv", "tsv": folder / "large.tsv",
             "parquet": folder / "large.parquet", "xlsx": folder / "large.xlsx"}
    df.to_csv(paths["csv"], index=False)
    df.to_csv(paths["tsv"], index=False, sep="\t")
    df.to_parquet(paths["parquet"], index=False)
    df.head(excel_rows).to_excel(paths["xlsx"], index=False, sheet_name="data", engine="xlsxwriter")
    return paths


def _peak_rss_mib() -> float:
    """Peak resident memory of this process: VmHWM on Linux (ru_maxrss survives exec, so a spawned child
    would report its parent's peak), else ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fingerprint(frame: pd.DataFrame) -> dict[str, object]:
    """Columns, shape, sums of numeric columns and level counts of the others."""
    summary: dict[str, object] = {"shape": frame.shape}
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series):
            summary[column] = float(series.sum())
        else:
            summary[column] = tuple(sorted(series.value_counts().items()))
    return summary


def _read_child(path: Path, queue: mp.Queue) -> None:
    data = path.read_bytes()
    rss_before = _peak_rss_mib()
    start = time.perf_counter()
    frame = read_table(data, path.name)
    seconds = time.perf_counter() - start
    reader = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the guarded reader's own process
    queue.put((seconds, rss_before, _peak_rss_mib(), reader, _fingerprint(frame)))


def time_read(path: Path) -> tuple[float, float, float, float, dict[str, object]]:
    """``read_table`` on the file's bytes in a fresh process: seconds, peak RSS before and after (MiB),
    peak RSS of the capped child that parsed the file (MiB), fingerprint."""
    context = mp.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_read_child, args=(path, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def _same(found: dict[str, object], expected: dict[str, object]) -> bool:
    if found.keys() != expected.keys() or found["shape"] != expected["shape"]:
        return False
    return all(np.isclose(found[k], expected[k], rtol=1e-9) if isinstance(expected[k], float) else found[k] == expected[k]
               for k in expected if k != "shape")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--excel-rows", type=int, default=350_000)
    args = parser.parse_args()

    lines = [
        "# Large uploads",
        "",
        f"`bench/large_upload.py --rows {args.rows} --excel-rows {args.excel_rows}`; "
        f"Python {platform.python_version()}, pandas {pd.__version__}, {platform.machine()}, "
        "shared 2-core machine (timings vary with the load of other users).",
        "",
        "## read_table (bytes already in memory, as after an upload)",
        "",
        "| file | size (MB) | rows | columns | seconds | MB/s | peak RSS before read (MiB) | "
        "peak RSS after read (MiB) | peak RSS of the reader child (MiB) | same as generated |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    df, truth = make_table(args.rows)
    expected = {"full": _fingerprint(df), "excel": _fingerprint(df.head(args.excel_rows))}
    with tempfile.TemporaryDirectory(prefix="large_upload_") as folder:
        start = time.perf_counter()
        paths = write_files(df, args.excel_rows, Path(folder))
        print(f"wrote the files in {time.perf_counter() - start:.1f} s")
        del df
        gc.collect()
        for kind, path in paths.items():
            seconds, rss_before, rss_after, reader_rss, found = time_read(path)
            size_mb = path.stat().st_size / 1e6
            same = _same(found, expected["excel" if kind == "xlsx" else "full"])
            rows, columns = found["shape"]
            row = (f"| {path.name} | {size_mb:,.1f} | {rows:,} | {columns} | {seconds:.2f} | "
                   f"{size_mb / seconds:,.0f} | {rss_before:,.0f} | {rss_after:,.0f} | {reader_rss:,.0f} | "
                   f"{'yes' if same else 'NO'} |")
            print(row)
            lines.append(row)
        df = read_table(paths["csv"].read_bytes(), paths["csv"].name)
    lines += ["", "Same as generated: same columns and shape, numeric column sums equal to 1e-9 relative, "
              "same level counts in the text columns.", ""]
    lines += [
        f"## Pipeline on the {len(df):,} rows read from the CSV (true effect {truth:g})",
        "",
        "| step | estimate | std. error | (estimate - truth) / SE | seconds | warnings |",
        "|---|---|---|---|---|---|",
    ]
    weights = None
    for method in METHODS:
        start = time.perf_counter()
        result = cc.estimate(df, ROLES, method, estimand="ATE", seed=0)
        seconds = time.perf_counter() - start
        if method == "ipw":
            weights = result.weights
        row = (f"| estimate `{method}` | {result.estimate:.4f} | {result.std_error:.4f} | "
               f"{(result.estimate - truth) / result.std_error:+.2f} | {seconds:.1f} | "
               f"{'; '.join(result.warnings) or 'none'} |")
        print(row)
        lines.append(row)
    for label, w in (("balance_table (no weights)", None), ("balance_table (ipw weights)", weights)):
        start = time.perf_counter()
        table = cc.balance_table(df, ROLES, w, estimand="ATE")
        seconds = time.perf_counter() - start
        row = (f"| {label} | max abs SMD {table['smd_after'].abs().max():.3f} | | | {seconds:.1f} | "
               f"{len(table)} covariate rows |")
        print(row)
        lines.append(row)
    lines += ["", f"Peak RSS of the pipeline process (it also generated and wrote the files): "
              f"{_peak_rss_mib():,.0f} MiB.", ""]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
