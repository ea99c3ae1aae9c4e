"""The run summary in Markdown and the alert rows: escaped, ordered, bounded."""

from __future__ import annotations

import pandas as pd

from capplan.reporting.markdown import MAX_ALERT_ROWS, alert_rows, plain_text, run_markdown


def test_control_characters_are_shown_not_executed():
    assert plain_text("web\x1b[31m\nx") == "web\\x1b[31m\\nx"


def test_summary_lists_what_the_run_did():
    reports = [
        {"rows_loaded": 10, "rows_quarantined": 2, "status": "loaded", "message": ""},
        {"rows_loaded": 0, "rows_quarantined": 0, "status": "rejected", "message": "bad.csv: no ts\x1b"},
    ]
    text = run_markdown(ingest=reports, degraded=3, exports={"xlsx": "/tmp/p.xlsx"})
    assert "2 file(s), 10 rows loaded, 2 quarantined, 1 rejected" in text
    assert "- rejected: bad.csv: no ts\\x1b" in text and "3 series degraded" in text
    assert "- xlsx: `/tmp/p.xlsx`" in text


def test_alert_rows_put_critical_first_and_stop_at_the_limit():
    alerts = pd.DataFrame(
        {"severity": ["info", "critical"] * MAX_ALERT_ROWS, "service": "api", "resource": "cpu",
         "scenario": "expected", "kind": "runway", "message": "m"}
    )  # fmt: skip
    rows = alert_rows(alerts)
    assert len(rows) == MAX_ALERT_ROWS and {r["severity"] for r in rows} == {"critical"}
