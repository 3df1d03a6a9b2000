"""Subjects adapt what users have — models, data sets, endpoints, images — to what checks need.

`Model` wraps any object with ``predict`` (and optionally ``predict_proba``) or a plain
callable; `Dataset` is a frame with its label and features. `SUBJECTS` is the one table of
the kinds of subject: the name a check `requires`, the mlqa.yaml key that declares it, what
to tell a user who did not, how its section is parsed, how the subject is built, and how
the decision identifies it. Adding a subject (the chaos engine's `stack`) is one row.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._config_subjects import DataConfig, ModelRef, parse_data, parse_endpoint, parse_image, parse_model_ref
from ._models import Model, RemoteModel, load_model, start_model
from .errors import SubjectError
from .files import sha256_file

__all__ = ["SUBJECTS", "Dataset", "Model", "RemoteModel", "SubjectKind", "load_model", "start_model",
           "section_parsers", "subject_info", "subject_kind", "subject_kinds", "subject_names"]

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .config import Config
    from .yamldoc import LocatedYaml


@dataclass(frozen=True)
class Dataset:
    """One split: the frame, its label column and the feature columns the model sees."""

    name: str
    frame: "pd.DataFrame"
    label: str | None
    features: tuple[str, ...]
    source: Path | None = None

    @property
    def X(self) -> "pd.DataFrame":
        return self.frame.loc[:, list(self.features)]

    @property
    def y(self) -> "pd.Series":
        if self.label is None:
            raise SubjectError(f"the {self.name} data has no label: set `data.label` in mlqa.yaml")
        return self.frame[self.label]

    def __len__(self) -> int:
        return len(self.frame)


# ------------------------------------------------------------------ the table of subjects
@dataclass(frozen=True)
class SubjectKind:
    """One kind of subject.

    `parse(doc, key, value, base)` validates the `key:` section of mlqa.yaml (`value` is
    None when absent); `build(config, name)` returns the loaded subject, None when it was
    not declared, and raises `SubjectError` when it was declared but cannot be loaded (the
    checks that need it are then `error` with that reason); `describe(config, name)` says
    how the decision identifies it (file hashes, URL, reference), as entries of `subject`.
    """

    name: str
    key: str
    declare: str
    parse: Callable[["LocatedYaml", str, Any, Path], Any]
    build: Callable[["Config", str], Any]
    describe: Callable[["Config", str], dict[str, Any]]


def _file_info(path: Path) -> dict[str, str]:
    return {"path": str(path), "sha256": sha256_file(path)}


def _build_model(config: "Config", name: str) -> Model | None:
    ref: ModelRef | None = config.section(name)
    if ref is None:
        return None
    try:
        return start_model(ref, config.dir, name=name)
    except SubjectError as exc:
        raise SubjectError(f"{config.path.name}:{ref.line}: {exc}") from None


def _describe_model(config: "Config", name: str) -> dict[str, Any]:
    ref: ModelRef | None = config.section(name)
    if ref is None:
        return {}
    info: dict[str, Any] = _file_info(ref.path) if ref.path else {"python": ref.python}
    return {name: {**info, "isolation": ref.isolation}}


def _build_split(config: "Config", name: str) -> Dataset | None:
    data: DataConfig = config.data
    path = getattr(data, name)
    if path is None:
        return None
    from .tables import read_frame
    try:
        frame = read_frame(path)
    except Exception as exc:  # an unreadable file: every check needing it is an error
        raise SubjectError(f"cannot read {path}: {exc}") from None
    features = tuple(data.features) if data.features is not None else \
        tuple(c for c in frame.columns if c != data.label)
    return Dataset(name=name, frame=frame, label=data.label, features=features, source=path)


def _describe_split(config: "Config", name: str) -> dict[str, Any]:
    path = getattr(config.data, name)
    return {f"data_{name}": _file_info(path)} if path is not None else {}


def _section(config: "Config", name: str) -> Any:
    return config.section(name)


def _describe_endpoint(config: "Config", name: str) -> dict[str, Any]:
    return {"endpoint": config.endpoint.get("url")} if config.endpoint else {}


def _describe_image(config: "Config", name: str) -> dict[str, Any]:
    return {"image": config.image} if config.image else {}


SUBJECTS: tuple[SubjectKind, ...] = (
    SubjectKind("model", "model", "declare `model: {path: ...}` in mlqa.yaml",
                parse_model_ref, _build_model, _describe_model),
    SubjectKind("baseline", "baseline", "declare the current champion as `baseline: {path: ...}`",
                parse_model_ref, _build_model, _describe_model),
    SubjectKind("train", "data", "declare `data.train`", parse_data, _build_split, _describe_split),
    SubjectKind("test", "data", "declare `data.test`", parse_data, _build_split, _describe_split),
    SubjectKind("endpoint", "endpoint", "declare `endpoint: {url: ...}`",
                parse_endpoint, _section, _describe_endpoint),
    SubjectKind("image", "image", "declare `image: REF`", parse_image, _section, _describe_image),
)


def subject_kinds() -> tuple[SubjectKind, ...]:
    """The rows of the table (read at call time, so a row added to SUBJECTS counts)."""
    return SUBJECTS


def subject_names() -> tuple[str, ...]:
    """What a check may name in `requires=`."""
    return tuple(kind.name for kind in subject_kinds())


def subject_kind(name: str) -> SubjectKind:
    for kind in subject_kinds():
        if kind.name == name:
            return kind
    raise KeyError(f"unknown subject {name!r}; subjects: {', '.join(subject_names())}")


def section_parsers() -> dict[str, Callable[["LocatedYaml", str, Any, Path], Any]]:
    """mlqa.yaml key -> the parser of its section (one per key, in table order)."""
    parsers: dict[str, Callable] = {}
    for kind in subject_kinds():
        parsers.setdefault(kind.key, kind.parse)
    return parsers


def subject_info(config: "Config") -> dict[str, Any]:
    """What was tested: the config (path and sha256), every model and data file with its
    sha256, the endpoint's URL, the image reference."""
    info: dict[str, Any] = {"config": str(config.path), "config_sha256": config.sha256}
    for kind in subject_kinds():
        info.update(kind.describe(config, kind.name))
    return info
