"""Reading the project's YAML data files: one reader, so every file gets the same checks.

Duplicate keys are refused (plain YAML silently keeps the last), and a file that is not valid
YAML is reported with its name, line and what is wrong in plain words.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

# libyaml's parser (shipped in PyYAML's wheels) reads the content ~10x faster than the pure
# Python one; both build the same safe types.
try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]  # same interface

# Parser messages a content editor meets, in words they can act on. The first group is
# reported at the line where the bracket or quote was opened.
_OPENED = (
    ("expected ',' or ']'", "a list opened with '[' here is never closed with ']'"),
    ("expected ',' or '}'", "a mapping opened with '{' here is never closed with '}'"),
    ("found unexpected end of stream", "a quote opened here is never closed"),
)
_PLAIN = (
    (
        "mapping values are not allowed",
        "a colon ': ' appears inside a text; put the whole text in double quotes",
    ),
    ("found unknown escape character", "a backslash in a double-quoted text; write \\\\ or use '"),
    (
        "expected key",
        "the indentation does not line up with the lines above, or a quoted text ends early "
        "(inside '...' write an apostrophe as '')",
    ),
    ("expected <block end>", "the indentation does not line up with the lines above"),
    ("expected '-'", "a list item's indentation does not line up with the others"),
    ("undefined alias", "a text starts with '*'; put the whole text in quotes"),
    ("cannot start any token", "a text starts with a character YAML reserves; put it in quotes"),
)


T = TypeVar("T")


class DataFileError(ValueError):
    """A data file cannot be read: the message names the file, the line and the problem."""


class Problems:
    """Collects a file's problems part by part, so one report names them all.

    `part(read, fallback)` runs one independent part of a loader; if it raises `error`, the
    problem is kept and `fallback` stands in so the rest can still be checked. `check()`
    then raises one `error` whose `problems` lists them all.
    """

    def __init__(self, error: type[ValueError]):
        self.error = error
        self.found: list[str] = []

    def part(self, read: Callable[[], T], fallback: T) -> T:
        try:
            return read()
        except self.error as problem:
            self.found.extend(getattr(problem, "problems", None) or [str(problem)])
            return fallback

    def check(self) -> None:
        if self.found:
            error = self.error("\n".join(self.found))
            error.problems = list(self.found)  # type: ignore[attr-defined]  # read by Content
            raise error


class _UniqueKeyLoader(_SafeLoader):
    """A safe YAML loader that rejects duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}'", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file safely, refusing duplicate keys; problems raise DataFileError."""
    try:
        with path.open(encoding="utf-8") as stream:
            return yaml.load(stream, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except OSError as error:
        raise DataFileError(f"{path.name}: cannot be read ({error.strerror or error})") from error
    except UnicodeDecodeError as error:
        raise DataFileError(f"{path.name}: is not UTF-8 text; save it as UTF-8") from error
    except yaml.YAMLError as error:
        raise DataFileError(describe_yaml_error(path, error)) from error


def describe_yaml_error(path: Path, error: yaml.YAMLError) -> str:
    """`file, line N: what is wrong`, in words a content editor can act on."""
    problem = " ".join(str(getattr(error, "problem", None) or error).split())
    mark = getattr(error, "problem_mark", None)
    opened = next((words for found, words in _OPENED if found in problem), None)
    if opened and getattr(error, "context_mark", None) is not None:
        mark = getattr(error, "context_mark", None)
    where = f"{path.name}, line {mark.line + 1}" if mark is not None else path.name
    if problem.startswith("duplicate key"):
        key = problem.removeprefix("duplicate key ")
        return (
            f"{where}: {key} appears twice in the same block; only one would be kept, "
            "so remove or rename one"
        )
    if mark is not None and "\t" in _line(path, mark.line):
        return f"{where}: a tab is used for indenting; indent with spaces only"
    plain = opened or next((words for found, words in _PLAIN if found in problem), None)
    return f"{where}: {plain or f'this is not valid YAML ({problem})'}"


def _line(path: Path, number: int) -> str:
    """One line of a text file (0-based), or "" when it cannot be read."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    return lines[number] if 0 <= number < len(lines) else ""


def read_mapping(path: Path, error: type[Exception]) -> dict[str, Any]:
    """Read a YAML file whose top level is a mapping; any problem raises `error` naming it."""
    try:
        raw = read_yaml(path)
    except DataFileError as problem:
        raise error(str(problem)) from problem
    if not isinstance(raw, dict):
        raise error(f"{path.name}: the top level must be a mapping")
    return raw
