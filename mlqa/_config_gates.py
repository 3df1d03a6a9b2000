"""The `gates:` section: stages (blocking / advisory globs, on_error) and their waivers."""
from __future__ import annotations

import datetime as _dt
import fnmatch
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .yamldoc import LocatedYaml

STAGE_KEYS = ("blocking", "advisory", "waivers", "on_error")
WAIVER_KEYS = ("check", "reason", "owner", "expires")


@dataclass(frozen=True)
class Waiver:
    check: str
    reason: str
    owner: str
    expires: _dt.date
    line: int | None = None

    def matches(self, key: str) -> bool:
        return fnmatch.fnmatchcase(key, self.check) or fnmatch.fnmatchcase(key.split("[")[0], self.check)

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



def parse_gates(doc: LocatedYaml, value: Any) -> dict[str, Stage]:
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
            waivers.append(Waiver(check=str(w["check"]), reason=str(w["reason"]),
                                  owner=str(w["owner"]), expires=expires, line=doc.line(*wpath)))
        stages[str(name)] = Stage(
            name=str(name),
            blocking=tuple(doc.str_list(policy.get("blocking", ["*"] if "advisory" not in policy else []),
                                     path + ("blocking",))),
            advisory=tuple(doc.str_list(policy.get("advisory", []), path + ("advisory",))),
            waivers=tuple(waivers), on_error=on_error, line=doc.line(*path))
    return stages
