"""The scale benchmark's orchestration overhead: flow time outside every task run, with task runs
that overlap (a process pool's workers) counted once."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import scale  # noqa: E402


def test_overlapping_task_runs_count_once():
    assert scale.covered([(0, 10), (5, 12), (20, 25), (21, 22)]) == 17
    assert scale.covered([]) == 0


def test_overhead_is_read_from_the_prefect_database(tmp_path):
    db = tmp_path / "prefect.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE flow_run (id, parent_task_run_id, start_time, end_time)")
    con.execute("CREATE TABLE task_run (flow_run_id, start_time, end_time)")
    con.execute(
        "INSERT INTO flow_run VALUES ('f', NULL, '2026-12-01 08:00:00.000000', '2026-12-01 08:01:40.000000')"
    )
    # two workers side by side for 60 s, then 30 s alone: 90 s of the flow's 100 s had a task running
    con.executemany(
        "INSERT INTO task_run VALUES ('f', ?, ?)",
        [
            ("2026-12-01 08:00:05.000000", "2026-12-01 08:01:05.000000"),
            ("2026-12-01 08:00:05.000000", "2026-12-01 08:01:05.000000"),
            ("2026-12-01 08:01:05.000000", "2026-12-01 08:01:35.000000"),
        ],
    )
    con.commit()
    con.close()
    since = 1_796_112_000 - 60  # 2026-12-01 08:00 UTC, a minute before
    got = scale.orchestration(db, since, since + 3600)
    assert got["tasks"] == 3 and abs(got["flow_s"] - 100) < 1e-3
    assert abs(got["tasks_s"] - 150) < 1e-3 and abs(got["covered_s"] - 90) < 1e-3
