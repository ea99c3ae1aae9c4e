"""`capplan plan` with an [alerts] webhook on 127.0.0.1: sent after the plan is stored; a failing
webhook is retried, logged and loses nothing; --no-notify and no webhook send nothing."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "reporting"))
from synthetic import write_company  # noqa: E402
from webhook_server import Webhook  # noqa: E402

from capplan.cli import main  # noqa: E402

pytestmark = pytest.mark.slow  # through `capplan plan` on a small company: about a minute; the message and the retries have unit tests in tests/reporting


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    folder = tmp_path_factory.mktemp("alerts")
    cfg = write_company(folder, models=("seasonal_naive",))
    assert main(["ingest", "--config", str(cfg), "--quiet"]) == 0
    assert main(["train", "--config", str(cfg), "--quiet"]) == 0
    assert main(["forecast", "--config", str(cfg)]) == 0
    return folder, cfg


def _config(folder: Path, base: Path, name: str, alerts: str) -> str:
    path = folder / name
    path.write_text(base.read_text() + f"\n[alerts]\n{alerts}\n")
    return str(path)


def _plans(folder: Path) -> list[str]:
    con = duckdb.connect(str(folder / "wh.duckdb"), read_only=True)
    try:
        return [r[0] for r in con.execute("SELECT plan_id FROM plan_runs ORDER BY created_at").fetchall()]
    finally:
        con.close()


def test_plan_sends_its_alerts_once(company, capsys):
    folder, base = company
    with Webhook([200]) as hook:
        cfg = _config(folder, base, "ok.toml", f'webhook_url = "{hook.url}"\nmin_severity = "info"')
        assert main(["plan", "--config", cfg]) == 0
    out = capsys.readouterr().out
    assert len(hook.received) == 1
    message = hook.received[0]
    assert message["plan_id"] == _plans(folder)[-1]
    assert message["text"].startswith(f"capplan plan {message['plan_id']} (as of ")
    assert message["alerts"] and sum(message["counts"].values()) == len(message["alerts"])
    assert "alerts sent to 127.0.0.1 (HTTP 200, 1 attempt)" in out


def test_failing_webhook_keeps_the_plan_and_warns(company, capsys, caplog):
    folder, base = company
    caplog.set_level(logging.WARNING, logger="capplan.alerts")
    before = _plans(folder)
    with Webhook([500]) as hook:
        cfg = _config(
            folder,
            base,
            "failing.toml",
            f'webhook_url = "{hook.url}"\nmin_severity = "info"\nretries = 1\nbackoff_s = 0',
        )
        assert main(["plan", "--config", cfg]) == 0
    assert len(hook.received) == 2  # first attempt and one retry
    assert len(_plans(folder)) == len(before) + 1  # the plan is stored all the same
    err = capsys.readouterr().err
    assert "warning: alert delivery to 127.0.0.1 failed after 2 attempts: HTTP 500" in err
    assert "failed after 2 attempts: HTTP 500" in caplog.text


def test_no_notify_and_no_webhook_send_nothing(company, capsys):
    folder, base = company
    with Webhook([200]) as hook:
        cfg = _config(folder, base, "quiet.toml", f'webhook_url = "{hook.url}"\nmin_severity = "info"')
        assert main(["plan", "--config", cfg, "--no-notify"]) == 0
        assert main(["plan", "--config", str(base)]) == 0
    assert hook.received == []
    assert "alerts sent" not in capsys.readouterr().out
