"""A few seconds of the soak (stress/soak.py) on gunicorn gthread: every action of the mix is
answered precisely (the growth rule needs the full ``make soak``; here only totals are checked)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.server import Server
from stress import soak

pytestmark = pytest.mark.e2e


def test_soak_smoke(server_pool: object, project_env_vars: dict[str, str]) -> None:
    server: Server = server_pool.get("gthread")  # type: ignore[attr-defined]
    db = Path(project_env_vars["TEST_DB"])
    result = soak.soak("gthread", server, server.worker_pids(), db, seconds=8.0, seed=24)
    assert result["wrong"] == []
    assert sum(result["totals"].values()) > 20
    assert result["samples"], "no sample taken"
    assert "<polyline" in soak.svg([result]) or len(result["samples"]) < 2
