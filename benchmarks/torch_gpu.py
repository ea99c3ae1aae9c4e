"""N-HiTS backtest on CPU versus GPU: the same engine call, only the accelerator differs.

Runs the demo company's hourly series (30 series, the last 60 days, horizon 14 days, 2 folds)
through ``engine.backtest_one("nhits", ...)`` with Lightning's accelerator forced to ``cpu`` and,
when CUDA is available, to ``gpu``; prints seconds, the ratio and the MASE of each (they should
agree closely: same seed, same data). Used on the lent GPU machine (see README "GPU") and
runnable anywhere: without CUDA it reports the CPU figure only.

    python benchmarks/torch_gpu.py [--epochs 10] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _import_capplan() -> None:
    """Use the installed capplan, or map the source folders into a temporary package."""
    try:
        import capplan.evaluation.engine  # noqa: F401

        return
    except ImportError:
        pass
    pkg = Path(tempfile.mkdtemp()) / "capplan"
    pkg.mkdir()
    (pkg / "__init__.py").write_text((ROOT / "capplan" / "__init__.py").read_text())
    for sub in ("core", "features", "models", "evaluation", "pipelines", "planning", "warehouse"):
        os.symlink(ROOT / sub, pkg / sub)
    sys.path.insert(0, str(pkg.parent))


def _data(days: int):
    import pandas as pd

    from capplan.core.contracts import make_unique_id
    from capplan.demo import generate_demo
    from capplan.features import fill_gaps

    m = generate_demo(seed=7, size="small").metrics
    df = pd.DataFrame(
        {
            "unique_id": [
                make_unique_id(s, k, r)
                for s, k, r in zip(m["service"], m["metric"], m["region"], strict=True)
            ],
            "ds": pd.to_datetime(m["ts"]).astype("datetime64[ns]"),
            "y": m["value"].astype(float),
        }
    )
    df = fill_gaps(df, "h", "interpolate")
    return df.groupby("unique_id").tail(days * 24).reset_index(drop=True)


def run(accelerator: str, df, epochs: int, folds: int, h: int) -> dict:
    from capplan.evaluation import evaluate
    from capplan.evaluation.engine import TrainParams, backtest_one
    from capplan.models import ModelSpec, neural

    neural.TRAINER_KWARGS["accelerator"] = accelerator
    spec = ModelSpec(freq="h", season_length=24, seasonalities=(168,), epochs=epochs, seed=42)
    bt, secs = backtest_one("nhits", df, spec, TrainParams(("nhits",), h, folds), None)
    mase = float(evaluate(bt, df, season=24, quantiles=spec.quantiles)["mase"].mean())
    return {"accelerator": accelerator, "seconds": secs, "mase": mase, "rows": len(bt)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--folds", type=int, default=2)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--quick", action="store_true", help="2 epochs")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "torch_gpu.json"))
    a = ap.parse_args()
    _import_capplan()
    import torch

    epochs = 2 if a.quick else a.epochs
    df = _data(a.days)
    h = 14 * 24
    info = {"torch": torch.__version__, "cuda": torch.cuda.is_available(), "cpus": os.cpu_count()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    print(
        f"N-HiTS backtest: {df['unique_id'].nunique()} series x {a.days} days hourly, h={h}, {a.folds} folds, {epochs} epochs; {info}"
    )
    results = []
    for acc in ["cpu", "gpu"] if torch.cuda.is_available() else ["cpu"]:
        t0 = time.perf_counter()
        r = run(acc, df, epochs, a.folds, h)
        r["wall_with_setup"] = time.perf_counter() - t0
        results.append(r)
        print(f"  {acc}: {r['seconds']:.1f} s, mean MASE {r['mase']:.3f}", flush=True)
    if len(results) == 2:
        print(f"  GPU speed-up: {results[0]['seconds'] / results[1]['seconds']:.2f}x")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"info": info, "epochs": epochs, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
