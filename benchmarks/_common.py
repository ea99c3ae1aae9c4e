"""Small helpers shared by the benchmark scripts (not a benchmark itself: ``run_all.py`` skips it).

Benchmarks report figures against targets; they never assert. A MISS is a finding, not a crash:
a benchmark exits non-zero only when it could not measure.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _status_kb(field: str) -> float | None:
    """A ``kB`` field of /proc/self/status (Linux), or None elsewhere."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB (VmHWM; ru_maxrss where /proc is absent)."""
    kb = _status_kb("VmHWM")
    if kb is not None:
        return kb / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def current_rss_mb() -> float:
    """This process's resident memory now, in MiB (0 where /proc is absent)."""
    kb = _status_kb("VmRSS")
    return (kb or 0.0) / 1024


def machine_info() -> dict:
    """What the figures were measured on: CPUs, memory, Python and library versions."""
    info: dict = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        info["memory_gb"] = round(pages * size / 1024**3, 1)
    except (ValueError, OSError, AttributeError):
        pass
    for lib in ("duckdb", "pandas", "pyarrow", "numpy"):
        try:
            info[lib] = __import__(lib).__version__
        except ImportError:
            info[lib] = None
    return info


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def format_table(headers: list[str], rows: list[list]) -> str:
    """A plain text table, numbers right-aligned; floats keep the formatting the caller gave them."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: list[str]) -> str:
        out = []
        for i, c in enumerate(r):
            numeric = c.replace(".", "", 1).replace(",", "").replace("x", "").replace("-", "").isdigit()
            out.append(c.rjust(widths[i]) if numeric else c.ljust(widths[i]))
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def write_json(path: str | Path, payload: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path
