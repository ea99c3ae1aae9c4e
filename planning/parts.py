"""The plan's per-service work, computable by service batch: :func:`service_parts` and its merge.

Most of a plan's cost is in two pieces that look at one service at a time: the autoscaling replay
(each service's last ``[autoscaling] replay_days`` through five policies, :mod:`.scaling_plan`)
and the long-range trend fits with their backtest (each service/resource's daily peaks,
:mod:`.longrange`). At 1,000 series they were about 80% of the plan's CPU. :func:`service_parts`
computes both for any subset of services; a flow splits the plan's inputs into service batches
(:func:`split_inputs`, whole services, about ``batch_size`` series each), computes the parts of
each batch in a worker, :func:`merge_parts` them and hands them to
:func:`~capplan.planning.build_plan`, which builds everything else from the whole inputs. The
result is the plan of one process exactly: every piece is per service (``tests/planning``
compares them), and the one global figure they share, the replay's first hour, comes from the
whole inputs (:func:`replay_start`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import pandas as pd

from capplan.core.batches import series_batches
from capplan.core.bundles import PlanInputs
from capplan.core.config import Config
from capplan.core.contracts import quantile_columns

from .demand import resources
from .longrange import KEYS, fit_all, resource_peaks, score_long_range
from .scaling_plan import replay_services
from .sizing import split_plannable

MIN_BATCH_SERIES = 250  # a smaller plan is not worth a worker's start (about 10 s of imports)


@dataclass
class ServiceParts:
    """Per-service pieces of a plan: the autoscaling replay's scores and the services it skipped
    (one line each, with why), the long-range fits per ``(service, resource)`` and their backtest."""

    replay: pd.DataFrame
    skipped: list[str] = field(default_factory=list)
    fits: dict = field(default_factory=dict)
    accuracy: pd.DataFrame = field(default_factory=pd.DataFrame)


def usage(history: pd.DataFrame, series: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Observed usage per ``service, resource, ds`` (regions summed): what right-sizing and the
    autoscaling replay read."""
    if history.empty:
        return pd.DataFrame(columns=["service", "resource", "ds", "y"])
    h = history.merge(series[["unique_id", "service", "metric"]], on="unique_id")
    h["resource"] = h["metric"].map(resources(cfg, series))
    h = h[h["resource"].notna()]
    return h.groupby(["service", "resource", "ds"], as_index=False)["y"].sum()


def replay_start(use: pd.DataFrame, cfg: Config) -> pd.Timestamp | None:
    """The replay reads usage after this: ``replay_days`` plus the week its first forecast looks
    back on, before the newest usage of any service."""
    if use.empty:
        return None
    return use["ds"].max() - pd.Timedelta(days=cfg.autoscaling.replay_days + 7)


def long_range_peaks(inputs: PlanInputs, cfg: Config, inventory: pd.DataFrame) -> pd.DataFrame:
    """``service, resource, ds, y``: the daily peaks the long-range plan fits, of the sized pairs."""
    peaks = inputs.daily_peaks if len(inputs.daily_peaks) else _peaks_from_history(inputs.history)
    pk = resource_peaks(peaks, inputs.series, resources(cfg, inputs.series))
    return pk.merge(inventory[KEYS], on=KEYS)


def _peaks_from_history(history: pd.DataFrame) -> pd.DataFrame:
    if history.empty:
        return pd.DataFrame(columns=["unique_id", "ds", "y"])
    h = history.assign(ds=history["ds"].dt.floor("D"))
    return h.groupby(["unique_id", "ds"], as_index=False)["y"].max()


def plannable_inventory(inventory: pd.DataFrame) -> pd.DataFrame:
    """The inventory rows a plan can size (:func:`.sizing.split_plannable`)."""
    return split_plannable(pd.DataFrame(columns=KEYS), inventory)[1]


def service_parts(inputs: PlanInputs, cfg: Config, start: pd.Timestamp | None = None) -> ServiceParts:
    """The replay and long-range pieces of the services in ``inputs``; ``start``: the replay's
    first hour (:func:`replay_start` of the whole plan's usage; default: of these inputs)."""
    inv = plannable_inventory(inputs.inventory)
    use = usage(inputs.history, inputs.series, cfg)
    start = replay_start(use, cfg) if start is None else start
    recent = use if start is None else use[use["ds"] > start]
    replay, skipped = replay_services(recent, inv, cfg.autoscaling, quantile=cfg.planning.scaling_quantile)
    if cfg.planning.long_range_months == 0:
        return ServiceParts(replay, skipped)
    pk = long_range_peaks(inputs, cfg, inv)
    qcols = quantile_columns(inputs.forecasts.columns)
    return ServiceParts(
        replay, skipped, fit_all(pk, inputs.events), score_long_range(pk, inputs.events, qcols)
    )


def merge_parts(parts: list[ServiceParts]) -> ServiceParts:
    """One :class:`ServiceParts` from those of disjoint service batches, in service order."""
    from .scaling_plan import REPLAY_COLUMNS

    replays = [p.replay for p in parts if len(p.replay)]
    replay = pd.concat(replays, ignore_index=True) if replays else pd.DataFrame(columns=list(REPLAY_COLUMNS))
    accuracies = [p.accuracy for p in parts if len(p.accuracy)]
    accuracy = (
        pd.concat(accuracies, ignore_index=True)
        if accuracies
        else (parts[0].accuracy if parts else pd.DataFrame())
    )
    fits = {k: v for p in parts for k, v in p.fits.items()}
    return ServiceParts(
        replay.sort_values(["service"], kind="stable", ignore_index=True) if len(replay) else replay,
        sorted((line for p in parts for line in p.skipped), key=lambda line: line.partition(": ")[0]),
        dict(sorted(fits.items())),
        accuracy.sort_values(KEYS, kind="stable", ignore_index=True) if len(accuracy) else accuracy,
    )


def split_inputs(inputs: PlanInputs, batch_size: int | None) -> list[PlanInputs]:
    """``inputs`` in service batches of about ``batch_size`` series each (whole services; the
    batches of :func:`capplan.core.batches.series_batches` over service names, weighted by their
    series): each batch's series, history, peaks, forecasts and inventory; events as they are."""
    series = inputs.series
    per_service = series.groupby("service")["unique_id"].size()
    if not batch_size or len(series) <= batch_size or len(per_service) < 2:
        return [inputs]
    width = max(1, round(batch_size / max(per_service.mean(), 1.0)))
    out = []
    for services in series_batches(per_service.index, width):
        uids = set(series.loc[series["service"].isin(services), "unique_id"])

        def pick(frame: pd.DataFrame, by: str = "unique_id", _ids=uids, _svc=services) -> pd.DataFrame:
            if by not in frame:
                return frame
            keep = frame[by].isin(_ids if by == "unique_id" else _svc)
            return frame[keep].reset_index(drop=True)

        out.append(
            replace(
                inputs,
                forecasts=pick(inputs.forecasts),
                series=pick(series),
                inventory=pick(inputs.inventory, "service"),
                history=pick(inputs.history),
                daily_peaks=pick(inputs.daily_peaks),
            )
        )
    return out


def partition(inputs: PlanInputs, cfg: Config, workers: int) -> tuple[list[PlanInputs], pd.Timestamp | None]:
    """The service batches of a plan on ``workers`` workers (``[orchestration] batch_size`` series
    each at most, and as many batches as a multiple of ``workers`` so that none waits alone at the
    end; at least :data:`MIN_BATCH_SERIES` each; the parts do not depend on the batching) and the
    replay's first hour over all of them."""
    n, workers = len(inputs.series), max(workers, 1)
    widest = max(1, min(cfg.orchestration.batch_size or n, math.ceil(n / workers)))
    count = math.ceil(math.ceil(n / widest) / workers) * workers  # batches: a multiple of the workers
    batches = split_inputs(inputs, max(MIN_BATCH_SERIES, math.ceil(n / max(count, 1))))
    return batches, (
        replay_start(usage(inputs.history, inputs.series, cfg), cfg) if len(batches) > 1 else None
    )
