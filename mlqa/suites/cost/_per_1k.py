"""cost.per_1k_predictions: what a thousand predictions cost at the measured capacity."""
from __future__ import annotations

from typing import Annotated

from ...registry import check
from ...results import CheckResult
from ...context import CheckContext
from ...judge import fmt
from ...params import Positive, Range
from ..latency import CapacitySettings, capacity_chart, measured, probe_table


def _validate(params: dict) -> None:
    for key in ("price_per_hour", "max_usd"):
        if not isinstance(params.get(key), (int, float)) or params[key] <= 0:
            raise ValueError(f"`{key}` must be a positive number of US dollars")
    u = params.get("utilization", 1.0)
    if not isinstance(u, (int, float)) or not 0 < u <= 1:
        raise ValueError("`utilization` is the share of capacity the fleet runs at, in (0, 1]")


def settings_for(ctx: CheckContext) -> CapacitySettings:
    """The search settings of the run's `latency.capacity` entry (so both share one
    measurement), or the defaults when the config has none."""
    for inst in (ctx.config.checks if ctx.config else ()):
        if inst.check_id == "latency.capacity":
            return CapacitySettings.from_params(inst.params)
    return CapacitySettings()


@check("cost.per_1k_predictions", requires=("endpoint", "test"), validate=_validate)
def per_1k_predictions(ctx: CheckContext, *, price_per_hour: Positive, max_usd: Positive,
                       utilization: Annotated[float, Range(0.0, 1.0, lo_open=True)] = 1.0) -> CheckResult:
    """US dollars per 1,000 predictions: the serving fleet's declared `price_per_hour` over
    the predictions it can serve in an hour at the capacity `latency.capacity` measures
    (the highest arrival rate at which the SLO holds, times rows per request), at
    `utilization` of that capacity. It uses the search settings (SLO, probes) of the run's
    `latency.capacity` entry and shares its measurement; without one it searches at the
    defaults. Fails above `max_usd`, and when the SLO holds at no rate probed (no
    prediction meets it, so its cost is unbounded).

    Parameters:
    price_per_hour: what the fleet behind the endpoint costs per hour, all replicas, in USD
    max_usd: the most 1,000 predictions may cost, in USD
    utilization: share of the measured capacity the fleet is run at, for headroom (default 1.0: priced at capacity, the lowest cost)
    """
    settings = settings_for(ctx)
    found = measured(ctx, settings)
    if isinstance(found, CheckResult):
        return found
    cap = found["capacity_rps"]
    per_hour = cap * settings.rows_per_request * utilization * 3600
    evidence = {"endpoint": found["endpoint"], "replicas": found["replicas"], "slo": list(settings.slo),
                "price_per_hour": price_per_hour, "utilization": utilization,
                "predictions_per_hour": per_hour, "capacity_capped": found["capped"],
                "probes": probe_table(found["probes"]),
                "charts": [capacity_chart(found["probes"], settings.slo, cap, found["capped"])]}
    thresholds = {"usd_per_1k_predictions": f"<= {fmt(max_usd)}"}
    if per_hour == 0:
        return CheckResult(status="failed", thresholds=thresholds, evidence=evidence,
                           metrics={"usd_per_1k_predictions": float("inf"), "capacity_rps": 0.0},
                           message=f"the SLO ({', '.join(settings.slo)}) holds at no rate probed from "
                                   f"{settings.start}: no prediction meets it, so its cost is unbounded")
    usd = price_per_hour / per_hour * 1000
    metrics = {"usd_per_1k_predictions": usd, "capacity_rps": float(cap), "predictions_per_hour": per_hour,
               "price_per_hour": float(price_per_hour)}
    bound = " at most" if found["capped"] else ""
    how = (f"${fmt(price_per_hour)}/h over {fmt(per_hour)} predictions/h ({fmt(cap)} req/s"
           f"{f' x {settings.rows_per_request} rows' if settings.rows_per_request > 1 else ''}"
           f"{f' at {fmt(100 * utilization)}% utilization' if utilization < 1 else ''})")
    if usd > max_usd:
        return CheckResult(status="failed", metrics=metrics, thresholds=thresholds, evidence=evidence,
                           message=f"${fmt(usd)}{bound} per 1k predictions exceeds max_usd ${fmt(max_usd)}: {how}")
    return CheckResult(status="passed", metrics=metrics, thresholds=thresholds, evidence=evidence,
                       message=f"${fmt(usd)}{bound} per 1k predictions (max ${fmt(max_usd)}): {how}")
