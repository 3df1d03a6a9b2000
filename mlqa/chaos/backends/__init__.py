"""Where faults land. A backend resolves selectors against the live target, injects a fault
and returns the actions that revert it (plain JSON, journaled before the injection), and
reverts them — also in a later process (`mlqa chaos recover`), from the journal alone.
The local reference stack and local processes are here; Kubernetes (Chaos Mesh) is one
more module with the same five methods."""
from __future__ import annotations

from typing import Any

from ._base import Backend, Inventory, SelectorError


def open_backend(descriptor: dict[str, Any]) -> Backend:
    """The backend a journal names (for `recover`): attach, never bring anything up."""
    kind = descriptor.get("backend")
    if kind == "local-stack":
        from .local import LocalStack
        return LocalStack.attach(descriptor)
    if kind == "processes":
        from .processes import LocalProcesses
        return LocalProcesses.attach(descriptor)
    raise SelectorError(f"unknown backend {kind!r} in the journal")


__all__ = ["Backend", "Inventory", "SelectorError", "open_backend"]
