"""What the long-range plan adds to the plan's time: ``build_plan`` with and without it, same run.

The demo company (default ``large``: 8 services x 5 metrics on a 5-minute grid over two years)
goes straight to ``build_plan`` through :func:`capplan.demo.demo_plan_inputs` (a stub seasonal
naive forecast, no warehouse, no training: training is not what is measured). The plan is built
alternately with ``[planning] long_range_months = 0`` and with the demo's long-range plan (13
months, weekly), ``--repeats`` times each; the ratio compares the medians of CPU seconds (this
process's, ``time.process_time``: robust on a shared machine), wall seconds shown beside them.

Usage::

    python benchmarks/long_range.py [--size large] [--repeats 3]
    python benchmarks/long_range.py --quick          # the small demo, one repeat

Target (issue 9): the long-range plan adds under 20% to the plan's time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS_DIR, format_table, machine_info, verdict, write_json  # noqa: E402

TARGET = 0.20


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default=None, help="demo size (default large; --quick: small)")
    ap.add_argument("--repeats", type=int, default=None, help="plans per variant (default 3; --quick: 1)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    size = args.size or ("small" if args.quick else "large")
    repeats = args.repeats or (1 if args.quick else 3)

    from capplan.core.config import config_from_dict
    from capplan.demo import demo_config, demo_plan_inputs, generate_demo
    from capplan.planning import build_plan

    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    data = generate_demo(size=size)
    inputs = demo_plan_inputs(data)
    prepare_s = time.perf_counter() - t0
    with_lr = config_from_dict(demo_config(data))
    without = with_lr.model_copy(
        update={"planning": with_lr.planning.model_copy(update={"long_range_months": 0})}
    )
    times: dict[str, list[float]] = {"without": [], "with": []}
    wall: dict[str, list[float]] = {"without": [], "with": []}
    rows = {}
    for _ in range(repeats):
        for name, cfg in (("without", without), ("with", with_lr)):
            t, c = time.perf_counter(), time.process_time()
            plan = build_plan(inputs, cfg)
            times[name].append(time.process_time() - c)
            wall[name].append(time.perf_counter() - t)
            rows[name] = len(plan.long_range)
    base, full = statistics.median(times["without"]), statistics.median(times["with"])
    added = full / base - 1.0
    wall_added = statistics.median(wall["with"]) / statistics.median(wall["without"]) - 1.0
    table = [
        [label, f"{statistics.median(times[k]):.2f}", f"{statistics.median(wall[k]):.2f}",
         ", ".join(f"{x:.2f}" for x in times[k]), rows[k]]
        for label, k in (("without long range", "without"), ("with long range", "with"))
    ]  # fmt: skip
    print(f"demo {size}: {len(inputs.series)} series, {len(inputs.history):,} history rows, "
          f"{len(inputs.daily_peaks):,} daily peaks (prepared in {prepare_s:.1f} s)")  # fmt: skip
    print(format_table(["plan", "median CPU s", "median wall s", "runs CPU s", "long-range rows"], table))
    print(f"long range adds {added:+.1%} CPU time to the plan ({wall_added:+.1%} wall) "
          f"(target < {TARGET:.0%}): {verdict(added < TARGET)}")  # fmt: skip
    load1 = os.getloadavg()[0]
    print(
        f"load average {load0:.2f} at the start, {load1:.2f} at the end (a busy machine makes seconds noisy)"
    )
    out = args.out or RESULTS_DIR / f"long_range{'_quick' if args.quick else ''}.json"
    write_json(
        out,
        {"size": size, "repeats": repeats, "cpu_seconds": times, "wall_seconds": wall, "wall_added": wall_added, "median_without_s": base, "median_with_s": full,
         "added": added, "target": TARGET, "verdict": verdict(added < TARGET), "load_average": [load0, load1],
         "machine": machine_info()},
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
