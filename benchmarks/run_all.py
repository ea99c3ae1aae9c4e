"""Run every benchmark in this folder, one after another, each in its own process.

Usage::

    python benchmarks/run_all.py [--quick] [--only ingest,m4_hourly]

A benchmark is any ``benchmarks/*.py`` except this file and ``_``-prefixed helpers. Each is run
with the same interpreter, ``--quick`` passed through when given; its output goes straight to
this terminal. Benchmarks report PASS/MISS against their targets without failing; this script
exits non-zero only when a benchmark crashed (exited non-zero) or ``--only`` names none.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benchmarks(only: set[str] | None = None) -> list[Path]:
    """Benchmark scripts in name order, restricted to ``only`` (stems) when given."""
    found = [p for p in sorted(HERE.glob("*.py")) if p.name != "run_all.py" and not p.name.startswith("_")]
    return [p for p in found if only is None or p.stem in only]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run every capplan benchmark in sequence.")
    ap.add_argument("--quick", action="store_true", help="pass --quick to each benchmark")
    ap.add_argument("--only", default=None, help="comma-separated benchmark names (file stems)")
    args = ap.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()} if args.only else None
    scripts = benchmarks(only)
    if not scripts:
        print(f"no benchmark matches {sorted(only or [])} in {HERE}", file=sys.stderr)
        return 2
    results: list[tuple[str, int, float]] = []
    for script in scripts:
        cmd = [sys.executable, str(script), *(["--quick"] if args.quick else [])]
        print(f"\n=== {script.stem} ({' '.join(cmd[1:])}) ===", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.run(cmd, check=False).returncode
        results.append((script.stem, rc, time.perf_counter() - t0))
    print("\n=== summary ===")
    for name, rc, seconds in results:
        print(f"  {'ok     ' if rc == 0 else f'CRASHED (exit {rc})'}  {name}  {seconds:.0f} s")
    return 1 if any(rc != 0 for _, rc, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
