"""The app's first load stays light: heavy libraries are imported only by the methods that need them.

Each check runs in a fresh interpreter, so modules imported by other tests in
this session cannot hide (or fake) an eager import.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Libraries that only some methods need; none may load on ``import causal_core`` or ``list_methods()``.
LAZY_LIBRARIES = ("torch", "statsmodels", "linearmodels", "cvxpy")

_IMPORT_AND_LIST = """
import json, sys
import causal_core
methods = causal_core.list_methods()
print(json.dumps({"n_methods": len(methods), "modules": sorted(m.split(".")[0] for m in sys.modules)}))
"""

_RENDER_EVERY_PAGE = """
import json, sys
from pathlib import Path
from streamlit.testing.v1 import AppTest
root = Path(sys.argv[1])
at = AppTest.from_file(str(root / "app.py"), default_timeout=120).run()
for page in sorted(p for p in (root / "pages").glob("*.py") if not p.name.startswith("_")):
    at.switch_page(str(page.relative_to(root))).run()
print(json.dumps({"exceptions": [e.value for e in at.exception],
                  "modules": sorted(m.split(".")[0] for m in sys.modules)}))
"""


def _run_fresh(code: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def after_list_methods() -> dict:
    return _run_fresh(_IMPORT_AND_LIST)


@pytest.mark.parametrize("library", LAZY_LIBRARIES)
def test_import_and_list_methods_leave_library_unloaded(after_list_methods, library):
    assert after_list_methods["n_methods"] > 0
    assert library not in after_list_methods["modules"], (
        f"'import causal_core; causal_core.list_methods()' imported {library}; "
        "import it inside the function that uses it."
    )


def test_first_render_of_every_page_does_not_import_torch():
    after = _run_fresh(_RENDER_EVERY_PAGE, str(ROOT))
    assert after["exceptions"] == []
    assert "torch" not in after["modules"]
