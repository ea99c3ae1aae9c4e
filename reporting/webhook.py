"""Send one JSON message to a webhook (standard library only), with retries; never raises.

Invariants:

* One POST per attempt, ``Content-Type: application/json``; the body has no ``NaN`` or ``inf``.
* Connection errors, timeouts and 5xx answers are retried ``retries`` times, waiting
  ``backoff_s``, ``2 * backoff_s``, ...; a 4xx answer (the message or the URL is wrong) is not.
* The outcome is returned as a :class:`Delivery`; a failure is also logged as a warning on the
  ``capplan.alerts`` logger. Only the URL's host is ever shown: a webhook's path is its secret.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from capplan.core.config import AlertsConfig

from .alerts_message import alert_message

log = logging.getLogger("capplan.alerts")


@dataclass(frozen=True)
class Delivery:
    """What became of one message: ``sent``, the ``host``, the last HTTP ``status`` (None:
    no answer), ``attempts`` made and, when not sent, the ``reason``."""

    sent: bool
    host: str
    status: int | None
    attempts: int
    reason: str = ""

    def line(self) -> str:
        """One line for a person: where it went, or why it did not."""
        tries = f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}"
        if self.sent:
            return f"alerts sent to {self.host} (HTTP {self.status}, {tries})"
        return f"alert delivery to {self.host} failed after {tries}: {self.reason}; the plan is stored"


def _attempt(url: str, body: bytes, timeout_s: float) -> tuple[int | None, str]:
    """One POST: (status, reason); status None when no HTTP answer came."""
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", "User-Agent": "capplan"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:  # noqa: S310 (http(s) only: config)
            return answer.status, ""
    except urllib.error.HTTPError as err:
        return err.code, f"HTTP {err.code} {err.reason}"
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        reason = getattr(err, "reason", err)
        return None, f"no answer ({reason})"


def post_json(
    url: str, payload: dict, cfg: AlertsConfig, sleep: Callable[[float], None] = time.sleep
) -> Delivery:
    """POST ``payload`` to ``url`` with ``cfg``'s timeout, retries and backoff."""
    host = urlsplit(url).hostname or "?"
    body = json.dumps(payload, allow_nan=False, ensure_ascii=False).encode("utf-8")
    status, reason, attempts = None, "", 0
    for attempt in range(cfg.retries + 1):
        if attempt:
            sleep(cfg.backoff_s * 2 ** (attempt - 1))
        attempts += 1
        status, reason = _attempt(url, body, cfg.timeout_s)
        if status is not None and status < 400:
            return Delivery(True, host, status, attempts)
        if status is not None and status < 500:
            break  # the message or the URL is wrong: retrying cannot help
    done = Delivery(False, host, status, attempts, reason)
    log.warning(done.line())
    return done


def deliver_alerts(
    cfg: AlertsConfig, plan_id: str, as_of: object, alerts, sleep: Callable[[float], None] = time.sleep
) -> Delivery | None:
    """Send the plan's alerts at or above ``cfg.min_severity``; None when nothing was to be sent
    (no ``webhook_url``, or no alert reaches the severity)."""
    if not cfg.webhook_url:
        return None
    try:
        payload = alert_message(plan_id, as_of, alerts, cfg.min_severity)
    except Exception as err:  # a message that cannot be built must not lose the plan
        done = Delivery(
            False, urlsplit(cfg.webhook_url).hostname or "?", None, 0, f"message not built: {err}"
        )
        log.warning(done.line())
        return done
    return None if payload is None else post_json(cfg.webhook_url, payload, cfg, sleep)
