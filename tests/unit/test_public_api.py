"""docs/reference/api.md is the public API: every name it lists imports, and each public module's
``__all__`` is exactly its list there (so nothing else is exported as public)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "api.md"
_ROW = re.compile(r"^\| `(django_expect[\w.]*)` \| (.+?) \| .+ \|$")
_NAME = re.compile(r"`([A-Za-z_][\w]*)`")


def _rows() -> dict[str, list[str]]:
    rows = {}
    for line in PAGE.read_text().splitlines():
        match = _ROW.match(line)
        if match:
            rows[match.group(1)] = _NAME.findall(match.group(2))
    return rows


ROWS = _rows()


def test_the_page_lists_the_entry_points() -> None:
    for module in ("django_expect", "django_expect.middleware", "django_expect.gunicorn"):
        assert module in ROWS
    assert len(ROWS) >= 20


@pytest.mark.parametrize("module_name", sorted(ROWS))
def test_every_listed_name_imports_and_all_agrees(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = ROWS[module_name]
    for name in names:
        assert hasattr(module, name), f"{module_name}.{name} is on the API page but missing"
    if names:  # a module listed for itself (django_expect.urls) has no names
        exported = set(getattr(module, "__all__", ()))
        assert exported == set(names) - {"__version__"} or exported == set(names), (
            f"{module_name}.__all__ differs from docs/reference/api.md: "
            f"only in __all__: {sorted(exported - set(names))}, "
            f"only on the page: {sorted(set(names) - exported)}"
        )


def test_the_template_tags_exist() -> None:
    from django_expect.templatetags.django_expect import register

    assert {"upload_limits", "upload_limit_text", "upload_precheck_script"} <= set(register.tags)
