"""The gateway's own view during a run, sampled every 100 ms: which replicas are in rotation
and since when by its clock (time to detect, the timeline's replicas in rotation)."""
from __future__ import annotations

import threading
import time
from typing import Any


class Observer:
    """The gateway's own view, every 100 ms: which replicas are in rotation (and since when,
    by its clock), for time-to-detect and the timeline; the stack's faults, less often."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.samples: list[tuple[float, dict[str, bool], dict[str, float]]] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mlqa-chaos-observer", daemon=True)

    def start(self) -> None:
        if hasattr(self.backend, "gateway_state"):
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            at = time.time()
            try:
                gw = self.backend.gateway_state()
                health: dict[str, bool] = {}
                changed: dict[str, float] = {}
                for u in gw.get("upstreams", []):
                    key = u["url"]
                    health[key] = bool(u["healthy"])
                    changed[key] = float(u.get("changed_at") or at)
                self.samples.append((at, health, changed))
            except Exception:  # noqa: BLE001 - the gateway may be restarting: a gap in the timeline
                self.errors += 1
            self._stop.wait(0.1)

    def healthy(self, sample: dict[str, bool]) -> int:
        return sum(1 for v in sample.values() if v)

    def detection(self, nodes: set[str], since: float, until: float, node_of: dict[str, str]) -> float | None:
        """When every replica of `nodes` was out of rotation, by the gateway's clock."""
        for at, health, changed in self.samples:
            if at < since or at > until + 0.5:
                continue
            urls = [u for u in health if node_of.get(u) in nodes]
            if urls and all(not health[u] for u in urls):
                return max(changed[u] for u in urls)
        return None

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
