"""The `gates:` section: stages (blocking / advisory globs, on_error) and their waivers."""
from __future__ import annotations

import datetime as _dt
import difflib
import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .yamldoc import LocatedYaml

STAGE_KEYS = ("blocking", "advisory", "waivers", "on_error")
WAIVER_KEYS = ("check", "reason", "owner", "expires")
#: the glob that names every result, configured or recorded: valid even with no checks
MATCH_ALL = "*"


def glob_matches(key: str, pattern: str) -> bool:
    """Whether a stage glob names the result id `key`: the whole id (`suite.name[instance]`)
    or the id without its instance (`performance.metric*` names `performance.metric[auc]`).
    `*` and `?` are wildcards; brackets are literal, as in ids (`performance.metric[auc]`
    names that instance, not one of the letters a, u, c)."""
    literal = pattern.replace("[", "[[]")
    return fnmatch.fnmatchcase(key, literal) or fnmatch.fnmatchcase(key.split("[")[0], literal)


def any_glob_matches(key: str, patterns: Iterable[str]) -> bool:
    """Whether any of `patterns` names `key` (see `glob_matches`)."""
    return any(glob_matches(key, p) for p in patterns)


@dataclass(frozen=True)
class Waiver:
    check: str
    reason: str
    owner: str
    expires: _dt.date
    line: int | None = None

    def matches(self, key: str) -> bool:
        return glob_matches(key, self.check)

    def expired(self, today: _dt.date) -> bool:
        return today > self.expires


@dataclass(frozen=True)
class Stage:
    name: str
    blocking: tuple[str, ...] = ("*",)
    advisory: tuple[str, ...] = ()
    waivers: tuple[Waiver, ...] = ()
    on_error: str = "block"
    line: int | None = None



def parse_gates(doc: LocatedYaml, value: Any, checks: Sequence[str] | None = None) -> dict[str, Stage]:
    """The stages of `gates:`. With `checks` (the configured check keys, presets
    included), every glob of `blocking`, `advisory` and each waiver's `check` must name at
    least one of them (`*` always may): a typo is an error at its line, never a check left
    advisory or unwaived without a word."""
    value = doc.mapping(value, ("gates",), "stage name -> policy")
    stages = {}
    for name, policy in value.items():
        path = ("gates", name)
        policy = doc.mapping(policy if policy is not None else {}, path, "blocking, advisory, waivers")
        doc.known_keys(policy, STAGE_KEYS, path)
        on_error = policy.get("on_error", "block")
        if on_error not in ("block", "advisory"):
            raise doc.error("`on_error` must be block or advisory", *path, "on_error")
        waivers = []
        raw_waivers = policy.get("waivers", [])
        if not isinstance(raw_waivers, list):
            raise doc.error("`waivers` must be a list", *path, "waivers")
        for j, w in enumerate(raw_waivers):
            wpath = path + ("waivers", j)
            w = doc.mapping(w, wpath, "check, reason, owner, expires")
            doc.known_keys(w, WAIVER_KEYS, wpath)
            missing = [k for k in WAIVER_KEYS if not w.get(k)]
            if missing:
                raise doc.error(f"a waiver needs {', '.join(WAIVER_KEYS)}; missing: {', '.join(missing)}",
                                *wpath, hint="waivers are accountable: who, why, and until when")
            expires = w["expires"]
            if isinstance(expires, str):
                try:
                    expires = _dt.date.fromisoformat(expires)
                except ValueError:
                    raise doc.error(f"`expires` must be a date (YYYY-MM-DD), got {expires!r}",
                                    *wpath, "expires") from None
            if isinstance(expires, _dt.datetime):
                expires = expires.date()
            if not isinstance(expires, _dt.date):
                raise doc.error("`expires` must be a date (YYYY-MM-DD)", *wpath, "expires")
            if not isinstance(w["check"], str):
                raise doc.error("a waiver's `check` is a check id or glob (a string)", *wpath, "check")
            if checks is not None:
                _must_name_a_check(doc, w["check"], checks, wpath + ("check",),
                                   f"gates.{name}.waivers[{j}].check")
            waivers.append(Waiver(check=str(w["check"]), reason=str(w["reason"]),
                                  owner=str(w["owner"]), expires=expires, line=doc.line(*wpath)))
        globs = {}
        for key, default in (("blocking", ["*"] if "advisory" not in policy else []), ("advisory", [])):
            raw = policy.get(key, default)
            globs[key] = tuple(doc.str_list(raw, path + (key,)))
            if checks is not None:
                for i, glob in enumerate(globs[key]):
                    _must_name_a_check(doc, glob, checks, path + (key,) + ((i,) if isinstance(raw, list) else ()),
                                       f"gates.{name}.{key}")
        stages[str(name)] = Stage(name=str(name), blocking=globs["blocking"], advisory=globs["advisory"],
                                  waivers=tuple(waivers), on_error=on_error, line=doc.line(*path))
    return stages


def _must_name_a_check(doc: LocatedYaml, glob: str, checks: Sequence[str], path: tuple, where: str) -> None:
    """Raise at `path` (`where`, as the message says it) when `glob` (not `*`) names none
    of the configured `checks`."""
    if glob == MATCH_ALL or any(glob_matches(key, glob) for key in checks):
        return
    raise doc.error(f"`{glob}` ({where}) matches no configured check", *path,
                    hint=_nearest_hint(glob, checks))


def _nearest_hint(glob: str, checks: Sequence[str]) -> str:
    """The nearest check keys, ids and suite globs to a glob that named none, and the rule."""
    ids = {key.split("[")[0] for key in checks}
    candidates = sorted(set(checks) | ids | {f"{i.split('.')[0]}.*" for i in ids})
    near = difflib.get_close_matches(glob, candidates, n=3, cutoff=0.6)
    if near:
        lead = "did you mean " + " or ".join(f"`{n}`" for n in near) + "?"
    elif checks:
        shown = ", ".join(list(checks)[:12]) + (", ..." if len(checks) > 12 else "")
        lead = f"configured checks: {shown}"
    else:
        lead = "no checks are configured"
    return (f"{lead} (a stage glob must name a check of `checks:` or of an included preset; "
            f"`*` also covers results recorded by hand-written tests)")
