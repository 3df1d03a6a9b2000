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


def load_yaml(text: str, file: str | Path) -> LocatedYaml:
    """Parse with SafeLoader semantics (no Python tags); duplicate keys are errors."""
    file = str(file)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ConfigError("the file is empty", file=file, line=1,
                              hint="start from `mlqa init` or the config reference in the README")
        lines: dict[Path_, int] = {(): node.start_mark.line + 1}
        data = _build(loader, node, (), lines, file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = " ".join(x for x in (exc.context, exc.problem) if x)
        raise ConfigError(f"invalid YAML: {problem}", file=file, line=line,
                          hint="check indentation and quoting near this line") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=file) from None
    finally:
        loader.dispose()
    return LocatedYaml(data, lines, file)


_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:omap"}


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: Path_, lines: dict, file: str) -> Any:
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_TAGS:
        raise ConfigError(f"the tag `{node.tag}` is not allowed: mlqa.yaml is plain data "
                          f"(safe YAML, no object construction)",
                          file=file, line=node.start_mark.line + 1, hint="remove the tag")
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise ConfigError("mapping keys must be plain scalars", file=file, line=line)
            if key in out:
                raise ConfigError(f"duplicate key `{key}` (the first is at line "
                                  f"{lines[path + (key,)]}); YAML would silently keep only the last",
                                  file=file, line=line, hint="remove or merge one of them")
            lines[path + (key,)] = line
            out[key] = _build(loader, value_node, path + (key,), lines, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            items.append(_build(loader, item, path + (i,), lines, file))
        return items
    return loader.construct_object(node, deep=True)
