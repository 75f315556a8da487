"""Data flows one way: sources and ranking never import bot; sources never import ranking; and
no module of bot imports itself back through others (imports made only for type checking count)."""

from __future__ import annotations

import ast
import graphlib
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


def import_graph(package: str) -> dict[str, set[str]]:
    """module -> the package's modules it imports, wherever the import sits (functions and
    `if TYPE_CHECKING:` blocks included); `from a import b` names module `a.b` when there is one."""
    modules: dict[str, Path] = {}
    for path in (ROOT / package).rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.add(sub if sub in modules else base)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle in the graph, or [] when it has none."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return []


def test_cycle_finder_sees_a_cycle_through_a_package() -> None:
    graph = {"bot.a": {"bot.b"}, "bot.b": {"bot.c"}, "bot.c": {"bot.a"}, "bot.d": {"bot.a"}}
    assert sorted(set(cycle(graph))) == ["bot.a", "bot.b", "bot.c"]
    assert cycle({"bot.a": {"bot.b"}, "bot.b": set()}) == []


def test_digest_model_is_a_leaf() -> None:
    assert import_graph("bot")["bot.models"] == set()


def test_bot_outside_the_store_has_no_import_cycle() -> None:
    graph = import_graph("bot")
    outside = {m: deps for m, deps in graph.items() if not m.startswith("bot.store")}
    assert cycle(outside) == []


def test_bot_has_no_import_cycle() -> None:
    assert cycle(import_graph("bot")) == []
