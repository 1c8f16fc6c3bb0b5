"""The in-process fakes the tests share: upload heads, a fake ``wsgi.input``, check IDs.

``upload_head`` builds the request head of an upload (raw sockets, ASGI scopes, Django's test
client headers); ``expect_input`` is a ``wsgi.input`` as the gunicorn hook hands it over, with the
100 and the close it asks for recorded in a list; ``check_ids`` runs a system check under
overridden settings and lists the IDs it reports.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.checks import CheckMessage
from django.test import override_settings

from django_expect.continuation import ExpectContinueInput

#: ``make test-unit`` (DJANGO_EXPECT_QUICK=1) runs a quarter of the property tests' examples;
#: ``make test`` and CI run them all.
QUICK = os.environ.get("DJANGO_EXPECT_QUICK") == "1"


def examples(full: int) -> int:
    """How many examples a hypothesis test runs: ``full``, a quarter in the quick loop."""
    return max(10, full // 4) if QUICK else full


def upload_head(
    length: int | None,
    content_type: str = "application/octet-stream",
    *,
    expect: bool = True,
    **headers: str,
) -> dict[str, str]:
    """``Content-Length`` (``Transfer-Encoding: chunked`` when ``length`` is None),
    ``Content-Type``, ``Expect: 100-continue`` unless ``expect`` is false, then ``headers``
    (``Content_Type="text/csv"`` is the ``Content-Type`` header)."""
    head: dict[str, str] = (
        {"Transfer-Encoding": "chunked"} if length is None else {"Content-Length": str(length)}
    )
    head["Content-Type"] = content_type
    if expect:
        head["Expect"] = "100-continue"
    head.update({name.replace("_", "-"): value for name, value in headers.items()})
    return head


def expect_input(body: bytes, wire: list[str], awaiting: bool = True) -> ExpectContinueInput:
    """A ``wsgi.input`` holding ``body``, awaiting its 100 as under the gunicorn hook; the 100 and
    the close it sends are appended to ``wire`` ("100", "close")."""
    return ExpectContinueInput(
        io.BytesIO(body),
        awaiting=awaiting,
        send_continue=lambda: wire.append("100"),
        close_connection=lambda: wire.append("close"),
    )


def check_ids(check: Callable[[], Iterable[CheckMessage]], **settings: Any) -> list[str]:
    """The IDs ``check()`` reports with ``settings`` overridden, in order."""
    with override_settings(**settings):
        return [message.id or "" for message in check()]
