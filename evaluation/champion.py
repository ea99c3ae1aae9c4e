"""Choose one champion model per series from a metrics frame (one row per ``unique_id, model``).

The rule, per series, on the ``primary`` metric (lower is better):

1. A challenger is *eligible* when its value is finite and strictly lower than the baseline's by
   more than ``min_improvement`` relative: ``value < baseline * (1 - min_improvement)``
   (default 1%).
2. Among eligible models the lowest value wins; models within ``tie_tolerance`` relative of
   that lowest value (``value <= best + tie_tolerance * |best|``, default 0.5%) count as tied,
   and the tie goes to the lowest ``complexity``, then the lower value, then the model name.
3. With no eligible model (none beats the baseline, the baseline's value is missing or not
   finite, e.g. MASE of a constant series) the baseline stays champion, and the reason says why.
4. A *preferred* model (optional ``prefer``, the engine passes the ensemble) that is eligible
   wins unless the best eligible model beats it by more than ``prefer_margin`` relative (5%): on
   a few folds, one model picked per series is a noisy choice, and a combination of models is
   the safer bet unless another model is clearly better.
5. Interval quality (optional ``coverage``: a coverage column, its nominal level and a
   tolerance): a challenger whose backtest coverage is further than the tolerance from nominal
   is not eligible, however good its point forecast (missing coverage does not disqualify).

The reason is one human-readable line: ``"lightgbm: MASE 0.71 vs seasonal_naive 1.02 (-30%);
p10-p90 covered 78% (nominal 80%)"``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from capplan.core.contracts import ID, MODEL

CHAMPION = "champion"
REASON = "reason"


def _fmt(values: pd.Series) -> pd.Series:
    return values.map(lambda v: f"{v:.3g}")


def _pct(values: pd.Series, base: pd.Series) -> pd.Series:
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = (values / base - 1.0) * 100.0
    return pct.map(lambda p: f"{p:+.0f}%" if not abs(p) < 10 else f"{p:+.1f}%")


def _check(metrics: pd.DataFrame, complexity: dict[str, int], primary: str, baseline: str) -> None:
    missing = [c for c in (ID, MODEL, primary) if c not in metrics.columns]
    if missing:
        raise KeyError(f"metrics frame lacks columns {missing}; has {list(metrics.columns)}")
    dup = metrics.duplicated([ID, MODEL])
    if dup.any():
        raise ValueError(
            "metrics frame must have one row per (unique_id, model) (score without horizon buckets); "
            f"repeated: {metrics.loc[dup, [ID, MODEL]].head(5).to_dict('records')}"
        )
    models = set(metrics[MODEL].astype(str)) - {baseline}
    unknown = sorted(models - set(complexity))
    if unknown:
        raise ValueError(f"no complexity given for models {unknown}; complexity has {sorted(complexity)}")


def _winners(
    cand: pd.DataFrame,
    primary: str,
    min_improvement: float,
    tie_tolerance: float,
    prefer: tuple[str, float] | None = None,
) -> pd.DataFrame:
    """Per series the winning eligible challenger, with the lowest-value model it tied with (or
    that the preferred model was kept against)."""
    base = cand["_base"]
    ok = np.isfinite(cand[primary]) & np.isfinite(base) & (cand[primary] < base * (1.0 - min_improvement))
    ok &= cand["_cov_ok"]
    elig = cand[ok].copy()
    best = elig.groupby(ID, observed=True)[primary].transform("min")
    keep = elig[primary] <= best + tie_tolerance * best.abs()
    if prefer is not None:
        name, margin = prefer
        preferred = (elig[MODEL] == name) & (elig[primary] <= best + margin * best.abs())
        has = preferred.groupby(elig[ID], observed=True).transform("any")
        keep = keep.where(~has, preferred)
    elig = elig[keep]
    elig = elig.sort_values([ID, "_complexity", primary, MODEL], kind="stable")
    first = elig.groupby(ID, observed=True).head(1)
    lowest = cand[ok].sort_values([ID, primary, MODEL]).groupby(ID, observed=True).head(1)
    return first.merge(
        lowest[[ID, MODEL, primary]].rename(columns={MODEL: "_best_model", primary: "_best"}), on=ID
    )


def _best_challenger(cand: pd.DataFrame, primary: str) -> pd.DataFrame:
    finite = cand[np.isfinite(cand[primary])]
    first = finite.sort_values([ID, primary, MODEL]).groupby(ID, observed=True).head(1)
    cols = {MODEL: "_chal", primary: "_chal_value", "_cov": "_chal_cov", "_cov_ok": "_chal_cov_ok"}
    return first[[ID, *cols]].rename(columns=cols)


def _coverage_ok(m: pd.DataFrame, coverage: tuple[str, float, float] | None) -> None:
    """Adds ``_cov`` (the coverage) and ``_cov_ok`` (within tolerance of nominal, or unknown)."""
    if coverage is None or coverage[0] not in m.columns:
        m["_cov"], m["_cov_ok"] = np.nan, True
        return
    col, nominal, tol = coverage
    m["_cov"] = pd.to_numeric(m[col], errors="coerce")
    m["_cov_ok"] = ((m["_cov"] - nominal).abs() <= tol + 1e-12) | m["_cov"].isna()


def choose_champions(
    metrics_frame: pd.DataFrame,
    complexity: dict[str, int],
    primary: str = "mase",
    baseline: str = "seasonal_naive",
    min_improvement: float = 0.01,
    tie_tolerance: float = 0.005,
    coverage: tuple[str, float, float] | None = None,
    prefer: tuple[str, float] | None = None,
) -> pd.DataFrame:
    """One row per series: ``unique_id, champion, reason, <primary>, baseline_<primary>``, then the
    champion's other metric columns. ``coverage``: ``(column, nominal, tolerance)``, e.g.
    ``("coverage_p10_p90", 0.8, 0.15)``; ``prefer``: ``(model, margin)``, e.g. ``("ensemble",
    0.05)``. See the module docstring for the rule.

    (Seven parameters: the metrics frame plus the rule's documented, defaulted knobs; each is a line of the rule.)
    """
    _check(metrics_frame, complexity, primary, baseline)
    m = metrics_frame.copy()
    m[MODEL] = m[MODEL].astype(str)
    _coverage_ok(m, coverage)
    base_col = f"baseline_{primary}"
    base = m.loc[m[MODEL] == baseline, [ID, primary]].rename(columns={primary: "_base"})
    m = m.merge(base, on=ID, how="left")
    cand = m[m[MODEL] != baseline].copy()
    cand["_complexity"] = cand[MODEL].map(complexity)
    win = _winners(cand, primary, min_improvement, tie_tolerance, prefer)

    out = pd.DataFrame({ID: m[ID].drop_duplicates().to_numpy()})
    out = out.merge(base, on=ID, how="left")
    out = out.merge(win[[ID, MODEL, primary, "_best_model", "_best", "_cov"]], on=ID, how="left")
    out = out.merge(_best_challenger(cand, primary), on=ID, how="left")
    won = out[MODEL].notna()
    out[CHAMPION] = out[MODEL].where(won, baseline)
    out[REASON] = _reasons(out, won, primary, baseline, min_improvement, tie_tolerance, prefer)
    if coverage is not None:
        out[REASON] = _coverage_reasons(out, won, coverage)

    values = m.rename(columns={MODEL: CHAMPION}).drop(columns=["_base", "_cov", "_cov_ok"])
    out = out[[ID, CHAMPION, REASON, "_base"]].rename(columns={"_base": base_col})
    out = out.merge(values, on=[ID, CHAMPION], how="left")
    rest = [c for c in out.columns if c not in (ID, CHAMPION, REASON, primary, base_col)]
    return out[[ID, CHAMPION, REASON, primary, base_col, *rest]].sort_values(ID, ignore_index=True)


def _reasons(
    out: pd.DataFrame,
    won: pd.Series,
    primary: str,
    baseline: str,
    min_improvement: float,
    tie_tolerance: float,
    prefer: tuple[str, float] | None = None,
) -> pd.Series:
    name = primary.upper()
    b = out["_base"]
    versus = f" vs {baseline} " + _fmt(b)
    win_text = (
        out[MODEL].fillna("")
        + f": {name} "
        + _fmt(out[primary])
        + versus
        + " ("
        + _pct(out[primary], b)
        + ")"
    )
    tie = won & (out["_best_model"] != out[MODEL])
    tie_text = (
        f"; within {tie_tolerance:.1%} of "
        + out["_best_model"].fillna("")
        + " ("
        + _fmt(out["_best"])
        + "), chose the simpler"
    )
    if prefer is not None:
        kept_text = (
            "; preferred: "
            + out["_best_model"].fillna("")
            + " ("
            + _fmt(out["_best"])
            + f") does not beat it by more than {prefer[1]:.0%}"
        )
        preferred = tie & (out[MODEL] == prefer[0])
        win_text = win_text.where(~preferred, win_text + kept_text)
        tie = tie & ~preferred
    win_text = win_text.where(~tie, win_text + tie_text)
    kept = f"{baseline} kept: "
    no_base = kept + f"no finite {name} for {baseline} to compare against"
    no_chal = kept + f"no other model has a finite {name}"
    not_better = (
        kept
        + "best challenger "
        + out["_chal"].fillna("")
        + f" {name} "
        + _fmt(out["_chal_value"])
        + versus
        + " ("
        + _pct(out["_chal_value"], b)
        + f") does not beat it by more than {min_improvement:.0%}"
    )
    base_ok = np.isfinite(b.astype("float64"))
    conditions = [won.to_numpy(), ~base_ok.to_numpy(), out["_chal"].isna().to_numpy()]
    return pd.Series(np.select(conditions, [win_text, no_base, no_chal], default=not_better), index=out.index)


def _interval_name(col: str) -> str:
    return col.removeprefix("coverage_").replace("_", "-")


def _coverage_reasons(out: pd.DataFrame, won: pd.Series, coverage: tuple[str, float, float]) -> pd.Series:
    """The reason with the winner's interval coverage, or why the best challenger was refused."""
    col, nominal, tol = coverage
    name = _interval_name(col)
    pct = out["_cov"].map(lambda v: f"{v:.0%}")
    winner = out[REASON] + f"; {name} covered " + pct + f" (nominal {nominal:.0%})"
    refused = (~won) & (out["_chal_cov_ok"].eq(False))
    chal_pct = out["_chal_cov"].map(lambda v: f"{v:.0%}")
    guard = (
        out[REASON] + "; " + out["_chal"].fillna("") + f" {name} covered " + chal_pct
        + f", outside nominal {nominal:.0%} +/- {tol * 100:.0f} points"
    )  # fmt: skip
    text = out[REASON].where(~(won & out["_cov"].notna()), winner)
    return text.where(~refused, guard)
