"""Run a Node browser driver (puppeteer-core) and never leave its browser behind.

The driver starts Firefox as its own child. If the driver is killed (a timeout here, or
pytest-timeout's alarm), that Firefox would outlive it; so the driver runs in a process group
of its own, whose leader is the PID started here, and the whole group is killed on every way
out that leaves it running.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path


def run_node_driver(
    args: list[str], *, cwd: Path, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    process = subprocess.Popen(
        args,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the group's id is process.pid
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # the browser the driver may have left
        except ProcessLookupError:
            pass
        if process.poll() is None:
            process.wait(timeout=10)
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)
