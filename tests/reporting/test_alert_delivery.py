"""Alert delivery: the message (pure, pinned) and its sending to a local webhook on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from capplan.core.config import AlertsConfig, config_from_dict
from capplan.core.errors import ConfigError
from capplan.reporting.alerts_message import alert_message
from capplan.reporting.webhook import deliver_alerts, post_json

sys.path.insert(0, str(Path(__file__).parent))
from webhook_server import Webhook, closed_port_url  # noqa: E402

AS_OF = pd.Timestamp("2026-03-01 00:00")


def _alerts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "severity": ["critical", "critical", "warning", "info"],
            "service": ["checkout", "<!channel>", "web", "api"],
            "resource": ["rps", "cpu", "memory", "cpu"],
            "kind": ["beyond_scale_out", "runway_short", "cap_hit", "runway_short"],
            "scenarios": ["expected, peak", "all", "peak", "expected"],
            "date": pd.to_datetime(["2026-03-03", "2026-03-01", "2026-03-20", pd.NaT]),
            "days_left": [2.0, 0.0, 19.25, np.inf],
            "message": ["past the scale-out ceiling", "short now", "raise max_instances to 9", "later"],
        }
    )


def test_message_pins_text_counts_and_fields():
    msg = alert_message("plan123", AS_OF, _alerts(), "warning")
    assert msg["text"] == (
        "capplan plan plan123 (as of 2026-03-01 00:00:00 UTC): 2 critical, 1 warning\n"
        "• critical: checkout / rps beyond_scale_out from 2026-03-03 (2 d left) [expected, peak]\n"
        "• critical: &lt;!channel&gt; / cpu runway_short from 2026-03-01 (0 d left) [all]\n"
        "• warning: web / memory cap_hit from 2026-03-20 (19.2 d left) [peak]"
    )
    assert msg["plan_id"] == "plan123" and msg["as_of"] == "2026-03-01T00:00:00"
    assert msg["counts"] == {"critical": 2, "warning": 1}
    assert [a["service"] for a in msg["alerts"]] == ["checkout", "<!channel>", "web"]
    assert msg["alerts"][2] == {
        "severity": "warning", "service": "web", "resource": "memory", "kind": "cap_hit",
        "scenarios": "peak", "date": "2026-03-20T00:00:00", "days_left": 19.2,
        "message": "raise max_instances to 9",
    }  # fmt: skip
    assert msg["alerts_omitted"] == 0


def test_message_has_no_inf_or_nan_and_lists_the_rest():
    msg = alert_message("p", AS_OF, _alerts(), "info")
    info = msg["alerts"][-1]
    assert info["days_left"] is None and info["date"] is None
    json.dumps(msg, allow_nan=False)  # raises on NaN or inf
    assert msg["counts"] == {"critical": 2, "warning": 1, "info": 1}
    assert "• info: api / cpu runway_short no date [expected]" in msg["text"]


def test_more_alerts_than_the_text_shows_are_counted():
    many = pd.concat([_alerts().iloc[:1]] * 7, ignore_index=True)
    msg = alert_message("p", AS_OF, many, "critical")
    assert msg["text"].splitlines()[-1] == "… and 2 more in the plan's alerts table"
    assert len(msg["alerts"]) == 7


def test_no_alert_at_the_severity_means_no_message():
    assert alert_message("p", AS_OF, _alerts().iloc[3:], "warning") is None
    assert alert_message("p", AS_OF, _alerts().iloc[:0], "info") is None
    with pytest.raises(ValueError, match="min_severity"):
        alert_message("p", AS_OF, _alerts(), "urgent")


def test_config_defaults_and_bad_url():
    cfg = config_from_dict({})
    assert cfg.alerts.webhook_url is None and cfg.alerts.retries == 3 and cfg.alerts.timeout_s == 10
    assert cfg.alerts.min_severity == "warning"
    with pytest.raises(ConfigError, match="alerts.webhook_url"):
        config_from_dict({"alerts": {"webhook_url": "file:///etc/passwd"}})
    with pytest.raises(ConfigError, match="unknown key 'alerts.webhok_url'"):
        config_from_dict({"alerts": {"webhok_url": "https://x.example"}})


def _cfg(url: str, **kw) -> AlertsConfig:
    return AlertsConfig(webhook_url=url, **{"retries": 3, "backoff_s": 0.5, "timeout_s": 5, **kw})


def test_sent_once_on_success():
    waits = []
    with Webhook([200]) as hook:
        done = deliver_alerts(_cfg(hook.url), "p1", AS_OF, _alerts(), sleep=waits.append)
    assert done.sent and done.status == 200 and done.attempts == 1 and waits == []
    assert len(hook.received) == 1 and hook.received[0]["plan_id"] == "p1"
    assert hook.paths[0] == ("/services/T0/SECRET", "application/json")
    assert done.line() == "alerts sent to 127.0.0.1 (HTTP 200, 1 attempt)"


def test_5xx_is_retried_with_backoff_then_succeeds():
    waits = []
    with Webhook([500, 503, 200]) as hook:
        done = deliver_alerts(_cfg(hook.url), "p1", AS_OF, _alerts(), sleep=waits.append)
    assert done.sent and done.attempts == 3 and waits == [0.5, 1.0]
    assert len(hook.received) == 3


def test_always_failing_is_logged_with_host_status_and_attempts(caplog):
    caplog.set_level(logging.WARNING, logger="capplan.alerts")
    with Webhook([500]) as hook:
        done = deliver_alerts(_cfg(hook.url, retries=2), "p1", AS_OF, _alerts(), sleep=lambda s: None)
    assert not done.sent and done.status == 500 and done.attempts == 3 and len(hook.received) == 3
    assert "alert delivery to 127.0.0.1 failed after 3 attempts: HTTP 500" in caplog.text
    assert "SECRET" not in caplog.text  # the webhook's path is its secret


def test_4xx_is_not_retried():
    with Webhook([404, 200]) as hook:
        done = deliver_alerts(_cfg(hook.url), "p1", AS_OF, _alerts(), sleep=lambda s: None)
    assert not done.sent and done.status == 404 and done.attempts == 1 and len(hook.received) == 1


def test_connection_refused_is_retried_and_never_raises():
    waits = []
    done = post_json(
        closed_port_url(), {"text": "x"}, _cfg("http://x.example", retries=2), sleep=waits.append
    )
    assert not done.sent and done.status is None and done.attempts == 3 and waits == [0.5, 1.0]
    assert done.reason.startswith("no answer")


def test_no_webhook_or_nothing_to_say_sends_nothing():
    with Webhook([200]) as hook:
        assert deliver_alerts(AlertsConfig(), "p1", AS_OF, _alerts()) is None
        assert (
            deliver_alerts(_cfg(hook.url, min_severity="critical"), "p1", AS_OF, _alerts().iloc[2:]) is None
        )
    assert hook.received == []
