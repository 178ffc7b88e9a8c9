"""Leaf estimator modules import only shared (private) modules, never each other.

An estimator module that another one imports doubles as a library: its maths
belongs in a private shared module (``causal_core/estimators/_*.py``) that both
import. The check walks subfolders too, so it keeps holding once the
estimators are grouped into family subpackages.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ESTIMATORS = Path(__file__).resolve().parent.parent / "causal_core" / "estimators"
PACKAGE = "causal_core.estimators"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ESTIMATORS).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def _is_private(module: str) -> bool:
    return any(part.startswith("_") for part in module.split(".")[2:])


MODULES = {_module_name(p): p for p in sorted(ESTIMATORS.rglob("*.py"))}
LEAVES = sorted(m for m, p in MODULES.items() if p.name != "__init__.py" and not _is_private(m))


def _imported(module: str, path: Path) -> set[str]:
    """Absolute names of every module ``module`` imports (``from x import y`` counts ``x`` and ``x.y``)."""
    package = module.rsplit(".", 1)[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names)
    return names


def test_every_leaf_module_is_checked():
    assert "causal_core.estimators.weighting.ipw" in LEAVES and "causal_core.estimators.heterogeneity.meta_learners" in LEAVES
    assert not any(_is_private(m) for m in LEAVES)


@pytest.mark.parametrize("module", LEAVES)
def test_leaf_estimator_imports_no_other_leaf(module: str):
    others = set(LEAVES) - {module}
    wrong = sorted(_imported(module, MODULES[module]) & others)
    assert not wrong, (
        f"Estimator module '{module}' imports estimator module(s) {wrong}; move the shared code into a private "
        "module (causal_core/estimators/_*.py) that both import."
    )
