"""Data flows one way: sources and ranking never import bot; sources never import ranking."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imports(package: str) -> set[tuple[str, str]]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update((path.name, alias.name.split(".")[0]) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add((path.name, node.module))
    return found


@pytest.mark.parametrize(
    "package, forbidden", [("sources", ("bot", "ranking")), ("ranking", ("bot",))]
)
def test_package_does_not_import_upstream(package: str, forbidden: tuple[str, ...]) -> None:
    bad = {(f, m) for f, m in _imports(package) if m.split(".")[0] in forbidden}
    assert bad == set()


def test_ranking_imports_only_models_from_sources() -> None:
    used = {m for _, m in _imports("ranking") if m.split(".")[0] == "sources"}
    assert used <= {"sources.models", "sources.ids"}
