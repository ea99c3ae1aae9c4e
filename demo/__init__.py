"""Deterministic demo data: a synthetic e-commerce company, written in the formats users have.

``generate_demo`` is pure (no I/O, no clock): the same ``seed``, ``size`` and ``end`` give
identical frames (see :mod:`.generate` for their invariants). ``write_demo`` writes them as the
files users have plus a ``capplan.toml`` built by ``demo_config`` (a plain dict) and written once.

Modules: ``company`` (services, events, outages, gaps), ``series`` (metrics and KPIs),
``inventory`` (sizing, load tests), ``generate`` (``DemoData``), ``files`` (writers),
``config`` (the config dict and its TOML writer), ``plan_inputs`` (a plan's inputs with a stub
forecast, for tests and benchmarks). Imports only :mod:`capplan.core`, if anything.
"""

from .company import DEMO_END, SIZES
from .config import demo_config
from .files import write_demo, write_metrics_parquet
from .generate import DemoData, generate_demo
from .plan_inputs import demo_plan_inputs

__all__ = [
    "DEMO_END",
    "SIZES",
    "DemoData",
    "generate_demo",
    "write_demo",
    "write_metrics_parquet",
    "demo_config",
    "demo_plan_inputs",
]
