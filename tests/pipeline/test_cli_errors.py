"""User mistakes end as exit 2 and one message, never a traceback (issue 8, item 10), and a
SIGTERM ends a command cleanly (item 9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from capplan.cli import main

SOURCE = '[[sources]]\nname = "m"\nkind = "metrics"\npath = "m.csv"\n'


def _write(tmp: Path, toml: str) -> str:
    p = tmp / "capplan.toml"
    p.write_text(toml)
    return str(p)


def _case(tmp: Path, name: str) -> list[str]:
    """argv for one mistake (files it needs are made in ``tmp``)."""
    (tmp / "afile").write_text("x")
    wh = lambda path: _write(tmp, f'[warehouse]\npath = "{path}"\n' + SOURCE)  # noqa: E731
    cases = {
        "config_is_folder": lambda: ["ingest", "--config", str(tmp)],
        "config_not_utf8": lambda: [
            "ingest",
            "--config",
            _bytes(tmp / "c.toml", b"[forecast]\nx = '\xff\xfe'\n"),
        ],
        "warehouse_is_folder": lambda: ["ingest", "--config", wh(str(tmp))],
        "warehouse_is_csv": lambda: ["ingest", "--config", wh(_bytes(tmp / "w.csv", b"a,b\n1,2\n"))],
        "warehouse_unwritable": lambda: ["ingest", "--config", wh(str(tmp / "afile" / "w.duckdb"))],
        "warehouse_under_proc": lambda: ["ingest", "--config", wh("/proc/capplan/w.duckdb")],
        "label_separator_empty": lambda: [
            "ingest",
            "--config",
            _write(tmp, SOURCE + 'label_separator = ""\n'),
        ],
        "unknown_timezone": lambda: [
            "ingest",
            "--config",
            _write(tmp, SOURCE + 'timezone = "Mars/Olympus"\n'),
        ],
        "frequency_banana": lambda: ["train", "--config", _write(tmp, '[forecast]\nfrequency = "banana"\n')],
        "ingest_frequency_banana": lambda: [
            "ingest",
            "--config",
            _write(tmp, '[ingest.frequencies]\n"web:cpu" = "banana"\n'),
        ],
        "train_window_banana": lambda: [
            "train",
            "--config",
            _write(tmp, '[forecast]\ntrain_window = "banana"\n'),
        ],
        "horizon_0D": lambda: ["train", "--config", _write(tmp, '[forecast]\nhorizon = "0D"\n')],
        "horizon_huge": lambda: ["train", "--config", _write(tmp, "[forecast]\nhorizon = 1000000000\n")],
        "lock_timeout_inf": lambda: [
            "ingest",
            "--config",
            _write(tmp, "[warehouse]\nlock_timeout_s = inf\n"),
        ],
        "lock_timeout_huge": lambda: [
            "ingest",
            "--config",
            _write(tmp, "[warehouse]\nlock_timeout_s = 1e9\n"),
        ],
        "forecast_horizon_negative": lambda: ["forecast", "--config", _write(tmp, ""), "--horizon", "-5"],
        "forecast_horizon_huge": lambda: ["forecast", "--config", _write(tmp, ""), "--horizon", "1000000000"],
        "export_unwritable": lambda: [
            "export",
            "--config",
            _write(tmp, ""),
            "--out",
            str(tmp / "afile" / "x"),
        ],
        "serve_bad_cron": lambda: ["serve", "--config", _write(tmp, ""), "--cron", "61 * * * *"],
        "serve_banana_cron": lambda: ["serve", "--config", _write(tmp, ""), "--cron", "banana"],
    }
    return cases[name]()


def _bytes(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


CASES = [
    "config_is_folder",
    "config_not_utf8",
    "warehouse_is_folder",
    "warehouse_is_csv",
    "warehouse_unwritable",
    "warehouse_under_proc",
    "label_separator_empty",
    "unknown_timezone",
    "frequency_banana",
    "ingest_frequency_banana",
    "train_window_banana",
    "horizon_0D",
    "horizon_huge",
    "lock_timeout_inf",
    "lock_timeout_huge",
    "forecast_horizon_negative",
    "forecast_horizon_huge",
    "export_unwritable",
    "serve_bad_cron",
    "serve_banana_cron",
]


@pytest.mark.parametrize("case", CASES)
def test_user_mistakes_exit_2_with_one_message(tmp_path, capsys, case):
    argv = _case(tmp_path, case)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and "Traceback" not in err


def test_sigterm_ends_a_command_cleanly_and_stops_prefect(tmp_path):
    """A command blocked on the warehouse lock gets SIGTERM: it exits 143, and no process it
    started (Prefect's ephemeral server) outlives it."""
    import duckdb

    wh = tmp_path / "w.duckdb"
    (tmp_path / "m.csv").write_text("ts,service,metric,value\n2025-01-01T00:00:00Z,web,cpu,1\n")
    cfg = _write(tmp_path, f'[warehouse]\npath = "{wh}"\nlock_timeout_s = 120\n' + SOURCE)
    holder = duckdb.connect(str(wh))  # holds the write lock: the ingest task waits inside the flow
    # its own Prefect home: the session's server database is not shared with a process we kill
    env = dict(os.environ, PYTHONUNBUFFERED="1", PREFECT_HOME=str(tmp_path / "prefect"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "capplan", "ingest", "--config", cfg],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        deadline, children = time.monotonic() + 150, []
        while time.monotonic() < deadline and not children:  # the ephemeral server is up
            time.sleep(1)
            children = [c for c in _descendants(proc.pid) if b"uvicorn" in _cmdline(c)]
        assert children, "Prefect's ephemeral server never started"
        time.sleep(2)
        children = _descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        holder.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "terminated" in err
    time.sleep(2)
    alive = [c for c in children if Path(f"/proc/{c}").exists() and _state(c) != "Z"]
    assert not alive, f"processes outlived the command: {alive}"


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _descendants(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                out.append(int(p.name))
    return out + [d for c in out for d in _descendants(c)]


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_sigkill_leaves_no_prefect_server_behind(tmp_path):
    """SIGKILL cannot be caught: the watchdog started by the console entry point stops what the
    killed command started (Prefect's ephemeral server)."""
    import duckdb

    wh = tmp_path / "w.duckdb"
    (tmp_path / "m.csv").write_text("ts,service,metric,value\n2025-01-01T00:00:00Z,web,cpu,1\n")
    cfg = _write(tmp_path, f'[warehouse]\npath = "{wh}"\nlock_timeout_s = 120\n' + SOURCE)
    holder = duckdb.connect(str(wh))  # holds the write lock: the ingest task waits inside the flow
    env = dict(os.environ, PYTHONUNBUFFERED="1", PREFECT_HOME=str(tmp_path / "prefect-home"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "capplan", "ingest", "--config", cfg],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline, servers = time.monotonic() + 150, []
        while time.monotonic() < deadline and not servers:
            time.sleep(1)
            servers = [c for c in _descendants(proc.pid) if b"uvicorn" in _cmdline(c)]
        assert servers, "Prefect's ephemeral server never started"
        time.sleep(2)
        proc.kill()
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_running(c) for c in servers):
            time.sleep(0.5)
    finally:
        holder.close()
    alive = [c for c in servers if _running(c)]
    for c in alive:
        os.kill(c, signal.SIGKILL)
    assert not alive, f"the ephemeral server outlived a SIGKILLed command: {alive}"


def _running(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and _state(pid) != "Z"
