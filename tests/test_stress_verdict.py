"""``make stress`` fails when any section fails (stress/run.py ``main``), on made-up sections."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from stress import run


def _main(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, failures: list[str]) -> int:
    def section(lab: Any) -> None:
        run.RESULTS["mixed"] = {"sync": {"failures": failures}}

    monkeypatch.setattr(run, "Lab", lambda: None)
    monkeypatch.setattr(run, "SECTIONS", {"mixed": section})
    monkeypatch.setattr(run, "RESULTS", {})
    monkeypatch.setattr(sys, "argv", ["stress.run", "mixed", "--out", str(tmp_path / "r.json")])
    return run.main()


def test_a_failed_section_fails_the_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert _main(monkeypatch, tmp_path, ["rejected: 90 of 91 right"]) == 1


def test_a_clean_run_passes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert _main(monkeypatch, tmp_path, []) == 0
