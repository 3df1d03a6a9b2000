"""The training tier (filled in below the serving tier): TorchElastic agents per node."""
from __future__ import annotations

from typing import Any


class TrainingJob:
    def __init__(self, sup: Any) -> None:
        self.sup = sup
        self.status = "idle"

    def agent_pids(self, node: str) -> list[int]:
        return []

    def node_started(self, node: str) -> None:
        pass

    def node_killed(self, node: str) -> None:
        pass

    def poll(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def start(self, overrides: dict) -> dict:
        raise RuntimeError("training is not available yet")

    def state(self) -> dict:
        return {"status": self.status}
