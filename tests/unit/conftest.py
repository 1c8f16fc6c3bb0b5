"""The unit group starts no server: a test here that launches one (``harness.process.Process``)
fails, so ``make test-unit`` stays a loop of seconds that needs no server package."""

from __future__ import annotations

import pytest

from harness.process import Process


@pytest.fixture(autouse=True)
def _no_server_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Process, args: list[str], *_: object, **__: object) -> None:
        raise AssertionError(f"tests/unit starts no server ({args[:3]}...): move the test to wire/")

    monkeypatch.setattr(Process, "launch", refuse)
