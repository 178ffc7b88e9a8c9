"""The README's ten-line API example runs as printed."""
from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "README has no python example"
    namespace: dict = {}
    exec(compile(blocks[0], "README example", "exec"), namespace)  # noqa: S102
    result, table, balance, simpson = (namespace[k] for k in ("r", "table", "balance", "simpson"))
    assert result.estimand == "ATT" and result.ci_low < result.estimate < result.ci_high
    assert table["error"].eq("").all(), table["error"].tolist()
    assert {"smd_before", "smd_after"} <= set(balance.columns)
    assert simpson.reversal
