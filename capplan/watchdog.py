"""Bind the processes a CLI command starts (Prefect's ephemeral server) to the command's life.

SIGTERM and Ctrl+C unwind the command and Prefect stops its server itself. SIGKILL cannot be
caught, so a small watchdog process notes the command's children while it runs and, once the
command is gone, terminates the ones still running. Linux only (it reads ``/proc``); elsewhere
it does nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

POLL_S = 0.5

_WATCH = r"""
import os, signal, sys, time
from pathlib import Path
parent, me, seen = int(sys.argv[1]), os.getpid(), set()

def children(pid):
    out = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            pass
    return out

def alive(pid):
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1] != "Z"
    except (OSError, IndexError):
        return False

while alive(parent):
    seen |= {c for c in children(parent) if c != me}
    seen |= {g for c in list(seen) for g in children(c)}
    time.sleep(float(sys.argv[2]))
for pid in seen:
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        pass
"""


def start() -> subprocess.Popen | None:
    """Start the watchdog for this process (None where ``/proc`` cannot tell children)."""
    if not Path(f"/proc/{os.getpid()}/task").exists():
        return None
    return subprocess.Popen(
        [sys.executable, "-c", _WATCH, str(os.getpid()), str(POLL_S)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl+C to the command's group does not stop the watchdog first
    )
