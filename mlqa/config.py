"""Load and validate `mlqa.yaml` into frozen dataclasses; every error names file and line."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._config_endpoint import expand_env, parse_endpoint
from ._types import ParamTypeError
from ._yaml import LocatedYaml, load_yaml
from .errors import ConfigError, did_you_mean
from .registry import Registry
from ._config_gates import Stage, Waiver, parse_gates as _gates  # noqa: F401 (re-exported)

TOP_KEYS = ("version", "include", "model", "baseline", "data", "endpoint", "image", "plugins",
            "seed", "checks", "gates", "deepchecks")
MODEL_KEYS = ("path", "python", "format", "trusted")
DATA_KEYS = ("train", "test", "label", "positive_label", "sensitive", "features", "task")
MODEL_FORMATS = ("skops", "joblib", "pickle")
_INSTANCE = re.compile(r"^(?P<id>[a-z][a-z0-9_.]*)(\[(?P<name>[A-Za-z0-9_.:-]+)\])?$")


@dataclass(frozen=True)
class ModelRef:
    path: Path | None = None
    python: str | None = None
    format: str | None = None
    trusted: tuple[str, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class DataConfig:
    train: Path | None = None
    test: Path | None = None
    label: str | None = None
    positive_label: Any = None
    sensitive: tuple[str, ...] = ()
    features: tuple[str, ...] | None = None
    task: str | None = None
    lines: dict[str, int] = field(default_factory=dict, compare=False)


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
    """A validated mlqa.yaml. Paths are absolute (resolved against the file's folder)."""

    path: Path
    version: int
    model: ModelRef | None
    baseline: ModelRef | None
    data: DataConfig
    endpoint: dict[str, Any] | None
    image: str | None
    plugins: tuple[str, ...]
    seed: int
    checks: tuple[CheckInstance, ...]
    gates: dict[str, Stage]
    registry: Registry = field(compare=False, repr=False)
    deepchecks: dict[str, Any] | None = None

    @property
    def dir(self) -> Path:
        return self.path.parent

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
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config: {exc}", file=path) from None
    return parse_config(load_yaml(text, path), registry=registry)


def parse_config(doc: LocatedYaml, *, registry: Registry | None = None) -> Config:
    root = doc.data
    if not isinstance(root, dict):
        raise doc.error("the top level must be a mapping (version, model, data, checks, gates)")
    _known_keys(doc, root, TOP_KEYS, ())
    base = Path(doc.file).parent
    version = root.get("version", None)
    if version != 1:
        raise doc.error(f"`version` must be 1, got {version!r}", "version",
                        hint="add `version: 1` at the top")
    plugins = tuple(_str_list(doc, root.get("plugins", []), ("plugins",)))
    seed = root.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise doc.error(f"`seed` must be an integer, got {seed!r}", "seed")
    if registry is None:
        registry = _discover(doc, plugins, base)
    model = _model_ref(doc, root.get("model"), ("model",), base)
    baseline = _model_ref(doc, root.get("baseline"), ("baseline",), base)
    data = _data(doc, root.get("data", {}), base)
    endpoint = parse_endpoint(doc, root.get("endpoint"))
    image = root.get("image")
    if image is not None and not isinstance(image, str):
        raise doc.error("`image` must be an image reference string", "image")
    if image is not None:
        image = expand_env(doc, image, "image")
    columns = _data_columns(doc, data)
    checks = _with_presets(doc, root, registry, columns, base)
    gates = _gates(doc, root.get("gates", {}))
    return Config(path=Path(doc.file), version=1, model=model, baseline=baseline, data=data,
                  endpoint=endpoint, image=image, plugins=plugins, seed=seed, checks=checks,
                  gates=gates, registry=registry, deepchecks=_deepchecks(doc, root.get("deepchecks"), base))


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
            except Exception as exc:
                raise doc.error(f"plugin `{name}` failed: {exc}", "plugins", i)
        return reg
    finally:
        if added:
            sys.path.remove(str(base))


def _known_keys(doc: LocatedYaml, mapping: dict, allowed: tuple[str, ...], path: tuple) -> None:
    for key in mapping:
        if key not in allowed:
            hint = did_you_mean(str(key), allowed)
            where = ".".join(str(p) for p in path if isinstance(p, str)) or "top level"
            raise doc.error(f"unknown key `{key}` in {where}", *path, key,
                            hint=hint or f"allowed keys: {', '.join(allowed)}")


def _mapping(doc: LocatedYaml, value: Any, path: tuple, what: str) -> dict:
    if not isinstance(value, dict):
        raise doc.error(f"`{'.'.join(map(str, path))}` must be a mapping ({what}), got {value!r}", *path)
    return value


def _str_list(doc: LocatedYaml, value: Any, path: tuple) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise doc.error(f"`{'.'.join(map(str, path))}` must be a list of strings", *path)
    return value


def _file(doc: LocatedYaml, value: Any, path: tuple, base: Path, what: str) -> Path:
    if not isinstance(value, str) or not value:
        raise doc.error(f"`{'.'.join(map(str, path))}` must be a file path", *path)
    resolved = (base / os.path.expanduser(value)).resolve()
    if not resolved.exists():
        raise doc.error(f"{what} not found: {value} (resolved to {resolved})", *path,
                        hint="paths are relative to the folder of mlqa.yaml")
    return resolved


def _model_ref(doc: LocatedYaml, value: Any, path: tuple, base: Path) -> ModelRef | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"path": value}
    value = _mapping(doc, value, path, "path: FILE or python: 'pkg.mod:factory'")
    _known_keys(doc, value, MODEL_KEYS, path)
    if ("path" in value) == ("python" in value):
        raise doc.error(f"`{path[0]}` needs exactly one of `path` or `python`", *path)
    fmt = value.get("format")
    if fmt is not None and fmt not in MODEL_FORMATS:
        raise doc.error(f"unknown model format `{fmt}`", *path, "format",
                        hint=did_you_mean(str(fmt), MODEL_FORMATS) or f"use one of {MODEL_FORMATS}")
    trusted = tuple(_str_list(doc, value.get("trusted", []), path + ("trusted",)))
    line = doc.line(*path)
    if "python" in value:
        ref = value["python"]
        if not isinstance(ref, str) or not re.match(r"^[\w.]+:[\w.]+$", ref):
            raise doc.error(f"`python` must look like 'package.module:factory', got {ref!r}", *path, "python")
        return ModelRef(python=ref, format=fmt, trusted=trusted, line=line)
    file = _file(doc, value["path"], path + ("path",), base, "model file")
    return ModelRef(path=file, format=fmt, trusted=trusted, line=line)


def _data(doc: LocatedYaml, value: Any, base: Path) -> DataConfig:
    value = _mapping(doc, value, ("data",), "train, test, label, ...")
    _known_keys(doc, value, DATA_KEYS, ("data",))
    files = {k: _file(doc, value[k], ("data", k), base, f"{k} data file")
             for k in ("train", "test") if value.get(k) is not None}
    for k, f in files.items():
        if not re.search(r"\.(csv|tsv|parquet|pq)(\.(gz|bz2|zip|xz|zst))?$", f.name):
            raise doc.error(f"unsupported data format for {f.name}", "data", k,
                            hint="use CSV (optionally compressed) or Parquet")
    label = value.get("label")
    if label is not None and not isinstance(label, str):
        raise doc.error("`data.label` must be a column name", "data", "label")
    task = value.get("task")
    if task not in (None, "classification", "regression"):
        raise doc.error(f"`data.task` must be classification or regression, got {task!r}", "data", "task")
    features = value.get("features")
    feats = tuple(_str_list(doc, features, ("data", "features"))) if features is not None else None
    lines = {k: doc.line("data", k) for k in value}
    return DataConfig(train=files.get("train"), test=files.get("test"), label=label,
                      positive_label=value.get("positive_label"),
                      sensitive=tuple(_str_list(doc, value.get("sensitive", []), ("data", "sensitive"))),
                      features=feats, task=task, lines=lines)


def _data_columns(doc: LocatedYaml, data: DataConfig) -> list[str] | None:
    """The columns every data file shares; names in `data:` must be among them."""
    from .subjects import read_columns
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
            [("features", f) for f in (data.features or ())]
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
                  base: Path) -> tuple[CheckInstance, ...]:
    """Checks of the `include:`d presets, then the config's own; an own entry with the
    same key replaces the preset's (keeping the preset's position)."""
    merged: dict[str, CheckInstance] = {}
    for i, name in enumerate(_str_list(doc, root.get("include", []), ("include",))):
        path = preset_path(name, base)
        if path is None:
            raise doc.error(f"unknown preset `{name}`", "include", i,
                            hint=did_you_mean(name, presets()) or f"presets: {', '.join(presets())}")
        preset = load_yaml(path.read_text(encoding="utf-8"), path)
        if not isinstance(preset.data, dict):
            raise preset.error("a preset is a mapping with a `checks:` list")
        _known_keys(preset, preset.data, ("description", "checks"), ())
        for c in _checks(preset, preset.data.get("checks", []), registry, columns):
            merged[c.key] = c
    for c in _checks(doc, root.get("checks", []), registry, columns):
        merged[c.key] = c
    return tuple(merged.values())


def _deepchecks(doc: LocatedYaml, value: Any, base: Path) -> dict[str, Any] | None:
    if value is None:
        return None
    value = _mapping(doc, value, ("deepchecks",), "python: PATH")
    _known_keys(doc, value, ("python",), ("deepchecks",))
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
        if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
            raise doc.error("`timeout` must be a positive number of seconds", *path, "timeout")
        try:
            bound = spec.bind(params)
        except KeyError as exc:
            name = str(exc.args[0]).split("`")[1]
            msg, _, hint = str(exc.args[0]).partition("; ")
            raise doc.error(msg, *path, name, hint=hint or None) from None
        except ParamTypeError as exc:
            bad = next((k for k in params if f".{k}" in str(exc)), None)
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
