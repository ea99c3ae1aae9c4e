"""What a person sees in the MLflow UI, checked through a real ``mlflow server``'s REST API on
127.0.0.1 after a tiny ``capplan train``: the training experiment kind, run names, the parent's
champion-mix accuracy, the children's hyperparameters and window, the registered version's
description and ``champion`` alias, and the backtest plot artifact. The server is started on a
free port and stopped by pid."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import write_company  # noqa: E402

from capplan.servers import free_port, start_mlflow  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.server]


def _api(base: str, path: str, body: dict | None = None, **query) -> dict:
    url = f"{base}/api/2.0/mlflow/{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=20) as r:
        return json.loads(r.read())


def _capplan(*args: str, cfg: Path) -> None:
    env = {**os.environ, "PREFECT_HOME": str(cfg.parent / "prefect-home")}
    r = subprocess.run(
        [str(Path(sys.executable).parent / "capplan"), *args, "--config", str(cfg), "--quiet"],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]


def test_train_against_a_real_mlflow_server_as_the_ui_shows_it(tmp_path):
    server = start_mlflow(free_port(), tmp_path / "mlruns", timeout=300)  # a busy machine starts it slowly
    try:
        cfg = write_company(tmp_path / "company", models=("seasonal_naive", "seasonal_profile"))
        text = cfg.read_text().replace(
            'tracking_uri = "sqlite:///mlruns/mlflow.db"', f'tracking_uri = "{server.url}"'
        )
        cfg.write_text(text)
        _capplan("ingest", cfg=cfg)
        _capplan("train", cfg=cfg)
        base = server.url
        exp = _api(base, "experiments/get-by-name", experiment_name="tiny")["experiment"]
        tags = {t["key"]: t["value"] for t in exp.get("tags", [])}
        assert tags["mlflow.experimentKind"] == "custom_model_development"
        runs = _api(base, "runs/search", {"experiment_ids": [exp["experiment_id"]], "max_results": 100})[
            "runs"
        ]

        def tags_of(run):
            return {t["key"]: t["value"] for t in run["data"].get("tags", [])}

        parents = [r for r in runs if "mlflow.parentRunId" not in tags_of(r)]
        assert [r["info"]["run_name"] for r in parents] == ["train latest"]
        parent = parents[0]
        metrics = {m["key"]: m["value"] for m in parent["data"]["metrics"]}
        assert {"champion_mase", "rel_mase", "rel_crps", "champion_coverage_p10_p90"} <= set(metrics)
        assert 0 < metrics["rel_mase"] < 10 and 0 <= metrics["champion_coverage_p10_p90"] <= 1
        children = [r for r in runs if tags_of(r).get("mlflow.parentRunId") == parent["info"]["run_id"]]
        assert {r["info"]["run_name"] for r in children} == {"seasonal_naive", "seasonal_profile"}
        for child in children:
            params = {p["key"]: p["value"] for p in child["data"]["params"]}
            assert {"data_start", "data_end", "train_window", "horizon_steps", "folds"} <= set(params)
            name = child["info"]["run_name"]
            files = _api(base, "artifacts/list", run_id=child["info"]["run_id"]).get("files", [])
            assert f"backtest_{name}.png" in {f["path"] for f in files}
        profile = next(r for r in children if r["info"]["run_name"] == "seasonal_profile")
        assert any(p["key"].startswith("hp.") for p in profile["data"]["params"])
        version = _api(base, "registered-models/alias", name="tiny-champions", alias="champion")[
            "model_version"
        ]
        assert version["version"] == "1" and version["run_id"] == parent["info"]["run_id"]
        description = version.get("description", "")
        assert description.startswith("Champions of 4 series trained on data ")
        assert "Champion mix: " in description and "rel MASE " in description and "covered" in description
    finally:
        assert server.stop() is not None
    assert server.proc.poll() is not None
