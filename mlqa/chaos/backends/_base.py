"""What every backend provides (see the package docstring)."""
from __future__ import annotations

import fnmatch
import random
from dataclasses import dataclass, field
from typing import Any, Protocol


class SelectorError(LookupError):
    """A selector that matches nothing (or not enough) in the live target."""


@dataclass(frozen=True)
class Inventory:
    """The live target, as selectors see it."""

    zones: tuple[str, ...] = ()
    #: node -> zone
    nodes: dict[str, str] = field(default_factory=dict)
    #: node -> serving replicas
    replicas: dict[str, int] = field(default_factory=dict)
    #: node -> GPUs
    gpus: dict[str, int] = field(default_factory=dict)
    components: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()


class Backend(Protocol):
    name: str

    def descriptor(self) -> dict[str, Any]: ...
    def lock_key(self) -> str: ...
    def inventory(self) -> Inventory: ...
    def inject(self, kind: str, targets: list[str], select: dict, params: dict) -> list[dict]: ...
    def revert(self, action: dict) -> None: ...
    def active_faults(self) -> list[dict]: ...
    def close(self) -> None: ...


def pick(names: list[str], pattern: str, select: dict, rng: random.Random, what: str) -> list[str]:
    """The names `pattern` selects (exact, glob, or `random`), limited by `count` and `pick`."""
    names = sorted(names)
    if pattern == "random":
        matched = list(names)
        count = select.get("count", 1)
        how = "random"
    else:
        matched = [n for n in names if n == pattern or fnmatch.fnmatchcase(n, pattern)]
        count = select.get("count", len(matched))
        how = select.get("pick", "first")
    if not matched:
        from ...errors import did_you_mean
        hint = did_you_mean(pattern, names)
        raise SelectorError(f"no {what} `{pattern}` in the live target" + (f" ({hint})" if hint else "")
                            + f"; {what}s: {', '.join(names) or 'none'}")
    if count > len(matched):
        raise SelectorError(f"`count: {count}` but only {len(matched)} {what}(s) match `{pattern}`: "
                            f"{', '.join(matched)}")
    return sorted(rng.sample(matched, count)) if how == "random" else matched[:count]
