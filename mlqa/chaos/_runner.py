"""Running one experiment: open the target, resolve and guard the plan, lock the target,
measure the steady state, inject the method's faults on schedule (journaled first) while
watching the stop conditions, revert, measure the recovery, and judge the verdict. The
rollback runs on every way out — normal end, failed verdict, exception, stop condition,
the check's deadline, SIGINT and SIGTERM (both arrive as the deadline's cancel)."""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

from ..deadline import Cancelled, Deadline
from ..results import CheckResult
from ._journal import ChaosError, Journal, TargetLock, new_run_id, state_root
from ._observer import Observer
from ._plan import Planned, live_inventory, open_backend, plan_faults
from ._spec import Experiment
from .backends import Inventory, SelectorError

TICK_S = 0.05


class Run:
    def __init__(self, exp: Experiment, *, out_dir: Path | None, deadline: Deadline | None = None,
                 state_root_dir: Path | None = None) -> None:
        self.exp = exp
        self.out_dir = out_dir
        self.deadline = deadline or Deadline.never()
        self.state_root = state_root_dir or state_root()
        self.run_id = new_run_id()
        self.planned: list[Planned] = []
        self.probes: list[Any] = []
        self.observer: Observer | None = None
        self.journal: Journal | None = None
        self.events: list[dict] = []
        self.stopped: str = ""
        self.reverted_ok = True
        self.leftovers: list[dict] = []
        self.t_start = self.t_method = self.t_end_method = self.t_recovered = math.nan
        self.steady_error = ""
        self.stop_timing: dict[str, float] = {}
        self.requests: list = []
        self.node_of: dict[str, str] = {}
        self.initial_healthy = 0

    def event(self, what: str, **detail: Any) -> None:
        self.events.append({"t": round(time.time() - self.t_start, 3) if self.t_start == self.t_start else 0.0,
                            "event": what, **detail})

    # ------------------------------------------------------------------ main
    def execute(self) -> CheckResult:
        exp = self.exp
        try:
            backend = open_backend(exp, self.deadline)
        except SelectorError as exc:
            return CheckResult(status="error", message=f"the target could not be reached: {exc}")
        try:
            inv = live_inventory(exp, backend)
            self.planned = plan_faults(exp, backend, inv)
            lock = TargetLock(backend.lock_key(), self.state_root)
            lock.acquire(f"the target {backend.descriptor()}")
            try:
                return self._locked(backend, inv)
            finally:
                lock.release()
        finally:
            backend.close()

    def _locked(self, backend: Any, inv: Inventory) -> CheckResult:
        paths = [self.state_root / "journals" / f"{self.run_id}.jsonl"]
        if self.out_dir is not None:
            paths.append(Path(self.out_dir) / "chaos" / f"{self.exp.name}.journal.jsonl")
        self.journal = Journal(paths, self.run_id, fresh=tuple(paths[1:]))
        self.journal.write("begin", run_id=self.run_id, pid=os.getpid(), experiment=self.exp.name,
                           file=str(self.exp.path), target=backend.descriptor())
        error: BaseException | None = None
        try:
            self._phases(backend, inv)
        except (Cancelled, KeyboardInterrupt) as exc:
            error = exc
            self.event("cancelled", reason=str(exc) or type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - rolled back below, then reported as error
            error = exc
            self.event("exception", error=f"{type(exc).__name__}: {exc}")
        finally:
            # each step on its own: one that raises never skips the others
            cleanup_errors = []
            steps = (lambda: self._rollback(backend), self._stop_probes,
                     lambda: self.observer is not None and self.observer.stop(),
                     lambda: self._check_leftovers(backend),
                     lambda: self.journal.write("end", leftovers=self.leftovers, reverted_ok=self.reverted_ok))
            for step in steps:
                try:
                    step()
                except Exception as exc:  # noqa: BLE001 - reported below; the next step still runs
                    cleanup_errors.append(f"{type(exc).__name__}: {exc}")
            try:
                self.journal.close()
            except Exception as exc:  # noqa: BLE001
                cleanup_errors.append(f"{type(exc).__name__}: {exc}")
            if cleanup_errors:
                self.reverted_ok = False
                self.event("cleanup_failed", errors=cleanup_errors)
                if error is None:
                    error = ChaosError("cleaning up after the run failed: " + "; ".join(cleanup_errors))
        if isinstance(error, (Cancelled, KeyboardInterrupt)):
            raise error
        from ._verdict import judge_run
        return judge_run(self, error)

    def _stop_probes(self) -> None:
        """Stop every probe (locust, poll threads, the training job it started)."""
        for p in self.probes:
            try:
                got = p.stop()
                if p.kind == "load":
                    self.requests = got
            except Exception:  # noqa: BLE001 - stopping the others matters more
                pass

    def _check_leftovers(self, backend: Any) -> None:
        try:
            self.leftovers = backend.active_faults()
        except Exception as exc:  # noqa: BLE001
            self.leftovers = [{"kind": "unknown", "target": f"could not ask the target: {exc}"}]

    def _phases(self, backend: Any, inv: Inventory) -> None:
        from ._probes import LoadProbe, PollProbe, TrainingProbe
        exp, dl = self.exp, self.deadline
        urls = backend.urls()
        for spec in exp.steady_state:
            if spec.kind == "load":
                from ..endpoint import Endpoint
                if spec.params.get("url"):
                    token = os.environ.get(spec.params["token_env"]) if spec.params.get("token_env") else None
                    ep = Endpoint(url=spec.params["url"].rstrip("/"), protocol=spec.params["protocol"],
                                  model=spec.params["model"],
                                  header="Authorization", scheme="Bearer", token=token,
                                  timeout=spec.params["timeout"])
                    payload = spec.params.get("body") or {}
                else:
                    ep = backend.endpoint(spec.params["timeout"])
                    payload = spec.params.get("body") or backend.sample_payload()
                self.probes.append(LoadProbe(spec, ep, payload))
            elif spec.kind == "training":
                self.probes.append(TrainingProbe(spec, backend))
            else:
                self.probes.append(PollProbe(spec, urls))
        t = exp.timing
        training = next((p for p in self.probes if p.kind == "training"), None)
        horizon = t.before_timeout + t.steady + exp.length_s + t.recover_timeout + t.after + 60 + \
            (training.spec.params["timeout"] if training else 0)
        self.t_start = time.time()
        if hasattr(backend, "gateway_state"):
            gw = backend.gateway_state()
            self.node_of = {u["url"]: u["node"] for u in gw.get("upstreams", [])}
            self.initial_healthy = sum(1 for u in gw.get("upstreams", []) if u["healthy"])
        self.observer = Observer(backend)
        self.observer.start()
        for p in self.probes:
            p.start(horizon)
            if p.kind == "load" and p.run.pid:   # so `recover` can stop it should this runner die
                import psutil
                try:
                    started = psutil.Process(p.run.pid).create_time()
                    self.journal.write("probe_processes", pids=[(p.run.pid, started)])
                except psutil.Error:
                    pass
        self.event("probes_started", probes=[p.name for p in self.probes])
        # -- before: the steady state must hold for `steady` seconds
        load = next((p for p in self.probes if p.kind == "load"), None)
        limit = time.time() + t.before_timeout + t.steady
        since = None
        why: list[str] = []
        while True:
            dl.check()
            now = time.time()
            for p in self.probes:
                p.poll(now)
            if since is None and all(p.ready() for p in self.probes):
                since = max(now, (load.run.t0 + 0.5) if load is not None and load.run.t0 else now)
            if since is not None and now >= since + t.steady:
                verdicts = [(p, *p.holds(now - t.steady, now)) for p in self.probes]
                if all(v[1] is True for v in verdicts):
                    break
                why = [f"{p.name}: {detail}" for p, ok, detail in verdicts if ok is not True]
                if any(v[1] is False for v in verdicts):
                    since = now - t.steady + 0.5         # slide: the next full window
            if now > limit:
                self.steady_error = "; ".join(why) or "the probes never became ready"
                self.event("steady_state_not_met", why=self.steady_error)
                return
            dl.sleep(0.1)
        self.t_method = time.time()
        self.event("method_started")
        self._method(backend)
        self.t_end_method = time.time()
        if self.stopped:
            return
        self._recover(backend, training)

    def _method(self, backend: Any) -> None:
        exp, dl = self.exp, self.deadline
        training = next((p for p in self.probes if p.kind == "training"), None)
        load = next((p for p in self.probes if p.kind == "load"), None)
        breach_since: dict[str, float] = {}
        next_stop_check = 0.0
        max_len = exp.length_s + (training.spec.params["timeout"] if training else 0) + 30
        while True:
            dl.check()
            now = time.time()
            rel = now - self.t_method
            for p in self.probes:
                p.poll(now)
            for p in self.planned:
                if p.injected_at is None and not p.error:
                    due = (p.spec.at_step is None and rel >= p.spec.at) or \
                          (p.spec.at_step is not None and training is not None and training.step() >= p.spec.at_step)
                    if due:
                        self._inject(backend, p)
                    elif p.spec.at_step is not None and training is not None and training.done():
                        p.error = f"never injected: the job ended before step {p.spec.at_step}"
                        self.event("not_injected", fault=p.label, why=p.error)
                elif p.injected_at is not None and p.reverted_at is None and now >= p.injected_at + p.spec.duration:
                    self._revert(backend, p)
            if now >= next_stop_check and exp.stop_conditions:
                next_stop_check = now + 0.1
                reason, cond = self._stop_breached(load, now, breach_since)
                if cond is not None:
                    self.stopped = reason
                    self.event("stopped", reason=reason)
                    self._rollback(backend)
                    # the breach was observable once it had lasted `for`: how long the abort took
                    self.stop_timing = {"breached_since_s": round(breach_since[cond.text] - self.t_start, 3),
                                        "for_s": cond.for_s, "fired_s": round(now - self.t_start, 3),
                                        "rolled_back_s": round(time.time() - self.t_start, 3),
                                        "abort_latency_s": round(time.time() - breach_since[cond.text]
                                                                 - cond.for_s, 3)}
                    return
            if all(p.reverted_at is not None or p.error for p in self.planned):
                return
            if rel > max_len:
                raise ChaosError(f"the method did not finish within {max_len:.0f}s")
            dl.sleep(TICK_S)

    def _stop_breached(self, load: Any, now: float, since: dict[str, float]) -> tuple[str, Any]:
        """(why, the condition) of the first stop condition breached for its `for`; ("", None)
        when none is. An unmeasured figure (NaN: no request in the live window) neither
        confirms nor resets a breach's timer."""
        live = dict(load.live(now)) if load is not None else {}
        if self.observer is not None and self.observer.samples:
            live["healthy_replicas"] = float(self.observer.healthy(self.observer.samples[-1][1]))
        live["probes_failing"] = float(sum(1 for p in self.probes if p.kind not in ("load", "training")
                                          and p.failing_now()))
        for cond in self.exp.stop_conditions:
            c = cond.comparison
            got = c.holds(live.get(c.name))
            if got is None:
                continue
            if got:
                since.setdefault(cond.text, now)
                if now - since[cond.text] >= cond.for_s:
                    return f"stop condition `{cond.text}` breached (observed {c.show(live.get(c.name))})", cond
            else:
                since.pop(cond.text, None)
        return "", None

    def _inject(self, backend: Any, p: Planned) -> None:
        p.reverts = backend.reverts(p.spec.kind, p.targets)
        self.journal.write("inject", fault_id=p.id, label=p.label, kind=p.spec.kind, targets=p.targets,
                           reverts=p.reverts)
        p.injected_at = time.time()
        try:
            backend.inject(p.spec.kind, p.targets, p.spec.select, p.spec.params)
        except Exception as exc:  # noqa: BLE001 - still reverted (the journal has the reverts)
            p.error = f"injection failed: {type(exc).__name__}: {exc}"
            self.event("inject_failed", fault=p.label, error=p.error)
            self._revert(backend, p)
            raise ChaosError(f"{p.label}: {p.error}") from None
        self.journal.write("injected", fault_id=p.id)
        self.event("injected", fault=p.label)

    def _revert(self, backend: Any, p: Planned) -> None:
        failures = []
        for action in p.reverts:
            for attempt in range(3):
                try:
                    backend.revert(action)
                    break
                except Exception as exc:  # noqa: BLE001 - retried, then reported
                    if attempt == 2:
                        failures.append(f"{action}: {type(exc).__name__}: {exc}")
                    time.sleep(0.2)
        p.reverted_at = time.time()
        if failures:
            self.reverted_ok = False
            self.journal.write("revert_failed", fault_id=p.id, failures=failures)
            self.event("revert_failed", fault=p.label, failures=failures)
        else:
            self.journal.write("reverted", fault_id=p.id)
            self.event("reverted", fault=p.label)

    def _rollback(self, backend: Any) -> None:
        """Revert every fault injected and not yet reverted, at once; one that raises (its
        journal mark, say) never keeps the others injected. Raises the first error after
        trying them all."""
        first: Exception | None = None
        for p in self.planned:
            if p.injected_at is not None and p.reverted_at is None:
                try:
                    self._revert(backend, p)
                except Exception as exc:  # noqa: BLE001 - the next fault is still reverted
                    self.reverted_ok = False
                    first = first or exc
        if first is not None:
            raise first

    def _recover(self, backend: Any, training: Any) -> None:
        exp, dl = self.exp, self.deadline
        reverted = [p.reverted_at for p in self.planned if p.reverted_at]
        last = max(reverted) if reverted else time.time()
        limit = last + exp.timing.recover_timeout
        while True:
            dl.check()
            now = time.time()
            for p in self.probes:
                p.poll(now)
            # a polled probe must hold over its last few polls (and only since the reverse)
            held = [p.holds(max(last, now - p.settle_s()) if p.kind != "load" else last, now)[0]
                    for p in self.probes if p.kind != "training"]
            whole = self._whole(backend)
            if whole and all(h is True for h in held):
                self.t_recovered = now
                self.event("recovered")
                break
            if now > limit:
                self.event("not_recovered", within_s=exp.timing.recover_timeout)
                break
            dl.sleep(0.1)
        end_after = time.time() + exp.timing.after
        while time.time() < end_after or (training is not None and not training.done()):
            dl.check()
            now = time.time()
            for p in self.probes:
                p.poll(now)
            if training is not None and now > self.t_method + training.spec.params["timeout"]:
                self.event("training_timeout", timeout_s=training.spec.params["timeout"])
                break
            dl.sleep(0.1)
        # the `after` window's requests still in flight are waited for (up to their timeout),
        # or stopping the load would drop the slowest of them from p99_after
        load = next((p for p in self.probes if p.kind == "load"), None)
        if load is not None and load.ready() and self.t_recovered is not None:
            a, b = self.t_recovered, self.t_recovered + exp.timing.after
            settle = b + load.timeout + 0.5
            while time.time() < settle and len(load.requests_in(a, b)) < load.run.scheduled(a, b):
                dl.check()
                dl.sleep(0.1)

    def _whole(self, backend: Any) -> bool:
        """No fault active on the target, and the gateway has every replica back."""
        try:
            if backend.active_faults():
                return False
        except Exception:  # noqa: BLE001 - unreachable is not whole
            return False
        if self.observer is not None and self.observer.samples and self.initial_healthy:
            return self.observer.healthy(self.observer.samples[-1][1]) >= self.initial_healthy
        return True
