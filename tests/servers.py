"""Every server the wire and client tests run against, and how each one truly differs.

One table, ``PROFILES``: a server's name (the test id), how it is started (through the pools of
tests/conftest.py: harness/server.py, harness/asgi_servers.py, harness/wsgi_servers.py) and the
few facts where servers differ on the wire. A test asks for the ``wire_server`` fixture and gets
every server that keeps the promise (``lazy``: no ``100 Continue`` before the policy passed);
``@servers(...)`` narrows that to the servers with the named facts (``@servers(lazy=False)``: the
servers that invite the body before Django runs, the controls) or to named servers.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest

from harness.asgi_servers import EXPECT_APP, STOCK_APP
from harness.server import WORKERS


@dataclass(frozen=True)
class Profile:
    name: str
    #: Which pool starts it: "gunicorn" (a worker class), "asgi" or "wsgi" (a harness kind).
    family: str
    kind: str
    #: gunicorn: with django-expect's hooks; ASGI: the application (django_expect.asgi or
    #: Django's own handler).
    hook: bool = True
    app: str = EXPECT_APP
    #: Sends ``100 Continue`` only when the view first reads the body (False: before Django runs).
    lazy: bool = True
    #: Keeps the connection open after a request whose body was read to its end.
    keep_alive: bool = True
    #: A rejection says ``Connection: close`` (uWSGI's keep-alive mode has no per-request means:
    #: it closes without saying so).
    says_close: bool = True
    #: Decodes ``Transfer-Encoding: chunked`` request bodies for the application (and closes
    #: after one the view left unread).
    chunked: bool = False
    #: Bounds a stalled body with the route's ``body_timeout`` (408).
    body_timeout: bool = False
    #: Sends ``100 Continue`` to an HTTP/1.0 request that asked (uvicorn's httptools protocol).
    http10_continue: bool = False
    #: Reads the whole body before the application runs (the refused body crosses in full).
    buffers_body: bool = False
    #: Runs the body-limit cases (tests/wire/test_bodylimit_wire.py).
    bodylimit: bool = False
    #: Runs the real-clients scenario (tests/clients/test_clients.py).
    clients: bool = True
    #: Runs the cases every server shares (False: only the tests that name it).
    shared: bool = True

    @property
    def id(self) -> str:
        return self.name


def _gunicorn(worker: str, **facts: Any) -> Profile:
    return Profile(f"gunicorn-{worker}", "gunicorn", worker, **facts)


def _asgi(kind: str, **facts: Any) -> Profile:
    return Profile(kind, "asgi", kind, **facts)


def _wsgi(kind: str, **facts: Any) -> Profile:
    return Profile(kind, "wsgi", kind, **facts)


#: gunicorn's workers and the ASGI servers decode chunked bodies and bound stalled ones.
_FULL = {"chunked": True, "body_timeout": True}

PROFILES = {
    p.name: p
    for p in [
        # The servers that keep the promise (django-expect's adapters, or none needed).
        _gunicorn("sync", keep_alive=False, bodylimit=True, **_FULL),
        _gunicorn("gthread", bodylimit=True, **_FULL),
        _gunicorn("gevent", bodylimit=True, **_FULL),
        _asgi("uvicorn-h11", bodylimit=True, **_FULL),
        _asgi("uvicorn-httptools", http10_continue=True, **_FULL),
        _asgi("gunicorn-asgi", bodylimit=True, **_FULL),
        _asgi("granian", **_FULL),
        _wsgi("runserver", body_timeout=True, chunked=True),
        # django_expect appended after staticfiles: staticfiles' command, django-expect's server.
        _wsgi("runserver-appended", body_timeout=True, chunked=True, clients=False),
        # Embedded mode with deploy/apache-expect.conf: Apache closes after every Expect request.
        _wsgi("mod_wsgi", keep_alive=False),
        _wsgi("uwsgi-http-socket", keep_alive=False, chunked=True),  # lazy_continue, close added
        # The --http router: it closes on a chunked request without an answer (not chunked).
        _wsgi("uwsgi-http", keep_alive=False),
        # Keep-alive without a word about the close: Go sends a refused body (tests/clients).
        _wsgi("uwsgi-http11-socket", says_close=False, chunked=True),
        # The servers that invite the body before Django runs: the refusal is still precise.
        *(
            Profile(f"gunicorn-{w}-stock", "gunicorn", w, hook=False, lazy=False, clients=False)
            for w in WORKERS
        ),
        Profile(
            "django-asgi",
            "asgi",
            "uvicorn-h11",
            app=STOCK_APP,
            lazy=False,
            buffers_body=True,
            clients=False,
        ),
        _asgi("hypercorn", lazy=False, clients=False),
        _asgi("daphne", lazy=False, clients=False),
        _wsgi("runserver-stock", lazy=False, clients=False),
        _wsgi("waitress", lazy=False, buffers_body=True, clients=False),
        _wsgi("mod_wsgi-daemon", lazy=False, buffers_body=True, clients=False),
        # Without deploy/apache-expect.conf: lazy, but keeps the connection after a 401 or 415
        # (tests/wire/test_server_specific.py; Go sends the refused body: test_clients.py).
        _wsgi("mod_wsgi-no-conf", shared=False, clients=False),
        _wsgi("uwsgi-http-manage-expect", lazy=False, clients=False),
    ]
}


@dataclass(frozen=True)
class KnownFailure:
    """Where a server fails a shared case today: an xfail(strict=True) -- the day the server
    passes, the row must go -- unless the failure is the server's race (``race``), which a run
    where the server wins passes: then the xfail is not strict."""

    server: str  # a pattern (fnmatch)
    test: str
    part: str  # a part of the parameter id ("" for every parameter)
    why: str
    race: bool = False


KNOWN_FAILURES = [
    KnownFailure(
        "gunicorn-asgi",
        "test_a_refused_body_sent_after_the_answer_is_never_parsed_as_a_request",
        "",
        "gunicorn -k asgi reads on after a response that says Connection: close: the request "
        "hidden in the refused body is answered (Django's 400 for its Host: x)",
        race=True,  # it closes first now and then, more often on a loaded machine
    ),
    KnownFailure(
        "uwsgi-*",
        "test_accepted_upload_gets_one_100_then_the_final_status",
        "/lab/async",
        "an async view under uWSGI (threads) answers 400 to an Expect upload",
    ),
    KnownFailure(
        "mod_wsgi",
        "test_a_body_the_view_never_reads_closes_the_connection",
        "False",
        "without Expect, Apache reads and discards the unread body and keeps the connection "
        "(deploy/apache-expect.conf closes after Expect requests only)",
    ),
    KnownFailure(
        "mod_wsgi",
        "test_an_unknown_expectation_gets_417",
        "",
        "Apache does not answer an unknown expectation within the client's wait",
    ),
    KnownFailure(
        "mod_wsgi",
        "test_a_body_cut_short_by_a_disconnect_does_not_hang_the_server",
        "",
        "a body cut short under mod_wsgi's embedded mode is a 500 (Django's read raises), not 400",
    ),
]


def known_failure(server: str, test: str, item_id: str) -> pytest.MarkDecorator | None:
    """The xfail ``test`` on ``server`` carries today (``KNOWN_FAILURES``), or None."""
    for row in KNOWN_FAILURES:
        if fnmatch(server, row.server) and row.test == test and row.part in item_id:
            return pytest.mark.xfail(strict=not row.race, reason=row.why)
    return None


_FACTS = {f.name for f in fields(Profile)} - {"name", "kind", "app"}


def servers(*names: str, **facts: Any) -> pytest.MarkDecorator:
    """Run a ``wire_server`` test on the named servers, or on those with ``facts``
    (``@servers(chunked=True)``; ``lazy`` is True unless given)."""
    unknown = set(facts) - _FACTS
    assert not unknown, f"no such server fact: {unknown}"
    return pytest.mark.servers(*names, **facts)


def select(marker: pytest.Mark | None) -> list[str]:
    """The servers a test runs on (its ``@servers`` marker; none: every lazy server)."""
    names = list(marker.args) if marker else []
    if names:
        return names
    facts = {"lazy": True, "shared": True, **(marker.kwargs if marker else {})}
    return [p.name for p in PROFILES.values() if all(getattr(p, k) == v for k, v in facts.items())]


@dataclass
class WireServer:
    """A running server and its profile."""

    profile: Profile
    process: Any  # harness.server.Server, harness.asgi_servers.ASGIServer or WSGIServer

    @property
    def name(self) -> str:
        return self.profile.name

    @property
    def address(self) -> tuple[str, int]:
        return self.process.address  # type: ignore[no-any-return]

    @property
    def url(self) -> str:
        return self.process.url  # type: ignore[no-any-return]

    @property
    def env(self) -> dict[str, str]:
        return self.process.env  # type: ignore[no-any-return]

    @property
    def media_root(self) -> Path:
        return Path(self.env["TEST_MEDIA_ROOT"])

    def log(self) -> str:
        return self.process.log()  # type: ignore[no-any-return]
