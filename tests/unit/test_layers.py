"""The layers of DESIGN.md §2, kept true by walking the imports of every module of mlqa/.

- units: the **core** (every module of mlqa/ outside the feature packages and front doors,
  including mlqa/reports/ and mlqa/loadgen/), the **feature packages** (suites/, serve/,
  stack/, chaos/) and the **front doors** (cli.py, pytest_plugin.py, hookspec.py);
- the core never imports a feature package or a front door, and a feature package never
  imports a front door — not even for type annotations;
- something private (a module or a name starting with `_`) is used only inside the package
  that owns it and only by its own unit: `mlqa.suites._metrics` by `mlqa.suites.*`,
  `mlqa.suites.performance._common` by `mlqa.suites.performance.*`, the core's `_pickle_scan`
  by the core; everything else goes through public names;
- no import cycles between modules (imports inside `if TYPE_CHECKING:` do not run and are
  not counted for cycles; imports inside functions are, and so are `importlib.import_module`
  / `__import__` calls with a literal module name).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FEATURES = ("suites", "serve", "stack", "chaos")
FRONT_DOORS = ("cli", "pytest_plugin", "hookspec", "__main__")


@dataclass(frozen=True)
class Edge:
    source: str       # importing module
    target: str       # imported module
    name: str | None  # a name imported from `target` that is not a submodule
    line: int
    typing_only: bool


def read_package(root: Path = ROOT / "mlqa") -> dict[str, tuple[str, bool]]:
    """module name -> (source text, is a package)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        parts = list(rel.parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        out[".".join(parts)] = (path.read_text(encoding="utf-8"), is_pkg)
    return out


def unit(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in FEATURES:
        return parts[1]
    if len(parts) == 2 and parts[1] in FRONT_DOORS:
        return "front door"
    return "core"


def _typing_blocks(tree: ast.AST) -> set[int]:
    """ids of import nodes under `if TYPE_CHECKING:`."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else ""
            if name == "TYPE_CHECKING":
                for sub in node.body:
                    inside.update(id(n) for n in ast.walk(sub))
    return inside


def _dynamic_import(node: ast.Call) -> bool:
    """`importlib.import_module("mlqa...")`, `import_module(...)` or `__import__(...)` with a
    literal name (a name computed at run time — a user's plugin — is not an edge)."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return (name in ("import_module", "__import__") and bool(node.args)
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str))


def edges(modules: dict[str, tuple[str, bool]]) -> list[Edge]:
    out = []
    for module, (text, is_pkg) in modules.items():
        tree = ast.parse(text)
        typing_only = _typing_blocks(tree)
        package = module if is_pkg else module.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "mlqa":
                        out.append(Edge(module, alias.name, None, node.lineno, id(node) in typing_only))
            elif isinstance(node, ast.Call) and _dynamic_import(node):
                name = node.args[0].value
                if name.split(".")[0] == "mlqa":
                    out.append(Edge(module, name, None, node.lineno, id(node) in typing_only))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target.split(".")[0] != "mlqa":
                    continue
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in modules:
                        out.append(Edge(module, sub, None, node.lineno, id(node) in typing_only))
                    else:
                        out.append(Edge(module, target, alias.name, node.lineno, id(node) in typing_only))
    return out


def _private_owner(module: str) -> str | None:
    """The package that owns the first private component of `module`, if any."""
    parts = module.split(".")
    for i, part in enumerate(parts[1:], start=1):
        if part.startswith("_") and not (part.startswith("__") and part.endswith("__")):
            return ".".join(parts[:i])
    return None


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer_violations(modules: dict[str, tuple[str, bool]]) -> list[str]:
    found = []
    for e in edges(modules):
        where = f"{e.source}:{e.line}"
        src, dst = unit(e.source), unit(e.target)
        if src == "core" and dst != "core":
            found.append(f"{where}: the core imports {e.target} ({dst})")
        if src in FEATURES and dst == "front door":
            found.append(f"{where}: feature package {src} imports the front door {e.target}")
        owner = _private_owner(e.target)
        if owner is not None and not (_inside(e.source, owner) and src == dst):
            found.append(f"{where}: imports {e.target}, private to {owner}")
        if e.name and e.name.startswith("_") and not e.name.startswith("__"):
            name_owner = e.target if modules.get(e.target, ("", False))[1] else e.target.rpartition(".")[0]
            if not (_inside(e.source, name_owner) and src == dst):
                found.append(f"{where}: imports {e.target}.{e.name}, private to {name_owner}")
    return found


def cycles(modules: dict[str, tuple[str, bool]]) -> list[list[str]]:
    """Strongly connected components of more than one module (or a module importing itself)."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for e in edges(modules):
        if not e.typing_only and e.target in graph:
            graph[e.source].add(e.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan, recursive: the graph is a few hundred modules
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph[v]:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


# ------------------------------------------------------------------ the guard itself
def test_mlqa_keeps_its_layers():
    problems = layer_violations(read_package())
    assert not problems, "layering violations:\n  " + "\n  ".join(problems)


def test_mlqa_has_no_import_cycles():
    found = cycles(read_package())
    assert not found, "import cycles:\n  " + "\n  ".join(" <-> ".join(c) for c in found)


def test_the_walk_sees_the_whole_package():
    modules = read_package()
    assert {"mlqa", "mlqa.session", "mlqa.config", "mlqa.suites", "mlqa.stack", "mlqa.serve"} <= set(modules)
    assert len(edges(modules)) > 200


# ------------------------------------------------------------------ tests of the test
def _with(modules: dict, module: str, line: str) -> dict:
    text, is_pkg = modules[module]
    return {**modules, module: (text + "\n" + line + "\n", is_pkg)}


@pytest.mark.parametrize("module, line, expect", [
    # a feature package reaching into another's private module
    ("mlqa.stack._control", "from ..suites.security._endpoint import endpoint_auth",
     "private to mlqa.suites.security"),
    # a suite reaching into a sibling suite's private module
    ("mlqa.suites.fairness", "from ..performance._metric import metric",
     "private to mlqa.suites.performance"),
    # a private name of a core module used by a feature package
    ("mlqa.stack._topology", "from ..config import _INSTANCE", "mlqa.config._INSTANCE, private to mlqa"),
    # a feature package using a private module of the core
    ("mlqa.serve._app", "from .. import _pickle_scan", "private to mlqa"),
    # the core importing a feature package, even lazily or for types only
    ("mlqa.reports", "def f():\n    from ..suites import data", "the core imports mlqa.suites"),
    ("mlqa.session", "if TYPE_CHECKING:\n    from .stack import Stack", "the core imports mlqa.stack"),
    # a feature package importing a front door
    ("mlqa.stack._control", "from ..cli import main", "imports the front door mlqa.cli"),
    # the same, dynamically
    ("mlqa.serve._app", "import importlib\nimportlib.import_module('mlqa.suites.performance._metric')",
     "private to mlqa.suites.performance"),
    ("mlqa.session", "def f():\n    return __import__('mlqa.stack')", "the core imports mlqa.stack"),
])
def test_the_guard_fails_on_a_planted_violation(module, line, expect):
    modules = read_package()
    assert layer_violations(modules) == []  # the clean twin
    problems = layer_violations(_with(modules, module, line))
    assert any(expect in p for p in problems), problems


def test_the_guard_allows_public_names_and_own_private_modules():
    modules = read_package()
    for module, line in [("mlqa.stack._control", "from ..serve import RateLimiter"),
                         ("mlqa.suites.data._drift", "from .._metrics import weighted"),
                         ("mlqa.stack._control", "from ..procs import free_port"),
                         ("mlqa.suites.fairness._checks", "from ..latency import CapacitySettings")]:
        assert layer_violations(_with(modules, module, line)) == [], line


def test_the_guard_finds_a_planted_cycle():
    modules = read_package()
    assert cycles(modules) == []
    planted = _with(modules, "mlqa.results", "def f():\n    from .session import Session")
    assert any({"mlqa.results", "mlqa.session"} <= set(c) for c in cycles(planted))
    # a cycle through imports that only type checkers see is not a cycle at run time
    typing_only = _with(modules, "mlqa.results", "if TYPE_CHECKING:\n    from .session import Session")
    assert cycles(typing_only) == []
