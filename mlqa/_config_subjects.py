"""The sections of mlqa.yaml that declare subjects — `model`, `baseline`, `data`,
`endpoint`, `image` — each parsed by one function with the signature the subject table
(`mlqa.subjects.SUBJECTS`) expects: ``parse(doc, key, value, base) -> section``.
`${VAR:-default}` expansion of the values that differ between CI environments lives here
too."""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._model_process import Limits
from .errors import MlqaError, did_you_mean
from .tables import is_table_file
from .yamldoc import LocatedYaml

MODEL_KEYS = ("path", "python", "format", "trusted", "isolation", "limits")
ISOLATIONS = ("process", "in-process")
LIMIT_KEYS = ("memory", "cpu_time", "open_files", "processes", "load_timeout")
DATA_KEYS = ("train", "test", "label", "positive_label", "sensitive", "features", "task", "personal")
MODEL_FORMATS = ("skops", "joblib", "pickle")
ENDPOINT_KEYS = ("url", "protocol", "model", "auth", "timeout", "replicas")
AUTH_KEYS = ("header", "token_env", "scheme")


@dataclass(frozen=True)
class ModelRef:
    """`model:` / `baseline:`: a model file (scanned before it is loaded) or a Python factory."""

    path: Path | None = None
    python: str | None = None
    format: str | None = None
    trusted: tuple[str, ...] = ()
    line: int | None = None
    #: "process" (a worker process of its own, the default) or "in-process" (trusted models)
    isolation: str = "process"
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True)
class DataConfig:
    """`data:`: the splits, the label and its positive value, sensitive and feature columns."""

    train: Path | None = None
    test: Path | None = None
    label: str | None = None
    positive_label: Any = None
    sensitive: tuple[str, ...] = ()
    features: tuple[str, ...] | None = None
    task: str | None = None
    #: columns holding personal data: their values are redacted from every report
    personal: tuple[str, ...] = ()
    lines: dict[str, int] = field(default_factory=dict, compare=False)


def _file(doc: LocatedYaml, value: Any, path: tuple, base: Path, what: str) -> Path:
    if not isinstance(value, str) or not value:
        raise doc.error(f"`{'.'.join(map(str, path))}` must be a file path", *path)
    resolved = (base / os.path.expanduser(value)).resolve()
    if not resolved.exists():
        raise doc.error(f"{what} not found: {value} (resolved to {resolved})", *path,
                        hint="paths are relative to the folder of mlqa.yaml")
    return resolved


def parse_model_ref(doc: LocatedYaml, key: str, value: Any, base: Path) -> ModelRef | None:
    if value is None:
        return None
    path = (key,)
    if isinstance(value, str):
        value = {"path": value}
    value = doc.mapping(value, path, "path: FILE or python: 'pkg.mod:factory'")
    doc.known_keys(value, MODEL_KEYS, path)
    if ("path" in value) == ("python" in value):
        raise doc.error(f"`{key}` needs exactly one of `path` or `python`", *path)
    fmt = value.get("format")
    if fmt is not None and fmt not in MODEL_FORMATS:
        raise doc.error(f"unknown model format `{fmt}`", *path, "format",
                        hint=did_you_mean(str(fmt), MODEL_FORMATS) or f"use one of {MODEL_FORMATS}")
    trusted = tuple(doc.str_list(value.get("trusted", []), path + ("trusted",)))
    line = doc.line(*path)
    isolation = value.get("isolation", "process")
    if isolation not in ISOLATIONS:
        raise doc.error(f"`isolation` must be one of {', '.join(ISOLATIONS)}, got {isolation!r}", *path,
                        "isolation", hint="`process` (default) runs the model in a worker of its own; "
                                          "`in-process` only for a model you trust")
    extra = {"trusted": trusted, "line": line, "isolation": isolation,
             "limits": _parse_limits(doc, value.get("limits"), path + ("limits",))}
    if "python" in value:
        ref = value["python"]
        if not isinstance(ref, str) or not re.match(r"^[\w.]+:[\w.]+$", ref):
            raise doc.error(f"`python` must look like 'package.module:factory', got {ref!r}", *path, "python")
        return ModelRef(python=ref, format=fmt, **extra)
    file = _file(doc, value["path"], path + ("path",), base, "model file")
    from ._model_sniff import not_a_model
    why = not_a_model(file)
    if why is not None:  # a mistake in the config (like an unreadable data file), not a block
        raise doc.error(f"{value['path']} is not a model file: {why}", *path, "path",
                        hint="point it at a model saved with skops.io.dump, joblib.dump, pickle or torch.save")
    return ModelRef(path=file, format=fmt, **extra)


def _parse_limits(doc: LocatedYaml, value: Any, path: tuple) -> Limits:
    """`limits:` of a model's worker: memory (`8GiB`), cpu_time (`1h`), open_files,
    processes, load_timeout (`10m`)."""
    if value is None:
        return Limits()
    from .units import parse_duration, parse_size
    value = doc.mapping(value, path, "memory, cpu_time, open_files, processes, load_timeout")
    doc.known_keys(value, LIMIT_KEYS, path)
    got: dict[str, Any] = {}
    parsers = {"memory": ("memory_bytes", lambda v: parse_size(str(v)), 64 << 20),
               "cpu_time": ("cpu_s", lambda v: int(parse_duration(v)), 1),
               "open_files": ("open_files", int, 16), "processes": ("processes", int, 1),
               "load_timeout": ("load_timeout_s", parse_duration, 1)}
    for key, raw in value.items():
        field_name, parse, least = parsers[key]
        try:
            if isinstance(raw, bool):
                raise MlqaError(f"{raw!r} is not a number")
            parsed = parse(raw)
        except (MlqaError, TypeError, ValueError) as exc:
            raise doc.error(f"`limits.{key}`: {exc}", *path, key) from None
        if not parsed >= least or parsed != parsed or parsed == float("inf"):
            raise doc.error(f"`limits.{key}` must be at least {least}, got {raw!r}", *path, key)
        got[field_name] = parsed
    return Limits(**got)


def parse_data(doc: LocatedYaml, key: str, value: Any, base: Path) -> DataConfig:
    value = doc.mapping({} if value is None else value, (key,), "train, test, label, ...")
    doc.known_keys(value, DATA_KEYS, (key,))
    files = {k: _file(doc, value[k], (key, k), base, f"{k} data file")
             for k in ("train", "test") if value.get(k) is not None}
    for k, f in files.items():
        if not is_table_file(f):
            raise doc.error(f"unsupported data format for {f.name}", key, k,
                            hint="use CSV (optionally compressed) or Parquet; `mlqa init --data FILE` "
                                 "converts a headerless or other delimited text file (UCI's .data) to CSV")
    label = value.get("label")
    if label is not None and not isinstance(label, str):
        raise doc.error("`data.label` must be a column name", key, "label")
    task = value.get("task")
    if task not in (None, "classification", "regression"):
        raise doc.error(f"`data.task` must be classification or regression, got {task!r}", key, "task")
    features = value.get("features")
    feats = tuple(doc.str_list(features, (key, "features"))) if features is not None else None
    lines = {k: doc.line(key, k) for k in value}
    return DataConfig(train=files.get("train"), test=files.get("test"), label=label,
                      positive_label=value.get("positive_label"),
                      sensitive=tuple(doc.str_list(value.get("sensitive", []), (key, "sensitive"))),
                      features=feats, task=task, lines=lines,
                      personal=tuple(doc.str_list(value.get("personal", []), (key, "personal"))))


def parse_endpoint(doc: LocatedYaml, key: str, value: Any, base: Path) -> dict[str, Any] | None:
    """`endpoint:`: the served model the latency and endpoint checks call."""
    if value is None:
        return None
    value = doc.mapping(value, (key,), "url, protocol, model, auth")
    _no_secret_here(doc, value, (key,))
    for misplaced in ("token_env", "header", "scheme"):
        if misplaced in value:
            raise doc.error(f"`{misplaced}` belongs under `{key}.auth`", key, misplaced,
                            hint=f"{key}: {{url: ..., auth: {{header: Authorization, token_env: MLQA_TOKEN}}}}")
    doc.known_keys(value, ENDPOINT_KEYS, (key,))
    if not isinstance(value.get("url"), str):
        raise doc.error("`endpoint.url` is required (http://host:port)", key)
    value = {**value, "url": expand_env(doc, value["url"], key, "url")}
    if value.get("protocol", "oip-v2") not in ("oip-v2", "json"):
        raise doc.error("`endpoint.protocol` must be oip-v2 or json", key, "protocol")
    timeout = value.get("timeout", 5.0)
    if (not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not math.isfinite(timeout)
            or not 0 < timeout <= 30 * 24 * 3600):
        raise doc.error(f"`endpoint.timeout` must be a positive number of seconds, got {timeout!r}", key, "timeout")
    replicas = value.get("replicas", 1)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 1:
        raise doc.error(f"`endpoint.replicas` must be a whole number of serving replicas, got {replicas!r}",
                        key, "replicas")
    auth = value.get("auth")
    if auth is not None:
        auth = doc.mapping(auth, (key, "auth"), "header, token_env")
        _no_secret_here(doc, auth, (key, "auth"))
        doc.known_keys(auth, AUTH_KEYS, (key, "auth"))
    return dict(value)


#: keys that would hold a secret itself: refused with a pointer to `token_env`
SECRET_KEYS = ("token", "api_key", "apikey", "password", "secret", "bearer", "authorization")


def _no_secret_here(doc: LocatedYaml, mapping: dict, path: tuple) -> None:
    """Refuse a secret written into the config (`token: abc`), saying where it goes."""
    where = ".".join(map(str, path))
    use = "token_env: NAME_OF_ENV_VAR" if path[-1] == "auth" else "auth: {token_env: NAME_OF_ENV_VAR}"
    for k in mapping:
        if str(k).lower() in SECRET_KEYS:
            raise doc.error(f"`{where}.{k}`: secrets are not written into the config", *path, k,
                            hint=f"put it in an environment variable and name that variable: `{use}` "
                                 f"under `{where}`")


def parse_image(doc: LocatedYaml, key: str, value: Any, base: Path) -> str | None:
    """`image:`: a container image reference (for trivy)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise doc.error("`image` must be an image reference string", key)
    return expand_env(doc, value, key)


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(doc: LocatedYaml, text: str, *path: str) -> str:
    """`${VAR}` and `${VAR:-default}` from the environment (endpoint.url and image only:
    what differs between CI environments)."""
    def one(m: re.Match) -> str:
        value = os.environ.get(m.group(1))
        if value:
            return value
        if m.group(2) is not None:
            return m.group(2)
        raise doc.error(f"environment variable {m.group(1)} is not set", *path,
                        hint=f"set it, or give a default: ${{{m.group(1)}:-http://127.0.0.1:8080}}")
    return _VAR.sub(one, text)
