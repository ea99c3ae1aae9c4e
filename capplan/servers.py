"""Real Prefect and MLflow servers on 127.0.0.1, started as child processes and stopped by pid
(processes, not flows: so this lives beside the CLI, not in pipelines/).

``capplan ui`` (``make ui``) starts both and stops both on Ctrl+C or SIGTERM; the integration
tests use the same functions on free ports.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from capplan.core.errors import CapplanError

BIN = Path(sys.executable).parent
START_TIMEOUT_S = 90.0


@dataclass
class Server:
    name: str
    url: str  # base URL (the Prefect API for prefect)
    proc: subprocess.Popen
    log: Path

    def stop(self, timeout: float = 30.0) -> int:
        """Terminate the server (SIGTERM, then SIGKILL after ``timeout``); its exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        return self.proc.returncode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(server: Server, health: str, timeout: float) -> Server:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(health, timeout=2) as r:
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
    server.stop()
    tail = server.log.read_text(errors="replace")[-1500:] if server.log.exists() else ""
    raise CapplanError(
        f"{server.name} did not start on {server.url} within {timeout:g} s; its log ends:\n{tail}"
    )


def _spawn(name: str, args: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as fh:
        return subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})


def start_prefect(port: int, home: Path, timeout: float = START_TIMEOUT_S) -> Server:
    """``prefect server start`` on 127.0.0.1:``port`` with its database under ``home``."""
    url = f"http://127.0.0.1:{port}/api"
    env = {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_API_URL": "",
           "PREFECT_UI_API_URL": url}  # the UI in a browser calls this API (default: port 4200)  # fmt: skip
    args = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    proc = _spawn("prefect", args, home / "server.log", env)
    return _wait(Server("prefect server", url, proc, home / "server.log"), f"{url}/health", timeout)


def start_mlflow(port: int, mlruns: Path, timeout: float = START_TIMEOUT_S) -> Server:
    """``mlflow server`` on 127.0.0.1:``port`` over the SQLite store and artifacts under ``mlruns``."""
    mlruns.mkdir(parents=True, exist_ok=True)
    args = [
        str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{(mlruns / 'mlflow.db').resolve()}",
        "--default-artifact-root", str((mlruns / "artifacts").resolve()),
    ]  # fmt: skip
    proc = _spawn("mlflow", args, mlruns / "server.log", {"MLFLOW_DISABLE_TELEMETRY": "true"})
    url = f"http://127.0.0.1:{port}"
    return _wait(Server("mlflow server", url, proc, mlruns / "server.log"), f"{url}/health", timeout)


def serve_ui(prefect_port: int = 4200, mlflow_port: int = 5000, home: Path = Path(".prefect")) -> None:
    """Start both servers, print where they are, and stop both on Ctrl+C or SIGTERM."""
    servers = [start_prefect(prefect_port, home.resolve())]
    try:
        servers.append(start_mlflow(mlflow_port, Path("mlruns")))
        print(f"Prefect UI  http://127.0.0.1:{prefect_port}   (export PREFECT_API_URL={servers[0].url})")
        print(f"MLflow UI   http://127.0.0.1:{mlflow_port}")
        print("Ctrl+C stops both.", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        while all(s.proc.poll() is None for s in servers):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for s in servers:
            s.stop()
        print("Stopped both servers.")
