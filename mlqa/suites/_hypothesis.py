"""Running hypothesis' `find` reproducibly inside a check."""
from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..deadline import Deadline

_LOCK = threading.Lock()


@contextmanager
def without_local_constants() -> Iterator[None]:
    """Hypothesis sometimes draws "interesting" constants harvested from the source of
    every non-library module loaded in the process, so the same seed would search
    differently depending on what else happens to be imported. For reproducible results
    the search runs with that pool empty (and a private cache of it)."""
    try:
        from hypothesis.internal.conjecture import providers
        originals = (providers._get_local_constants, providers.CONSTANTS_CACHE)
        empty = type(providers._local_constants)()
    except (ImportError, AttributeError, TypeError):  # internals moved: search as hypothesis does
        yield
        return
    with _LOCK:
        providers._get_local_constants = lambda: empty
        providers.CONSTANTS_CACHE = {}
        try:
            yield
        finally:
            providers._get_local_constants, providers.CONSTANTS_CACHE = originals


def find_minimal(strategy: Any, condition: Callable[[Any], bool], *, max_examples: int, seed: int,
                 deadline: Deadline | None = None) -> Any | None:
    """The minimal example satisfying `condition` hypothesis shrinks to, or None. Each
    example first polls `deadline`: once it is cancelled, `Cancelled` ends the search."""
    if deadline is not None:
        inner = condition

        def condition(example: Any) -> bool:
            deadline.check()
            return inner(example)
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample
    config = settings(max_examples=max_examples, database=None, deadline=None,
                      suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink])
    try:
        with without_local_constants():
            return find(strategy, condition, settings=config, random=random.Random(seed))
    except NoSuchExample:
        return None
