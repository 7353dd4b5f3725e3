"""Reading the project's YAML data files: one reader, so every file gets the same checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# libyaml's parser (shipped in PyYAML's wheels) reads the content ~10x faster than the pure
# Python one; both build the same safe types.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):
    """A safe YAML loader that rejects duplicate keys (plain YAML silently keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate id '{key}'", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file safely, refusing duplicate keys (errors carry the file and line)."""
    with path.open(encoding="utf-8") as stream:
        return yaml.load(stream, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)


def read_mapping(path: Path, error: type[Exception]) -> dict[str, Any]:
    """Read a YAML file whose top level is a mapping; any problem raises `error` naming it."""
    try:
        raw = read_yaml(path)
    except (OSError, yaml.YAMLError) as problem:
        raise error(f"{path.name}: cannot read: {' '.join(str(problem).split())}") from problem
    if not isinstance(raw, dict):
        raise error(f"{path.name}: the top level must be a mapping")
    return raw
