"""From a finished run to its `CheckResult`: the measured figures (availability, latency
before/during/after and their ratios, time to detect and to recover, training figures), the
verdict's thresholds judged against them, and the timeline report.html draws."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..results import CheckResult
from ._expr import show_value
from ._probes import latency_stats

if TYPE_CHECKING:  # pragma: no cover
    from ._runner import Run

NAN = float("nan")


def _ok(x: float) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and not math.isnan(x)


def figures(run: "Run") -> dict[str, Any]:
    figs: dict[str, Any] = {}
    injected = [p for p in run.planned if p.injected_at is not None]
    reverted = [p.reverted_at for p in run.planned if p.reverted_at is not None]
    fault_a = min((p.injected_at for p in injected), default=NAN)
    fault_b = max(reverted, default=NAN)
    figs["faults_injected"] = float(len(injected))
    figs["faults_reverted"] = float(sum(1 for p in injected if p.reverted_at is not None))
    figs["stopped"] = bool(run.stopped)
    load = next((p for p in run.probes if p.kind == "load"), None)
    if load is not None and load.run is not None and load.run.t0 is not None:
        reqs = run.requests
        steady_a = run.t_method - run.exp.timing.steady

        def window(a: float, b: float) -> dict:
            if not (_ok(a) and _ok(b)) or b <= a:
                return latency_stats([], 0, overdue=True)
            return latency_stats(load.requests_in(a, b, reqs), load.run.scheduled(a, b), overdue=True)
        steady = window(steady_a, run.t_method)
        fault = window(fault_a, fault_b)
        after_a = run.t_recovered
        after = window(after_a, after_a + run.exp.timing.after) if _ok(after_a) else window(NAN, NAN)
        figs.update(availability=fault["success_rate"], success_rate_steady=steady["success_rate"],
                    success_rate_after=after["success_rate"], p50_steady=steady["p50_ms"],
                    p99_steady=steady["p99_ms"], p50_fault=fault["p50_ms"], p99_fault=fault["p99_ms"],
                    p50_after=after["p50_ms"], p99_after=after["p99_ms"],
                    requests_scheduled=fault["requests"] + fault["missing"],
                    requests_lost=(fault["requests"] + fault["missing"] - fault["ok"]) if _ok(fault_a) else NAN)
        figs["p99_ratio"] = figs["p99_fault"] / figs["p99_steady"] if figs["p99_steady"] else NAN
        figs["p50_ratio"] = figs["p50_fault"] / figs["p50_steady"] if figs["p50_steady"] else NAN
    figs["time_to_detect"] = _detect(run)
    figs["time_to_recover"] = _recover(run, load, fault_b)
    # every polled probe must have a sample after recovery: one without is not measured
    after_probes = [p.holds(run.t_recovered, math.inf)[0] if _ok(run.t_recovered) else None
                    for p in run.probes if p.kind not in ("load", "training")]
    figs["probes_failed_after"] = NAN if not _ok(run.t_recovered) or any(h is None for h in after_probes) else \
        float(sum(1 for h in after_probes if h is False))
    training = next((p for p in run.probes if p.kind == "training"), None)
    if training is not None:
        figs.update(training.figures())
    return figs


def _detect(run: "Run") -> float:
    """The slowest detection among the faults the gateway must notice (NaN: none such)."""
    from .backends.local import DETECTED
    times = []
    for p in run.planned:
        if p.spec.kind not in DETECTED or not p.affected or p.injected_at is None or run.observer is None:
            continue
        until = p.reverted_at or p.injected_at + p.spec.duration
        got = run.observer.detection(p.affected, p.injected_at, until, run.node_of)
        p.detected_at = got
        times.append(max(got - p.injected_at, 0.0) if got is not None else math.inf)
    return max(times) if times else NAN


def _recover(run: "Run", load: Any, last_revert: float) -> float:
    if not _ok(last_revert) or run.stopped:
        return NAN
    if not _ok(run.t_recovered):
        return math.inf
    marks = [last_revert]
    if run.observer is not None and run.initial_healthy:
        whole = next((at for at, health, _ in run.observer.samples
                      if at >= last_revert and run.observer.healthy(health) >= run.initial_healthy), None)
        marks.append(whole if whole is not None else run.t_recovered)
    if load is not None and load.run is not None:
        a, got = last_revert, None
        while a <= run.t_recovered:
            if load.judge(a, a + load.window, math.inf, run.requests)[0]:
                got = a
                break
            a += 0.1
        marks.append(got if got is not None else run.t_recovered)
    for p in run.probes:
        if p.kind not in ("load", "training"):
            marks.append(p.first_ok_after(last_revert) or run.t_recovered)
    return max(min(max(marks), run.t_recovered) - last_revert, 0.0)


def timeline(run: "Run") -> dict[str, Any]:
    """Per second since the probes started: success rate, p99, training step, replicas in
    rotation; and the fault windows."""
    import numpy as np
    t0 = run.t_start
    ends = [r.done for r in run.requests] + [p.reverted_at or 0 for p in run.planned]
    if run.observer is not None and run.observer.samples:
        ends.append(run.observer.samples[-1][0])
    end = max([e for e in ends if e] + [t0 + 1])
    n = max(int(math.ceil(end - t0)), 1)
    t = list(range(n))
    series = []
    load = next((p for p in run.probes if p.kind == "load"), None)
    if load is not None and load.run is not None and load.run.t0 is not None:
        success, p99 = [], []
        by_bin: dict[int, list] = {}
        for r in run.requests:
            by_bin.setdefault(int(r.intended - t0), []).append(r)
        for i in t:
            got = by_bin.get(i, [])
            due = load.run.scheduled(t0 + i, t0 + i + 1)
            success.append(round(100.0 * sum(1 for r in got if r.ok) / due, 2) if due else None)
            p99.append(round(float(np.percentile([max(r.done - r.intended, 0) * 1000 for r in got], 99)), 2)
                       if got else None)
        series += [{"name": "success rate", "unit": "%", "y": success}, {"name": "p99", "unit": "ms", "y": p99}]
    if run.observer is not None and run.observer.samples:
        healthy: list = [None] * n
        for at, health, _ in run.observer.samples:
            i = int(at - t0)
            if 0 <= i < n:
                healthy[i] = run.observer.healthy(health)
        series.append({"name": "replicas in rotation", "unit": "", "y": healthy})
    training = next((p for p in run.probes if p.kind == "training"), None)
    if training is not None and training.samples:
        steps: list = [None] * n
        worlds: list = [None] * n
        for at, s in training.samples:
            i = int(at - t0)
            if 0 <= i < n:
                steps[i] = (s.get("progress") or {}).get("step")
                worlds[i] = (s.get("progress") or {}).get("world_size")
        series += [{"name": "training step", "unit": "", "y": steps}, {"name": "world size", "unit": "", "y": worlds}]
    bands = [{"from": round(p.injected_at - t0, 2), "to": round((p.reverted_at or end) - t0, 2), "label": p.label}
             for p in run.planned if p.injected_at is not None]
    return {"t": t, "series": series, "bands": bands}


def judge_run(run: "Run", error: BaseException | None) -> CheckResult:
    exp = run.exp
    figs = figures(run) if not run.steady_error else {}
    detail = figs.pop("_detail", None)
    rows, breached, unmeasured = [], [], []
    for c in exp.verdict:
        observed = figs.get(c.name, NAN)
        other = figs.get(c.other, NAN) if c.other else None
        got = c.holds(observed, other)
        rhs = f"{c.other} = {show_value(other, c.unit)}" if c.other else show_value(c.value, c.unit)
        rows.append({"figure": c.name, "observed": show_value(observed, c.unit), "threshold": f"{c.op} {rhs}",
                     "holds": got})
        if got is False:
            breached.append(f"{c.name} = {show_value(observed, c.unit)} breaches `{c.text}`")
        elif got is None:
            unmeasured.append(c.name)
    tl = timeline(run) if _ok(run.t_start) else {"t": [], "series": [], "bands": []}
    evidence: dict[str, Any] = {
        "claim": exp.claim, "title": exp.title, "file": str(exp.path), "run_id": run.run_id,
        "target": exp.target.kind, "plan": _plan_rows(run), "verdict": rows, "events": run.events[-60:],
        "stop": {"reason": run.stopped, **run.stop_timing} if run.stopped else None, "leftovers": run.leftovers,
        "journal": [str(p) for p in run.journal.paths] if run.journal else [],
        "timeline": tl,
    }
    if detail is not None:
        evidence["training"] = detail
    try:
        from ..judge import timeline_chart
        if tl["series"]:
            evidence["charts"] = [timeline_chart(f"Timeline: {exp.title}", tl["t"], tl["series"], tl["bands"])]
    except ImportError:  # pragma: no cover - the chart kind ships with this package
        pass
    metrics = {k: (1.0 if v else 0.0) if isinstance(v, bool) else float(v) for k, v in figs.items()
               if isinstance(v, (int, float))}
    thresholds = {c.name: f"{c.op} {c.other if c.other else show_value(c.value, c.unit)}" for c in exp.verdict}

    def result(status: str, message: str) -> CheckResult:
        return CheckResult(status=status, message=message, metrics=metrics, thresholds=thresholds, evidence=evidence)
    if run.leftovers or not run.reverted_ok:
        left = "; ".join(f"{f.get('kind')} {f.get('target')}" for f in run.leftovers) or "a revert failed"
        return result("error", f"rollback incomplete — faults still active: {left}; run `mlqa chaos recover`")
    if run.steady_error:
        return result("error", f"steady state not met before the method (nothing was injected): {run.steady_error}")
    if error is not None:
        return result("error", f"the experiment could not run: {type(error).__name__}: {error}")
    never = [f"{p.label}: {p.error}" for p in run.planned if p.error]
    if never:
        return result("error", "; ".join(never))
    if run.stopped:
        tail = f"; {'; '.join(breached)}" if breached else ""
        return result("failed", f"aborted and rolled back: {run.stopped}{tail}")
    if breached:
        return result("failed", "; ".join(breached))
    if unmeasured:
        return result("error", f"could not measure {', '.join(unmeasured)}: the verdict cannot be judged")
    shown = ", ".join(f"{r['figure']} {r['observed']} ({r['threshold']})" for r in rows)
    return result("passed", f"{exp.title}: {shown}")


def _plan_rows(run: "Run") -> list[dict]:
    t0 = run.t_start if _ok(run.t_start) else 0.0
    out = []
    for p in run.planned:
        out.append({"fault": p.spec.kind, "targets": p.targets, "line": p.spec.line,
                    "injected_s": round(p.injected_at - t0, 3) if p.injected_at else None,
                    "reverted_s": round(p.reverted_at - t0, 3) if p.reverted_at else None,
                    "detected_s": round(p.detected_at - t0, 3) if p.detected_at else None,
                    "error": p.error or None})
    return out
