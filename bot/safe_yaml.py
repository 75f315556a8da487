"""YAML for config files: PyYAML's safe loader, minus the two ways it misleads or stalls.

- A key written twice in one mapping is an error naming the key and both lines; PyYAML would
  keep the last one silently, so a setting the user can see in the file would not apply.
- Aliases may not expand into more than `MAX_NODES` nodes (a "billion laughs" document is a
  few hundred bytes that expands to 10^9 nodes) and may not refer to themselves; both are
  refused after composing, before anything is built, so checking such a file is instant.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_NODES = 100_000  # a real config has a few hundred
_MERGE = "tag:yaml.org,2002:merge"


class _Loader(yaml.SafeLoader):
    def compose_document(self) -> Node | None:
        node: Node | None = super().compose_document()
        if node is not None:
            _check_expansion(node)
        return node

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE or not isinstance(key_node, ScalarNode):
                continue
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first on line {seen[key]}); keep one of them",
                    key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _check_expansion(root: Node) -> None:
    """Count the nodes the document would have with every alias expanded, without expanding."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise yaml.composer.ComposerError(
                None, None, "an alias refers to a node that contains it", node.start_mark
            )
        active.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        active.discard(key)
        if total > MAX_NODES:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"aliases expand this document past {MAX_NODES:,} values; "
                "write the repeated parts out instead",
                node.start_mark,
            )
        sizes[key] = total
        return total

    size(root)


def load(text: str) -> Any:
    """The document in `text`; raises yaml.YAMLError (with `problem_mark`) for what it refuses."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
