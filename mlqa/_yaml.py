"""Safe YAML loading that remembers the line of every key, for errors that point at it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

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
