"""Safe YAML loading that remembers the line of every key, for errors that point at it, and
the validation helpers every parser of mlqa's YAML files shares (mlqa.yaml, presets, the
stack's topology, chaos experiments): unknown keys with a did-you-mean, mappings, lists of
strings."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError, did_you_mean

Path_ = tuple[Any, ...]


class LocatedYaml:
    """A parsed YAML document plus the 1-based line of each key or list item by path."""

    def __init__(self, data: Any, lines: dict[Path_, int], file: str) -> None:
        self.data = data
        self.lines = lines
        self.file = file

    def line(self, *path: Any) -> int | None:
        """Line of the deepest known node along `path` (falls back to its parents)."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)

    def error(self, message: str, *path: Any, hint: str | None = None) -> ConfigError:
        return ConfigError(message, file=self.file, line=self.line(*path), hint=hint)

    def known_keys(self, mapping: dict, allowed: tuple[str, ...], path: tuple = ()) -> None:
        """Raise at the first key of `mapping` (found at `path`) that is not `allowed`,
        naming the nearest allowed one."""
        for key in mapping:
            if key not in allowed:
                hint = did_you_mean(str(key), allowed)
                where = ".".join(str(p) for p in path if isinstance(p, str)) or "top level"
                raise self.error(f"unknown key `{key}` in {where}", *path, key,
                                 hint=hint or f"allowed keys: {', '.join(allowed)}")

    def mapping(self, value: Any, path: tuple, what: str) -> dict:
        """`value` when it is a mapping, else an error saying what was expected there."""
        if not isinstance(value, dict):
            raise self.error(f"`{'.'.join(map(str, path))}` must be a mapping ({what}), got {value!r}", *path)
        return value

    def str_list(self, value: Any, path: tuple) -> list[str]:
        """A string or a list of strings at `path`, as a list."""
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(f"`{'.'.join(map(str, path))}` must be a list of strings", *path)
        return value


#: most values a document may expand to, aliases counted at every use (a 400-byte "billion
#: laughs" of nested aliases would otherwise expand to 3.9e9 strings)
MAX_NODES = 1_000_000
#: deepest nesting of a document, through aliases too (no mlqa file needs more than ~10)
MAX_DEPTH = 100

_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:omap"}
_MERGE_TAG = "tag:yaml.org,2002:merge"
_KEY_TYPES = (str, int, float, bool)


def load_yaml(text: str, file: str | Path) -> LocatedYaml:
    """Parse with SafeLoader semantics (no Python tags; merge keys `<<` as safe_load has
    them); duplicate keys are errors. Any input is a `LocatedYaml` or a `ConfigError` with
    the line: aliases are built once and shared (linear time and memory), a document that
    expands to more than `MAX_NODES` values or nests deeper than `MAX_DEPTH` levels, a
    recursive alias, and a scalar YAML cannot build (`2026-13-45`) are errors."""
    file = str(file)
    loader: _Loader | None = None
    try:
        loader = _Loader(text, file)  # (reads the text: a NUL or control character is an error here)
        node = loader.get_single_node()
        if node is None:
            raise ConfigError("the file is empty", file=file, line=1,
                              hint="start from `mlqa init` or the config reference in the README")
        lines: dict[Path_, int] = {(): node.start_mark.line + 1}
        data = _Builder(loader, file, lines).build(node, ())[0]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = " ".join(x for x in (exc.context, exc.problem) if x)
        raise ConfigError(f"invalid YAML: {problem}", file=file, line=line,
                          hint="check indentation and quoting near this line") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=file) from None
    except RecursionError:  # a safety net: the depth limits stop nesting long before
        raise ConfigError(f"the document is nested too deeply (more than {MAX_DEPTH} levels)",
                          file=file, hint="flatten the structure") from None
    finally:
        if loader is not None:
            loader.dispose()
    return LocatedYaml(data, lines, file)


class _Loader(yaml.SafeLoader):
    """SafeLoader whose composer (recursive: one call per level) stops at `MAX_DEPTH`
    levels, and which remembers the line where each alias was written."""

    def __init__(self, text: str, file: str) -> None:
        super().__init__(text)
        self.file = file
        self.depth = 0
        #: (parent node, index or key node) -> 1-based line of an alias written there
        self.alias_lines: dict[tuple[Any, Any], int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) and parent is not None and index is not None:
            self.alias_lines[(parent, index)] = event.start_mark.line + 1
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _too_deep(self.file, event.start_mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _too_deep(file: str, line: int | None) -> ConfigError:
    return ConfigError(f"the document is nested deeper than {MAX_DEPTH} levels", file=file, line=line,
                       hint="mlqa's files are a few levels deep: flatten the structure (or the aliases "
                            "that nest it)")


class _Builder:
    """Builds plain data from the node graph, each node once: an alias reuses the value
    built for its anchor (as safe_load does), so time and memory are linear in the text.
    Each node's expanded size (values counted at every use) and height are kept, so a
    document that expands past `MAX_NODES` or nests past `MAX_DEPTH` through aliases is
    refused before any consumer walks it."""

    def __init__(self, loader: _Loader, file: str, lines: dict[Path_, int]) -> None:
        self.loader = loader
        self.file = file
        self.lines = lines
        self.done: dict[yaml.Node, tuple[Any, int, int]] = {}  # node -> (value, size, height)
        self.active: set[yaml.Node] = set()

    def error(self, message: str, line: int | None, hint: str | None = None) -> ConfigError:
        return ConfigError(message, file=self.file, line=line, hint=hint)

    def build(self, node: yaml.Node, path: Path_, line: int | None = None) -> tuple[Any, int, int]:
        """(value, expanded size, height) of `node` at `path`; `line` is where it is used
        (an alias's line), for errors."""
        line = line or node.start_mark.line + 1
        if node in self.active:
            raise self.error("recursive alias: a node contains itself (an alias inside its own anchor)", line,
                             hint="YAML aliases must refer to a finished node; write the value out instead")
        if node in self.done:
            value, size, height = self.done[node]
            if len(path) + height > MAX_DEPTH:
                raise _too_deep(self.file, line)
            return value, size, height
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_TAGS:
            raise self.error(f"the tag `{node.tag}` is not allowed: mlqa.yaml is plain data "
                             f"(safe YAML, no object construction)", line, hint="remove the tag")
        self.active.add(node)
        try:
            if isinstance(node, yaml.MappingNode):
                built = self._mapping(node, path)
            elif isinstance(node, yaml.SequenceNode):
                built = self._sequence(node, path)
            else:
                built = (self._scalar(node, line), 1, 1)
        finally:
            self.active.discard(node)
        if built[1] > MAX_NODES:
            raise self.error(f"the document expands to more than {MAX_NODES:,} values (aliases of aliases, "
                             f"counted at every use)", line,
                             hint="write the values out, or use fewer nested aliases")
        if len(path) + built[2] > MAX_DEPTH:
            raise _too_deep(self.file, line)
        self.done[node] = built
        return built

    def _scalar(self, node: yaml.Node, line: int) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ConfigError):
            raise
        except Exception as exc:  # noqa: BLE001 - `2026-13-45`, `!!int x`, `!!bool maybe`: user input
            shown = node.value if isinstance(node.value, str) else ""
            raise self.error(f"cannot read the value `{shown[:40]}` as {node.tag.rsplit(':', 1)[-1]}: "
                             f"{type(exc).__name__}: {str(exc)[:80]}", line,
                             hint="quote it to keep it a string, or fix the value") from None

    def _sequence(self, node: yaml.SequenceNode, path: Path_) -> tuple[list, int, int]:
        items, size, height = [], 1, 0
        for i, item in enumerate(node.value):
            line = self.loader.alias_lines.get((node, i)) or item.start_mark.line + 1
            self.lines[path + (i,)] = line
            value, n, h = self.build(item, path + (i,), line)
            items.append(value)
            size += n
            height = max(height, h)
        return items, size, height + 1

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> tuple[dict, int, int]:
        out: dict[Any, Any] = {}
        merged: dict[Any, Any] = {}
        size, height, merge_line = 1, 0, None
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE_TAG:
                if merge_line is not None:
                    raise self.error(f"duplicate key `<<` (the first is at line {merge_line})", line,
                                     hint="merge several mappings with one `<<: [*a, *b]`")
                merge_line = line
                n, h = self._merge(node, key_node, value_node, path, line, merged)
                size, height = size + n, max(height, h)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.error("mapping keys must be plain scalars", line)
            key = self._scalar(key_node, line)
            if not isinstance(key, _KEY_TYPES) and key is not None:
                raise self.error("mapping keys must be plain scalars", line)
            if key in out:
                raise self.error(f"duplicate key `{key}` (the first is at line {self.lines[path + (key,)]}); "
                                 f"YAML would silently keep only the last", line, hint="remove or merge one of them")
            self.lines[path + (key,)] = line
            value_line = self.loader.alias_lines.get((node, key_node)) or line
            value, n, h = self.build(value_node, path + (key,), value_line)
            out[key] = value
            size, height = size + 1 + n, max(height, h)
        if merged:
            for key in merged:
                self.lines.setdefault(path + (key,), merge_line)
            out = {**merged, **out}
        return out, size, height + 1

    def _merge(self, node: yaml.MappingNode, key_node: yaml.Node, value_node: yaml.Node, path: Path_,
               line: int, merged: dict) -> tuple[int, int]:
        """Fold `<<: *a` or `<<: [*a, *b]` into `merged` (earlier mappings win, as in
        safe_load); (expanded size, height) of what was merged."""
        line = self.loader.alias_lines.get((node, key_node)) or line
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        if value_node in self.active or any(s in self.active for s in sources):
            raise self.error("recursive alias: a mapping merges itself (`<<`)", line)
        if not all(isinstance(s, yaml.MappingNode) for s in sources):
            raise self.error("a merge key `<<` takes a mapping or a list of mappings", line,
                             hint="`<<: *defaults` or `<<: [*a, *b]`")
        size, height = 0, 0
        for source in reversed(sources):
            value, n, h = self.build(source, path, line)
            merged.update(value)
            size, height = size + n, max(height, h - 1)
        return size, height
