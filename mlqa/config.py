"""Load and validate `mlqa.yaml` into frozen dataclasses; every error names file and line."""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._config_gates import Stage, Waiver, parse_gates  # noqa: F401 (Stage, Waiver re-exported)
from ._config_subjects import DataConfig, ModelRef  # noqa: F401 (re-exported)
from .errors import ConfigError, did_you_mean
from .params import ParamTypeError
from .registry import MAX_TIMEOUT_S, Registry, valid_timeout
from .subjects import section_parsers
from .yamldoc import LocatedYaml, load_yaml

#: the keys of mlqa.yaml that are not subjects; the subjects' keys come from their table
OWN_KEYS = ("version", "include", "plugins", "seed", "checks", "gates", "deepchecks")
_INSTANCE = re.compile(r"^(?P<id>[a-z][a-z0-9_.]*)(\[(?P<name>[A-Za-z0-9_.:-]+)\])?$")


def top_keys() -> tuple[str, ...]:
    """Every key mlqa.yaml accepts at its top level."""
    return OWN_KEYS[:2] + tuple(section_parsers()) + OWN_KEYS[2:]


@dataclass(frozen=True)
class CheckInstance:
    """One entry of `checks:`: the check id, its instance name and validated parameters."""

    key: str            # instance id as reported: `performance.metric[auc]`
    check_id: str       # registered id: `performance.metric`
    params: dict[str, Any]
    timeout: float | None
    line: int | None


@dataclass(frozen=True)
class Config:
    """A validated mlqa.yaml. Paths are absolute (resolved against the file's folder).

    `sections` holds the parsed subject sections by key (`model`, `baseline`, `data`,
    `endpoint`, `image`, ...); `sha256` identifies the config: its file and the presets it
    includes, byte for byte."""

    path: Path
    version: int
    plugins: tuple[str, ...]
    seed: int
    checks: tuple[CheckInstance, ...]
    gates: dict[str, Stage]
    registry: Registry = field(compare=False, repr=False)
    sections: dict[str, Any] = field(default_factory=dict)
    deepchecks: dict[str, Any] | None = None
    sha256: str = ""
    #: the line of `checks:` (of the file's top level when it has none), for errors
    checks_line: int | None = field(default=None, compare=False)

    @property
    def dir(self) -> Path:
        return self.path.parent

    def section(self, key: str) -> Any:
        """The parsed `key:` section (None when the config has none)."""
        return self.sections.get(key)

    @property
    def model(self) -> ModelRef | None:
        return self.sections.get("model")

    @property
    def baseline(self) -> ModelRef | None:
        return self.sections.get("baseline")

    @property
    def data(self) -> DataConfig:
        return self.sections.get("data") or DataConfig()

    @property
    def endpoint(self) -> dict[str, Any] | None:
        return self.sections.get("endpoint")

    @property
    def image(self) -> str | None:
        return self.sections.get("image")

    def no_checks_error(self) -> ConfigError:
        """What `mlqa run` / `mlqa gate` say when the config has no check to run."""
        return ConfigError("no checks to run: `checks:` (with the presets it includes) declares none", file=self.path,
                           line=self.checks_line,
                           hint="add checks (`mlqa checks` lists them), e.g. `- data.drift: {max_psi: 0.2}`, "
                                "or `include: tabular-classifier`")

    def stage(self, name: str) -> Stage:
        if name not in self.gates:
            hint = did_you_mean(name, self.gates)
            known = ", ".join(self.gates) or "none declared"
            raise ConfigError(f"unknown stage `{name}` (stages: {known})", file=self.path,
                              hint=hint or "declare it under `gates:`")
        return self.gates[name]


def load_config(path: str | os.PathLike, *, registry: Registry | None = None) -> Config:
    """Read, parse and validate a config file; raise `ConfigError` on the first problem."""
    path = Path(path).resolve()
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}", hint="pass the path to your mlqa.yaml "
                          "(create one with `mlqa init`)")
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config: {exc}", file=path) from None
    return parse_config(load_yaml(text, path), registry=registry, raw=raw)


def parse_config(doc: LocatedYaml, *, registry: Registry | None = None, raw: bytes | None = None) -> Config:
    """Validate a parsed mlqa.yaml. `raw` (the file's bytes) gives the config its identity
    (`sha256`, with every included preset's bytes); without it the identity is empty."""
    root = doc.data
    if not isinstance(root, dict):
        raise doc.error("the top level must be a mapping (version, model, data, checks, gates)")
    doc.known_keys(root, top_keys(), ())
    base = Path(doc.file).parent
    version = root.get("version", None)
    if version != 1:
        raise doc.error(f"`version` must be 1, got {version!r}", "version",
                        hint="add `version: 1` at the top")
    plugins = tuple(doc.str_list(root.get("plugins", []), ("plugins",)))
    seed = root.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise doc.error(f"`seed` must be an integer, got {seed!r}", "seed")
    if registry is None:
        registry = _discover(doc, plugins, base)
    sections = {key: parse(doc, key, root.get(key), base) for key, parse in section_parsers().items()}
    columns = _data_columns(doc, sections.get("data"))
    identity = hashlib.sha256(raw or b"")
    checks = _with_presets(doc, root, registry, columns, base, identity)
    gates = parse_gates(doc, root.get("gates", {}), checks=[c.key for c in checks])
    return Config(path=Path(doc.file), version=1, plugins=plugins, seed=seed, checks=checks, gates=gates,
                  registry=registry, sections=sections, deepchecks=_deepchecks(doc, root.get("deepchecks"), base),
                  sha256=identity.hexdigest() if raw is not None else "",
                  checks_line=doc.line("checks") if "checks" in root else doc.line())


def summary(config: Config) -> str:
    """One line saying what a valid config declares (`mlqa validate`)."""
    suites: dict[str, int] = {}
    for c in config.checks:
        suites[c.check_id.split(".")[0]] = suites.get(c.check_id.split(".")[0], 0) + 1
    subjects = [k for k, v in config.sections.items() if v is not None and (k != "data" or v != DataConfig())]
    checks = (f"{len(config.checks)} check{'s' if len(config.checks) != 1 else ''} ("
              + ", ".join(f"{k} {n}" for k, n in suites.items()) + ")") if config.checks else \
        f"no checks (line {config.checks_line}: `mlqa run` / `mlqa gate` would have nothing to run)"
    return (f"{config.path}: valid: {checks}; stages: {', '.join(config.gates) or 'none'}; "
            f"subjects: {', '.join(subjects) or 'none'}")


def _discover(doc: LocatedYaml, plugins: tuple[str, ...], base: Path) -> Registry:
    import sys
    added = str(base) not in sys.path
    if added:
        sys.path.insert(0, str(base))
    try:
        reg = Registry.discover(())
        for i, name in enumerate(plugins):
            try:
                reg.add_module(name)
            except ImportError as exc:
                raise doc.error(f"cannot import plugin `{name}`: {exc}", "plugins", i,
                                hint="the module must be importable (installed, or next to mlqa.yaml)")
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001 - a plugin that exits or crashes at import
                raise doc.error(f"plugin `{name}` failed at import: {type(exc).__name__}: {exc}", "plugins", i)
        return reg
    finally:
        if added:
            sys.path.remove(str(base))


def _data_columns(doc: LocatedYaml, data: DataConfig | None) -> list[str] | None:
    """The columns every data file shares; names in `data:` must be among them."""
    from .tables import read_columns
    if data is None:
        return None
    columns: list[str] | None = None
    for key in ("train", "test"):
        file = getattr(data, key)
        if file is None:
            continue
        try:
            cols = read_columns(file)
        except Exception as exc:
            raise doc.error(f"cannot read {key} data {file.name}: {exc}", "data", key) from None
        if columns is not None and set(cols) != set(columns):
            diff = sorted(set(columns) ^ set(cols))
            raise doc.error(f"train and test have different columns: {diff}", "data", key,
                            hint="both splits must share one schema")
        columns = cols
    if columns is None:
        return None
    names = [("label", data.label)] + [("sensitive", s) for s in data.sensitive] + \
            [("features", f) for f in (data.features or ())] + [("personal", p) for p in data.personal]
    for key, name in names:
        if name is not None and name not in columns:
            raise doc.error(f"column `{name}` (data.{key}) is not in the data", "data", key,
                            hint=did_you_mean(name, columns) or f"columns: {', '.join(columns)}")
    return columns


def preset_path(name: str, base: Path) -> Path | None:
    """A shipped preset (`tabular-classifier`) or a YAML file relative to the config."""
    from ._assets import asset_dir
    if name.endswith((".yaml", ".yml")) or "/" in name:
        path = (base / name).resolve()
        return path if path.is_file() else None
    path = asset_dir("suites") / f"{name}.yaml"
    return path if path.is_file() else None


def presets() -> list[str]:
    from ._assets import asset_dir
    return sorted(p.stem for p in asset_dir("suites").glob("*.yaml"))


def _with_presets(doc: LocatedYaml, root: dict, registry: Registry, columns: list[str] | None,
                  base: Path, identity: Any) -> tuple[CheckInstance, ...]:
    """Checks of the `include:`d presets, then the config's own; an own entry with the
    same key replaces the preset's (keeping the preset's position)."""
    merged: dict[str, CheckInstance] = {}
    for i, name in enumerate(doc.str_list(root.get("include", []), ("include",))):
        path = preset_path(name, base)
        if path is None:
            raise doc.error(f"unknown preset `{name}`", "include", i,
                            hint=did_you_mean(name, presets()) or f"presets: {', '.join(presets())}")
        preset_raw = path.read_bytes()
        identity.update(b"\0" + preset_raw)
        preset = load_yaml(preset_raw.decode("utf-8"), path)
        if not isinstance(preset.data, dict):
            raise preset.error("a preset is a mapping with a `checks:` list")
        preset.known_keys(preset.data, ("description", "checks"), ())
        for c in _checks(preset, preset.data.get("checks", []), registry, columns):
            merged[c.key] = c
    for c in _checks(doc, root.get("checks", []), registry, columns):
        merged[c.key] = c
    return tuple(merged.values())


def _deepchecks(doc: LocatedYaml, value: Any, base: Path) -> dict[str, Any] | None:
    if value is None:
        return None
    value = doc.mapping(value, ("deepchecks",), "python: PATH")
    doc.known_keys(value, ("python",), ("deepchecks",))
    python = value.get("python")
    if not isinstance(python, str):
        raise doc.error("`deepchecks.python` must be the path of a Python interpreter", "deepchecks")
    path = (base / os.path.expanduser(python))
    if not path.exists():
        raise doc.error(f"deepchecks interpreter not found: {python}", "deepchecks", "python",
                        hint="create one with `make deepchecks-env` (.venv-deepchecks/bin/python)")
    return {"python": str(path)}


def _checks(doc: LocatedYaml, value: Any, registry: Registry,
            columns: list[str] | None) -> tuple[CheckInstance, ...]:
    if not isinstance(value, list):
        raise doc.error("`checks` must be a list of `- check.id: {params}` entries", "checks")
    out: list[CheckInstance] = []
    seen: dict[str, int | None] = {}
    for i, entry in enumerate(value):
        if isinstance(entry, str):
            entry = {entry: {}}
        if not isinstance(entry, dict) or len(entry) != 1:
            raise doc.error("each check is `- check.id: {param: value}` (one id per list item)",
                            "checks", i)
        (key, params), = entry.items()
        path = ("checks", i, key)
        params = {} if params is None else params
        match = _INSTANCE.match(str(key))
        if not match:
            raise doc.error(f"`{key}` is not a check id (suite.name or suite.name[instance])", *path)
        check_id = match.group("id")
        try:
            spec = registry.get(check_id)
        except KeyError as exc:
            raise doc.error(str(exc.args[0]).split("; ")[0], *path,
                            hint=(str(exc.args[0]).split("; ") + [None])[1]) from None
        if not isinstance(params, dict):
            raise doc.error(f"parameters of {key} must be a mapping, got {params!r}", *path)
        params = dict(params)
        timeout = params.pop("timeout", None)
        if timeout is not None and not valid_timeout(timeout):
            raise doc.error(f"`timeout` must be a positive number of seconds (at most {MAX_TIMEOUT_S:g}), "
                            f"got {repr(timeout)[:40]}", *path, "timeout")
        try:
            bound = spec.bind(params)
        except KeyError as exc:
            name = str(exc.args[0]).split("`")[1]
            msg, _, hint = str(exc.args[0]).partition("; ")
            raise doc.error(msg, *path, name, hint=hint or None) from None
        except ParamTypeError as exc:
            bad = next((k for k in params if re.search(rf"\.{re.escape(str(k))}(?!\w)", str(exc))), None)
            raise doc.error(str(exc), *path, *(() if bad is None else (bad,))) from None
        if columns is not None:
            _check_column_params(doc, spec, bound, params, columns, path)
        if key in seen:
            raise doc.error(f"check `{key}` appears twice (first at line {seen[key]})", *path,
                            hint=f"name each instance: `{check_id}[name]`")
        seen[key] = doc.line(*path)
        out.append(CheckInstance(key=key, check_id=check_id, params=bound,
                                 timeout=float(timeout) if timeout else None, line=doc.line(*path)))
    return tuple(out)


def _check_column_params(doc, spec, bound, raw, columns, path) -> None:
    for p in spec.params:
        if not p.names_columns or p.name not in raw:
            continue
        value = bound[p.name]
        names = value if isinstance(value, list) else ([value] if isinstance(value, str) else [])
        for name in names:
            if name not in columns:
                raise doc.error(f"column `{name}` ({spec.id}.{p.name}) is not in the data", *path, p.name,
                                hint=did_you_mean(name, columns) or f"columns: {', '.join(columns)}")
