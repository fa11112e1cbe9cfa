"""Layers never import upward: codec -> computing -> federation -> crypto -> ml -> flow -> board/serving.

Read from the source with ``ast``, so a forbidden import fails here even when it
sits in a function body that no other test happens to run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "atoll"
ORDER = ["codec", "computing", "federation", "crypto", "ml", "flow", "board", "serving", "cli"]
RANK = {name: i for i, name in enumerate(ORDER)}
RANK["serving"] = RANK["board"]  # board and serving stand side by side


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "atoll" else None


@pytest.mark.parametrize("layer", [d.name for d in sorted(ROOT.iterdir()) if d.name in RANK])
def test_layer_imports_only_downward(layer):
    bad = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for lineno, module in _imports(path):
            target = _layer(module)
            if target in RANK and RANK[target] > RANK[layer]:
                bad.append(f"{path.relative_to(ROOT.parent)}:{lineno} imports {module}")
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_no_pickle_outside_computing():
    """Only shipping functions to a site's own workers (atoll/computing) may pickle."""
    bad = []
    for path in sorted(ROOT.rglob("*.py")):
        if "computing" in path.parts:
            continue
        for lineno, module in _imports(path):
            if module.split(".")[0] in {"pickle", "marshal", "dill", "cloudpickle", "shelve"}:
                bad.append(f"{path.relative_to(ROOT.parent)}:{lineno} imports {module}")
    assert not bad, "\n".join(bad)
