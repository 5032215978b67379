"""Bounded YAML: every YAML document the project reads (configurations, scenarios — from files, the command
line or an HTTP body) goes through here.

PyYAML's safe loader builds an alias (``*name``) as a second reference to one shared object, so a "billion
laughs" document of a few hundred bytes loads instantly and explodes later, when something walks it as a
tree (pydantic validation, the scenario loader's line map, a deep copy): gigabytes and minutes. So the
bounds are checked on the *composed node graph*, before a single Python object is built:

- the document's size (``MAX_BYTES``);
- nesting depth, counted along aliases too (``MAX_DEPTH``);
- how many nodes the document would have with every alias written out (``MAX_NODES``) — one pass over the
  distinct nodes, memoised, so a bomb is measured in microseconds, never expanded;
- the number of aliases (``MAX_ALIASES``), and no alias may point into the value that contains it.

A document over a bound, or not valid YAML, raises ``YamlError`` with the line, which each loader turns
into its own typed error (``ConfigError``, ``ScenarioError``). The libyaml parser is used when PyYAML has
it (about 6x faster than the pure-Python one); composition is PyYAML's own composer either way, which is
where the depth and alias counts are kept.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.resolver import Resolver

MAX_BYTES = 256 * 1024
MAX_DEPTH = 64
MAX_NODES = 100_000
MAX_ALIASES = 1_000


class YamlError(Exception):
    """A document that is not valid YAML or exceeds a bound. ``line``/``column`` are 1-based (or None)."""

    def __init__(self, reason: str, line: int | None = None, column: int | None = None) -> None:
        self.reason, self.line, self.column = reason, line, column
        where = f"line {line}, column {column}: " if line and column else f"line {line}: " if line else ""
        super().__init__(where + reason)


def _line(node_or_event: Any) -> int | None:
    mark = getattr(node_or_event, "start_mark", None)
    return mark.line + 1 if mark is not None else None


class _BoundedComposer(Composer):
    """PyYAML's composer, counting depth and aliases as it goes (deep nesting would otherwise exhaust
    Python's recursion limit before any check could run)."""

    def _reset_bounds(self) -> None:
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise YamlError(f"more than {MAX_ALIASES} aliases (*name); a configuration or scenario "
                                "needs far fewer", _line(self.peek_event()))
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlError(f"nested more than {MAX_DEPTH} levels deep", _line(self.peek_event()))
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)  # type: ignore[misc]
        except ValueError as error:  # an integer of more than 4300 digits, a date like 2024-13-45
            reason = str(error).split("; use sys.")[0]  # Python's advice on int digits is not for the reader
            raise ConstructorError(None, None, f"this value cannot be read: {reason}", node.start_mark) from None


class _PyLoader(_BoundedComposer, yaml.SafeLoader):
    def __init__(self, text: str) -> None:
        yaml.SafeLoader.__init__(self, text)
        self._reset_bounds()


try:
    from yaml._yaml import CParser
except ImportError:  # PyYAML built without libyaml
    _Loader: type = _PyLoader
else:
    class _CLoader(_BoundedComposer, CParser, SafeConstructor, Resolver):
        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self._reset_bounds()

    _Loader = _CLoader


def _from_yaml_error(error: yaml.YAMLError) -> YamlError:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    return YamlError(f"not valid YAML: {problem}", mark.line + 1 if mark else None,
                     mark.column + 1 if mark else None)


class Document:
    """A composed, measured YAML document: ``root`` is its node graph (None for an empty document);
    ``construct`` builds plain Python (dicts, lists, str, int, …) from any node of it."""

    def __init__(self, loader: _BoundedComposer, root: Node | None) -> None:
        self._loader, self.root = loader, root

    def construct(self, node: Node) -> Any:
        try:
            return self._loader.construct_object(node, deep=True)
        except yaml.YAMLError as error:
            raise _from_yaml_error(error) from None


def _measure(root: Node) -> None:
    """Refuse a graph whose expansion (aliases written out) is too big, too deep or recursive: one
    memoised pass over the distinct nodes; the recursion stops at ``MAX_DEPTH``."""
    done: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded nodes, height)
    on_path: set[int] = set()

    def visit(node: Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in on_path:
            raise YamlError("an alias refers to the value that contains it (a structure without end)", _line(node))
        known = done.get(key)
        if known is None:
            if isinstance(node, ScalarNode):
                known = (1, 1)
            else:
                on_path.add(key)
                children = [part for pair in node.value for part in pair] if isinstance(node, MappingNode) \
                    else node.value
                size, height = 1, 0
                for child in children:
                    child_size, child_height = visit(child, depth + 1)
                    size, height = size + child_size, max(height, child_height)
                    if size > MAX_NODES:
                        raise YamlError(f"the document expands to more than {MAX_NODES} values once its aliases "
                                        "(*name) are written out", _line(node))
                on_path.discard(key)
                known = (size, height + 1)
            done[key] = known
        if depth + known[1] - 1 > MAX_DEPTH:
            raise YamlError(f"nested more than {MAX_DEPTH} levels deep once its aliases (*name) are written out",
                            _line(node))
        return known

    visit(root, 1)


def compose(text: str) -> Document:
    """Parse ``text`` into a measured node graph; raise ``YamlError`` if it is not valid YAML, holds
    more than one document, or exceeds a bound."""
    size_bytes = len(text.encode("utf-8", errors="surrogatepass"))
    if size_bytes > MAX_BYTES:
        raise YamlError(f"the document is {size_bytes} bytes; at most {MAX_BYTES // 1024} KiB")
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError as error:
        raise _from_yaml_error(error) from None
    if root is not None:
        _measure(root)
    return Document(loader, root)


def load(text: str) -> Any:
    """``yaml.safe_load`` within the bounds: plain Python from ``text``, or ``YamlError``."""
    document = compose(text)
    return None if document.root is None else document.construct(document.root)


def read_file(path: str | Path) -> str:
    """The text of a YAML file, refusing (``YamlError``) a file over ``MAX_BYTES`` before reading it.
    ``OSError`` (missing, unreadable) passes through for the caller to word."""
    path = Path(path)
    size_bytes = path.stat().st_size
    if size_bytes > MAX_BYTES:
        raise YamlError(f"the file is {size_bytes} bytes; at most {MAX_BYTES // 1024} KiB")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise YamlError(f"the file is not UTF-8 text ({error.reason} at byte {error.start})") from None


def load_file(path: str | Path) -> Any:
    """``load`` of a file's text (``read_file`` then ``load``)."""
    return load(read_file(path))
