"""The JSON Schema of mlqa.yaml, generated from the registry of checks, for editors.

Every check id with its parameters (types, ranges, enums, defaults and docs, from the
check's signature and docstring), every top-level key and the sections of subjects and
gates. YAML plugins of editors (VS Code's redhat.vscode-yaml, JetBrains IDEs) use it for
completion, hover docs and validation as you type. The schema is a help, not the judge:
`mlqa validate` (the config loader) also checks what a schema cannot — that files and
columns exist, that a model file is a model, that a stage glob names a configured check.

The built-in checks' schema ships in the package (`shipped_path()`); `mlqa schema` prints
the schema of the checks installed here, a team's plugins included.
"""
from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from ._config_gates import STAGE_KEYS, WAIVER_KEYS
from ._config_subjects import (
    AUTH_KEYS,
    DATA_KEYS,
    ENDPOINT_KEYS,
    ISOLATIONS,
    LIMIT_KEYS,
    MODEL_FORMATS,
    MODEL_KEYS,
)
from .params import COLUMN, Range
from .registry import MAX_TIMEOUT_S, CheckSpec, Registry

SCHEMA_ID = "https://mlqa.dev/schemas/mlqa.schema.json"
SHIPPED_NAME = "mlqa.schema.json"
#: the suffix of a check key that uses a check twice: `performance.metric[auc]`
INSTANCE_RE = r"\[[A-Za-z0-9_.:-]+\]"

_STRINGS = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}


def _strings(description: str) -> dict[str, Any]:
    return {**_STRINGS, "description": description}


def type_schema(tp: Any) -> dict[str, Any]:
    """The JSON Schema of a parameter annotation: types, `Range` bounds, enums; a list of
    column names also takes one name (`sensitive: race`)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return {}
    if origin is Annotated:
        inner, *meta = typing.get_args(tp)[0], *tp.__metadata__
        out = type_schema(inner)
        for m in meta:
            if isinstance(m, Range):
                out.update(_bounds(m))
        if COLUMN in meta and typing.get_origin(inner) is list:
            out = {"anyOf": [{"type": "string"}, out]}
        return out
    if origin in (Union, types.UnionType):
        options = [type_schema(a) for a in typing.get_args(tp)]
        return {"anyOf": options}
    if tp is type(None):
        return {"type": "null"}
    if origin is Literal:
        return {"enum": list(typing.get_args(tp))}
    if origin in (list, tuple) or tp in (list, tuple):
        args = typing.get_args(tp)
        return {"type": "array", **({"items": type_schema(args[0])} if args else {})}
    if origin is dict or tp is dict:
        args = typing.get_args(tp)
        return {"type": "object", **({"additionalProperties": type_schema(args[1])} if args else {})}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is str:
        return {"type": "string"}
    return {}


def _bounds(r: Range) -> dict[str, float]:
    out: dict[str, float] = {}
    if r.lo is not None:
        out["exclusiveMinimum" if r.lo_open else "minimum"] = r.lo
    if r.hi is not None:
        out["exclusiveMaximum" if r.hi_open else "maximum"] = r.hi
    return out


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
        return True
    except (TypeError, ValueError):
        return False


def check_schema(spec: CheckSpec) -> dict[str, Any]:
    """The schema of one check's parameters (a mapping, or nothing for the defaults)."""
    props: dict[str, Any] = {}
    for p in spec.params:
        s = {**type_schema(p.annotation), "description": (p.doc or p.type_name) + f" ({p.type_name})"}
        if not p.required and _jsonable(p.default):
            s["default"] = p.default
        props[p.name] = s
    props["timeout"] = {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_TIMEOUT_S,
                        "description": "the check's deadline in seconds"
                                       + (f" (default {spec.timeout:g})" if spec.timeout else "")}
    required = [p.name for p in spec.params if p.required]
    needs = f" Needs: {', '.join(spec.requires)}." if spec.requires else ""
    out: dict[str, Any] = {"type": ["object", "null"] if not required else "object",
                           "description": spec.summary + needs, "properties": props,
                           "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def _checks(registry: Registry) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the schema of `checks:`, the definitions it refers to: one per check id)."""
    specs = list(registry)
    defs = {s.id: check_schema(s) for s in specs}
    ref = {s.id: {"$ref": f"#/definitions/{s.id}"} for s in specs}
    # a plain id completes in editors (`properties`); `id[instance]` matches a pattern
    instances = {"^" + s.id.replace(".", r"\.") + INSTANCE_RE + "$": ref[s.id] for s in specs}
    entry = {"type": "object", "minProperties": 1, "maxProperties": 1, "properties": ref,
             "patternProperties": instances, "additionalProperties": False,
             "description": "`- suite.name: {param: value}`; `suite.name[instance]` to use a check twice"}
    bare = [s.id for s in specs if not any(p.required for p in s.params)]
    by_name = {"type": "string", "enum": bare,
               "description": "a check at its defaults (`mlqa checks` lists them)"}
    return ({"type": "array", "description": "the checks to run, in order; see `mlqa checks`",
             "items": {"anyOf": [by_name, entry]}}, defs)


def _model(key: str) -> dict[str, Any]:
    limits = {"type": "object", "additionalProperties": False,
              "description": "resource limits of the model's worker process",
              "properties": {"memory": {"type": ["string", "integer"], "description": "e.g. 8GiB"},
                             "cpu_time": {"type": ["string", "number"], "description": "e.g. 1h"},
                             "open_files": {"type": "integer", "minimum": 16},
                             "processes": {"type": "integer", "minimum": 1},
                             "load_timeout": {"type": ["string", "number"], "description": "e.g. 10m"}}}
    assert set(limits["properties"]) == set(LIMIT_KEYS)
    props = {"path": {"type": "string", "description": "model file, relative to mlqa.yaml (scanned before loading)"},
             "python": {"type": "string", "pattern": r"^[\w.]+:[\w.]+$",
                        "description": "'package.module:factory' (an object with predict, or a factory)"},
             "format": {"enum": list(MODEL_FORMATS), "description": "when the content must be this format"},
             "trusted": _strings("types a skops file may load, after review"),
             "isolation": {"enum": list(ISOLATIONS), "default": "process",
                           "description": "process (a worker of its own) or in-process (trusted models)"},
             "limits": limits}
    assert set(props) == set(MODEL_KEYS)
    what = "the model under test" if key == "model" else "the current champion (performance.regression)"
    return {"description": f"{what}: a model file or a Python factory",
            "anyOf": [{"type": "string"},
                      {"type": "object", "properties": props, "additionalProperties": False,
                       "oneOf": [{"required": ["path"]}, {"required": ["python"]}]}]}


def _data() -> dict[str, Any]:
    props = {"train": {"type": "string", "description": "training split: CSV (optionally compressed) or Parquet"},
             "test": {"type": "string", "description": "test split: CSV (optionally compressed) or Parquet"},
             "label": {"type": "string", "description": "the label column"},
             "positive_label": {"type": ["string", "number", "boolean"],
                                "description": "the label value of the positive class"},
             "sensitive": _strings("sensitive columns (one name or a list)"),
             "features": _strings("the columns the model sees (default: all but the label)"),
             "task": {"enum": ["classification", "regression"]},
             "personal": _strings("columns of personal data: redacted from every report")}
    assert set(props) == set(DATA_KEYS)
    return {"type": ["object", "null"], "properties": props, "additionalProperties": False,
            "description": "the data splits and what their columns mean"}


def _endpoint() -> dict[str, Any]:
    auth = {"type": "object", "additionalProperties": False,
            "description": "the credential, by environment-variable name only",
            "properties": {"header": {"type": "string", "default": "Authorization"},
                           "token_env": {"type": "string", "description": "the variable holding the token "
                                                                          "(secrets are never written in mlqa.yaml)"},
                           "scheme": {"type": "string", "default": "Bearer"}}}
    assert set(auth["properties"]) == set(AUTH_KEYS)
    props = {"url": {"type": "string", "description": "http://host:port; ${VAR} and ${VAR:-default} expand"},
             "protocol": {"enum": ["oip-v2", "json"], "default": "oip-v2"},
             "model": {"type": "string", "description": "the model name in the routes"},
             "auth": auth,
             "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_TIMEOUT_S,
                         "description": "per-request timeout, seconds (default 5)"},
             "replicas": {"type": "integer", "minimum": 1, "description": "replicas serving the URL (default 1)"}}
    assert set(props) == set(ENDPOINT_KEYS)
    return {"type": "object", "properties": props, "required": ["url"], "additionalProperties": False,
            "description": "the served model the latency, endpoint and cost checks call"}


def _gates() -> dict[str, Any]:
    waiver = {"type": "object", "additionalProperties": False, "required": list(WAIVER_KEYS),
              "properties": {"check": {"type": "string", "description": "check id or glob"},
                             "reason": {"type": "string"}, "owner": {"type": "string"},
                             "expires": {"type": "string", "format": "date", "description": "YYYY-MM-DD"}}}
    stage = {"type": ["object", "null"], "additionalProperties": False,
             "properties": {"blocking": _strings("globs of the checks that block (default: `*`)"),
                            "advisory": _strings("globs of the checks that are reported only"),
                            "waivers": {"type": "array", "items": waiver},
                            "on_error": {"enum": ["block", "advisory"], "default": "block"}}}
    assert set(stage["properties"]) == set(STAGE_KEYS)
    return {"type": "object", "additionalProperties": stage,
            "description": "stage name -> policy: blocking and advisory globs, waivers, on_error"}


def config_schema(registry: Registry) -> dict[str, Any]:
    """The JSON Schema (draft-07) of mlqa.yaml with the checks of `registry`."""
    from .config import presets, top_keys
    checks, definitions = _checks(registry)
    props: dict[str, Any] = {
        "version": {"const": 1, "description": "must be 1"},
        "include": {"description": "presets whose checks come first, or YAML files with a `checks:` list",
                    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
                    "examples": presets()},
        "model": _model("model"), "baseline": _model("baseline"), "data": _data(),
        "endpoint": _endpoint(), "image": {"type": "string", "description": "container image reference (trivy)"},
        "plugins": _strings("modules whose @mlqa.check functions to register"),
        "seed": {"type": "integer", "description": "seed of every random choice (default 0)"},
        "checks": checks, "gates": _gates(),
        "deepchecks": {"type": "object", "additionalProperties": False, "required": ["python"],
                       "properties": {"python": {"type": "string",
                                                 "description": "the interpreter of deepchecks' environment"}}},
    }
    missing = set(top_keys()) ^ set(props)
    assert not missing, f"the schema and the loader disagree on the top-level keys: {missing}"
    return {"$schema": "http://json-schema.org/draft-07/schema#", "$id": SCHEMA_ID,
            "title": "mlqa.yaml", "description": "An mlqa config: subjects, checks and gates.",
            "type": "object", "required": ["version"], "additionalProperties": False,
            "properties": {k: props[k] for k in top_keys()}, "definitions": definitions}


def builtin_registry() -> Registry:
    """The checks mlqa itself ships (its own entry points), whatever else is installed."""
    from importlib.metadata import entry_points
    reg = Registry()
    for ep in sorted(entry_points(group="mlqa.checks"), key=lambda e: e.name):
        if ep.value.split(":")[0].split(".")[0] == "mlqa":
            reg.add_object(ep.load())
    return reg


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def shipped_path() -> Path:
    """The schema of the built-in checks as installed with mlqa."""
    from ._assets import asset_dir
    return asset_dir("reports") / SHIPPED_NAME


if __name__ == "__main__":  # `python -m mlqa.schema`: the shipped file (make docs)
    import sys
    sys.stdout.write(render(config_schema(builtin_registry())))
