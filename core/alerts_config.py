"""``[alerts]`` of ``capplan.toml``: where and how a plan's alerts are delivered (a webhook)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator


class AlertsConfig(BaseModel):
    """``[alerts]``: after each plan, one JSON message (Slack-compatible ``text``) to a webhook.

    Off unless ``webhook_url`` is set. Only alerts at or above ``min_severity`` are sent; a plan
    without any sends nothing. Connection errors and 5xx answers are retried ``retries`` times,
    waiting ``backoff_s``, then twice that, ...; a 4xx is not retried. A failed delivery is
    logged and never fails the plan.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # as every config section

    webhook_url: str | None = Field(None, description="http(s) URL that takes a JSON POST; none: off")
    timeout_s: float = Field(10.0, gt=0, le=120, description="per attempt")
    retries: int = Field(3, ge=0, le=10, description="retries after the first attempt")
    backoff_s: float = Field(1.0, ge=0, le=60, description="wait before the first retry; doubles")
    min_severity: Literal["info", "warning", "critical"] = "warning"

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "expected an http:// or https:// URL with a host, e.g. https://hooks.example.com/T0/B0"
            )
        return url.strip()
