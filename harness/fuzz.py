"""A seeded raw-socket fuzzer for gunicorn + django-expect, and the invariants it checks.

Each exchange is generated from ``Random(f"{seed}:{index}")`` alone, so any exchange replays on
its own (``python -m stress.fuzz --seed S --worker W --only INDEX``) whatever the concurrency.
An exchange opens one connection, sends 1-3 requests (pipelined) built from a small grammar --
methods, versions, header orders, Expect variants (case, lists, duplicates, unknown tokens),
Content-Length (right, short, long, malformed, repeated), Transfer-Encoding, bodies sent early,
after the 100, partly, or split into odd pieces -- sometimes with a mutated byte, then half-closes
or resets the connection and reads everything the server sent until it closes.

Invariants checked on every exchange (``check``):

1. every byte the server sent parses as HTTP/1.1 responses;
2. at most one ``100 Continue`` per request, and none to a request that did not ask for it
   (no Expect, HTTP/1.0) or that was refused from its head alone -- size included: a
   ``content_too_large`` answer to a request that declared a valid ``Content-Length`` was decided
   from the head (a length-framed body cannot grow past what it declared), so no 100 may precede it;
   only a chunked body may earn a 100 and then a 413 once it grows past the limit. A final status
   the fuzzer cannot attribute to one request (behind a request that lied about its length) is
   still checked: no 100 before any head refusal other than ``content_too_large``. Head
   refusals: the codes in ``HEAD_REFUSALS`` and the statuses in ``HEAD_STATUSES``;
3. no ``100`` after a final status: every interim response is followed by its final status;
4. at most one final status per request sent, and exactly one per request the server accepted
   to parse while the connection stayed open (a final without ``Connection: close`` is followed
   by the next request's final status when the client sent one);
5. nothing after a final status with ``Connection: close`` (bytes behind a rejected request are
   never answered);
6. an accepted upload's digest is the digest of exactly the bytes the request framed;
7. no 5xx other than gunicorn's 501 for an unsupported transfer coding, on every final status the
   server sent (every one answers a request the server parsed, attributable or not).

Exchanges in ``abort`` mode (the client resets right after sending, reading nothing) have no
client-side bytes to check; they are there for the server-side invariants. The runners
(``stress/run.py``, ``stress/fuzz.py``, ``tests/wire/test_fuzz.py``) add the server-side ones, for
every exchange: the worker PIDs never change, no socket stays open afterwards, and
``error_lines`` finds nothing in the server's log -- gunicorn's error log and Django's
``django.request`` errors (every 5xx Django answers, with its traceback) both go there
(tests/settings.py ``LOGGING``).

"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import socket
import struct
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

__all__ = [
    "ASGI_KINDS",
    "GUNICORN",
    "SERVER_PROFILES",
    "SMUGGLING",
    "FuzzReport",
    "Profile",
    "Scenario",
    "check",
    "generate",
    "run",
    "run_one",
]

PATHS = {
    # path: (echoes a digest, reads chunked bodies whole)
    "/lab/small": True,
    "/lab/echo": True,
    "/lab/body": True,
    "/lab/timeout": True,
    "/lab/noread": False,
    "/lab/refuse": True,
    "/lab/login": True,
    "/lab/types": True,
    "/lab/check": True,
    "/lab/after-checks": True,
    "/nowhere": False,
}
# Refusals decided from the head whatever the framing; ``content_too_large`` is one too when the
# request declared a valid Content-Length (see ``Request.declared_length``).
HEAD_REFUSALS = {
    "login_required",
    "permission_denied",
    "unsupported_media_type",
    "expectation_failed",
    "length_required",
    "bad_request",
    "no_ticket",  # /lab/check's upload_policy(check=...): checks run before the body
}
# Statuses decided from the head here whoever answers: 404 (only /nowhere, which no URL
# pattern matches) and 417 (an expectation the server refuses, gunicorn's or django-expect's).
HEAD_STATUSES = {404, 417}
EXPECT_VARIANTS = [
    "100-continue",
    "100-Continue",
    "100-CONTINUE",
    " 100-continue ",
    "100-continue, 100-continue",
    "100-continue,",
    "bogus",
    "100-continue, bogus",
    "",
    "102-processing",
]


@dataclass(frozen=True)
class Profile:
    """What a server may do that gunicorn + django-expect does not (docs in stress/README or
    tests/wire/test_fuzz_servers.py): ``eager_continue``: it sends the 100 before the application
    runs (waitress, or the server's own), so a refusal from the head may follow a 100;
    ``server_errors``: 5xx statuses the server itself answers for framing it does not support
    (gunicorn's 501 for an unknown transfer coding)."""

    name: str = "gunicorn"
    eager_continue: bool = False
    #: The client half-closes after sending (gunicorn answers what it parsed). uvicorn treats a
    #: half-close as a disconnect and answers nothing: for it the client keeps its side open
    #: and stops reading once the server is idle for ``IDLE_END`` seconds.
    half_close: bool = True
    server_errors: frozenset[int] = frozenset({501})
    #: Answers requests pipelined behind the first on one connection. uWSGI's
    #: ``--http11-socket`` closes the connection instead, without a word, when bytes follow
    #: the request it answered (``uwsgi_proto_http11_close`` in ``proto/http.c``: "close the
    #: connection on ... pipelined ... requests"); RFC 9112 9.3.2 lets a server close with
    #: pipelined requests unanswered (the client retries them), so answering only the first
    #: is no violation there.
    pipelining: bool = True


GUNICORN = Profile()
#: Every server adapter besides gunicorn's workers, with what it may do beyond them
#: (tests/wire/test_fuzz_servers.py, stress/run.py's ``fuzz-servers``).
SERVER_PROFILES = {
    # uvicorn and gunicorn -k asgi treat a client's half-close as a disconnect (no answer).
    "uvicorn-h11": Profile("uvicorn-h11", half_close=False),
    "gunicorn-asgi": Profile("gunicorn-asgi", half_close=False),
    "granian": Profile("granian", half_close=False),  # no answer to a half-closed client
    "runserver": Profile("runserver"),
    # waitress sends the 100 itself as soon as the head is parsed (docs/howto/servers.md).
    # waitress also treats the client's half-close as a disconnect: handle_read() sets
    # connected = False on EOF and service() then skips the requests it had queued.
    "waitress": Profile("waitress", eager_continue=True, half_close=False),
    "uwsgi-http11-socket": Profile("uwsgi-http11-socket", pipelining=False),
}
ASGI_KINDS = ("uvicorn-h11", "gunicorn-asgi", "granian")


@dataclass
class Request:
    wire: bytes  # head + body bytes exactly as sent
    asks_continue: bool  # HTTP/1.1 with a valid 100-continue expectation
    framed_body: bytes | None  # the body the server should frame (None: unknown / invalid)
    head_len: int
    well_formed: bool  # a server that parses it must answer it
    declared_length: bool = False  # one valid Content-Length, no Transfer-Encoding
    head_intact: bool = True  # False once a byte of the head was mutated

    @property
    def http10(self) -> bool:
        """The request line says HTTP/1.0 (the generator never sends ``Connection`` fields)."""
        line = self.wire[: self.head_len].split(b"\n", 1)[0].rstrip(b"\r")
        return line.endswith(b" HTTP/1.0")


@dataclass
class Scenario:
    seed: str
    requests: list[Request]
    mode: str  # eager | wait | split | partial | abort
    cut: int = 0  # bytes sent in partial/abort modes
    send_body_after_rejection: bool = False
    splits: list[int] = field(default_factory=list)


def _expect_header(rng: random.Random) -> list[tuple[str, str]]:
    roll = rng.random()
    if roll < 0.35:
        return []
    if roll < 0.9:
        return [(rng.choice(["Expect", "expect", "EXPECT"]), "100-continue")]
    if roll < 0.95:
        return [("Expect", "100-continue"), ("Expect", "100-continue")]
    return [("Expect", rng.choice(EXPECT_VARIANTS))]


def _build_request(rng: random.Random) -> Request:
    path = rng.choice(list(PATHS))
    method = rng.choice(["POST", "POST", "PUT", "PATCH", "GET", "OPTIONS"])
    version = "HTTP/1.0" if rng.random() < 0.08 else "HTTP/1.1"
    size = rng.choice([0, rng.randint(1, 900), rng.randint(901, 1100), rng.randint(1101, 30000)])
    body = rng.randbytes(size)
    headers: list[tuple[str, str]] = [("Host", "127.0.0.1")]
    headers += _expect_header(rng)
    if rng.random() < 0.7:
        headers.append(
            ("Content-Type", rng.choice(["application/octet-stream", "image/png", "text/plain"]))
        )
    if rng.random() < 0.3:
        headers.append(("Authorization", rng.choice(["Token demo-token", "Token wrong"])))
    if path == "/lab/check" and rng.random() < 0.5:
        headers.append(("X-Upload-Ticket", "valid"))
    framing = rng.choices(
        [
            "length",
            "chunked",
            "short",
            "long",
            "malformed",
            "repeated",
            "both",
            "te-gzip",
            "none",
            *list(SMUGGLING),
        ],
        weights=[55, 12, 5, 4, 5, 4, 3, 2, 10] + [1] * len(SMUGGLING),
    )[0]
    framed: bytes | None = body
    well_formed = True
    payload = body
    if framing == "length":
        headers.append(("Content-Length", str(len(body))))
    elif framing == "chunked":
        if version == "HTTP/1.0":
            well_formed = False
            framed = None
        headers.append(("Transfer-Encoding", "chunked"))
        payload = _chunk(rng, body)
    elif framing == "short":  # declares more than it sends: only EOF ends it
        headers.append(("Content-Length", str(len(body) + rng.randint(1, 5000))))
        framed, well_formed = None, False  # what follows is read as its body
    elif framing == "long":  # sends more than it declares: the rest is the next "request"
        cut = rng.randint(0, len(body))
        headers.append(("Content-Length", str(cut)))
        framed = body[:cut]
        well_formed = False
    elif framing == "malformed":
        headers.append(("Content-Length", rng.choice(["abc", "-1", "1e3", "0x10", "12 3", "+5"])))
        framed, well_formed = None, False
    elif framing == "repeated":
        headers += [("Content-Length", str(len(body)))] * 2
        framed, well_formed = None, False
    elif framing == "both":
        headers += [("Content-Length", str(len(body))), ("Transfer-Encoding", "chunked")]
        payload = _chunk(rng, body)
        framed, well_formed = None, False
    elif framing == "te-gzip":
        headers.append(("Transfer-Encoding", "gzip"))
        framed, well_formed = None, False
    elif framing in SMUGGLING:
        headers, payload = _smuggle(rng, framing, headers, body)
        framed, well_formed = None, False
    else:  # no framing: no body
        framed, payload = b"", b""
    declared = framing in ("length", "short", "long")
    rng.shuffle(headers)
    asks = False
    expects = [v for k, v in headers if k.lower() == "expect"]
    tokens = [t.strip().lower() for v in expects for t in v.split(",") if t.strip()]
    if tokens and any(t != "100-continue" for t in tokens):
        well_formed = well_formed and True  # answered 417 by gunicorn or the core: still answered
    elif tokens and version == "HTTP/1.1":
        asks = True
    head = f"{method} {path} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    if framing == "bare-lf":  # every line ended by LF alone (RFC 9112 2.2: MAY accept)
        head = head.replace("\r\n", "\n")
    raw_head = head.encode("latin-1")
    return Request(raw_head + payload, asks, framed, len(raw_head), well_formed, declared)


#: Framing the request-smuggling research (PortSwigger's "HTTP Desync Attacks", the HTTP/1.1
#: must-die cases) lists and that reaches a server: each is ambiguous or invalid, so a server
#: answers it once (400, 501, 411...) and closes, or frames it one way; never is the rest of its
#: body parsed as a second request (invariants 4 and 5). ``well_formed`` is False for all.
SMUGGLING = (
    "cl-conflict",  # Content-Length: n and Content-Length: n+1
    "cl-list",  # Content-Length: n, n
    "cl-te",  # Content-Length then Transfer-Encoding: chunked (reversed order of "both")
    "te-chunked-identity",  # Transfer-Encoding: chunked, identity
    "te-identity-chunked",  # Transfer-Encoding: identity, chunked
    "te-xchunked",  # Transfer-Encoding: xchunked
    "te-upper",  # Transfer-Encoding: CHUNKED
    "te-space",  # Transfer-Encoding with odd whitespace
    "te-twice",  # two Transfer-Encoding: chunked fields
    "obs-fold",  # a framing header continued on the next line
    "bare-lf",  # LF line endings
    "chunk-ext-long",  # a 40 kB chunk extension
)


def _smuggle(
    rng: random.Random, framing: str, headers: list[tuple[str, str]], body: bytes
) -> tuple[list[tuple[str, str]], bytes]:
    """Headers and payload for one of the ``SMUGGLING`` framings; the body always carries a
    request-looking tail, so a server that frames it short would answer a second request."""
    tail = b"GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    body = body + tail
    n = str(len(body))
    if framing == "cl-conflict":
        return [*headers, ("Content-Length", n), ("Content-Length", str(len(body) + 1))], body
    if framing == "cl-list":
        return [*headers, ("Content-Length", f"{n}, {n}")], body
    if framing == "cl-te":
        return [*headers, ("Content-Length", n), ("Transfer-Encoding", "chunked")], body
    if framing == "obs-fold":
        name = rng.choice(["Content-Length", "Transfer-Encoding"])
        value = n if name == "Content-Length" else "chunked"
        payload = _chunk(rng, body) if name == "Transfer-Encoding" else body
        return [*headers, (name, f"\r\n {value}")], payload
    if framing == "bare-lf":
        return [*headers, ("Content-Length", n)], body
    if framing == "chunk-ext-long":
        ext = ";x=" + "a" * 40_000
        return [*headers, ("Transfer-Encoding", "chunked")], (
            f"{len(body):x}{ext}\r\n".encode() + body + b"\r\n0\r\n\r\n"
        )
    value = {
        "te-chunked-identity": "chunked, identity",
        "te-identity-chunked": "identity, chunked",
        "te-xchunked": "xchunked",
        "te-upper": "CHUNKED",
        "te-space": rng.choice([" chunked", "chunked ", "\tchunked", "chunked\t", "chun ked"]),
        "te-twice": "chunked",
    }[framing]
    extra = [("Transfer-Encoding", value)]
    if framing == "te-twice":
        extra.append(("Transfer-Encoding", value))
    return headers + extra, _chunk(rng, body)


def _chunk(rng: random.Random, data: bytes) -> bytes:
    out, i = [], 0
    while i < len(data):
        n = rng.randint(1, 9000)
        piece = data[i : i + n]
        ext = rng.choice(["", "", ";name=value"])
        out.append(f"{len(piece):x}{ext}\r\n".encode() + piece + b"\r\n")
        i += n
    return b"".join(out) + b"0\r\n\r\n"


def generate(seed: str) -> Scenario:
    rng = random.Random(seed)
    count = rng.choices([1, 2, 3], weights=[70, 20, 10])[0]
    requests = [_build_request(rng) for _ in range(count)]
    if rng.random() < 0.04:  # one mutated byte somewhere in the first head
        first = requests[0]
        wire = bytearray(first.wire)
        wire[rng.randrange(first.head_len)] = rng.choice(b"\x00\n\r :\x7f\xffaZ")
        requests[0] = Request(bytes(wire), False, None, first.head_len, False, head_intact=False)
    modes = ["eager", "split", "partial", "abort"] + (["wait"] * 3 if count == 1 else [])
    mode = rng.choice(modes)
    total = sum(len(r.wire) for r in requests)
    scenario = Scenario(seed, requests, mode)
    if mode in ("partial", "abort"):
        scenario.cut = rng.randint(0, total)
    if mode == "split" and total > 1:
        scenario.splits = sorted(rng.sample(range(1, total), min(6, total - 1)))
    scenario.send_body_after_rejection = rng.random() < 0.5
    return scenario


# --------------------------------------------------------------------------- running


@dataclass
class Parsed:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Result:
    scenario: Scenario
    responses: list[Parsed]
    trailing: bytes
    reset: bool
    error: str | None = None


def _send_all(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
        return True
    except OSError:
        return False


IDLE_END = 2.0


def run_one(
    address: tuple[str, int],
    scenario: Scenario,
    timeout: float = 15.0,
    profile: Profile | None = None,
) -> Result:
    half_close = profile is None or profile.half_close
    sock = socket.create_connection(address, timeout=timeout)
    received = bytearray()
    reset = False
    try:
        wire = b"".join(r.wire for r in scenario.requests)
        if scenario.mode == "eager":
            _send_all(sock, wire)
        elif scenario.mode == "split":
            last = 0
            for cut in [*scenario.splits, len(wire)]:
                if not _send_all(sock, wire[last:cut]):
                    break
                last = cut
        elif scenario.mode in ("partial", "abort"):
            _send_all(sock, wire[: scenario.cut])
            if scenario.mode == "abort":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
                return Result(scenario, [], b"", True)
        else:  # wait: the head, then up to 0.3 s for the first response, like curl's 1 s
            request = scenario.requests[0]
            _send_all(sock, request.wire[: request.head_len])
            sock.settimeout(0.3)
            try:
                chunk = sock.recv(65536)
                received += chunk
            except TimeoutError:
                chunk = None
            sock.settimeout(timeout)
            got_final = chunk is not None and not chunk.startswith(b"HTTP/1.1 100 ")
            if chunk != b"" and (not got_final or scenario.send_body_after_rejection):
                _send_all(sock, request.wire[request.head_len :])
        if half_close:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if not half_close:
                    break
                return Result(scenario, [], bytes(received), reset, "the server never closed")
            sock.settimeout(remaining if half_close else min(remaining, IDLE_END))
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                reset = True
                break
            except TimeoutError:
                if not half_close:
                    break  # idle: everything the server had to say was said
                continue
            if not data:
                break
            received += data
            if not half_close and _all_answered(bytes(received), len(scenario.requests)):
                break
    finally:
        sock.close()
    responses, trailing = parse_responses(bytes(received))
    return Result(scenario, responses, trailing, reset)


def _all_answered(data: bytes, requests: int) -> bool:
    """Every request has its final status, or a final status said ``Connection: close`` (the
    server will close; a client that did not half-close need not wait for it)."""
    responses, _ = parse_responses(data)
    finals = [r for r in responses if r.status >= 200]
    if any(r.headers.get("connection", "").lower() == "close" for r in finals):
        return False  # wait for the close itself: bytes after it are a violation to see
    return len(finals) >= requests


def parse_responses(data: bytes) -> tuple[list[Parsed], bytes]:
    """Responses in ``data`` and whatever could not be parsed as one."""
    out: list[Parsed] = []
    rest = data
    while rest:
        end = rest.find(b"\r\n\r\n")
        if end < 0 or not rest.startswith(b"HTTP/1."):
            return out, rest
        lines = rest[:end].decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split(" ")[1])
        except (IndexError, ValueError):
            return out, rest
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        rest = rest[end + 4 :]
        if status < 200 or status in (204, 304):
            out.append(Parsed(status, headers, b""))
            continue
        if "content-length" in headers:
            n = int(headers["content-length"])
            if len(rest) < n:
                return out, rest
            out.append(Parsed(status, headers, rest[:n]))
            rest = rest[n:]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = bytearray()
            while True:
                line_end = rest.find(b"\r\n")
                if line_end < 0:
                    return out, rest
                size = int(rest[:line_end].split(b";")[0], 16)
                chunk_data = rest[line_end + 2 : line_end + 2 + size]
                rest = rest[line_end + 2 + size + 2 :]
                if size == 0:
                    break
                body += chunk_data
            out.append(Parsed(status, headers, bytes(body)))
        else:
            out.append(Parsed(status, headers, rest))
            rest = b""
    return out, rest


# --------------------------------------------------------------------------- invariants


def check(result: Result, profile: Profile = GUNICORN) -> list[str]:
    """Violations of the invariants in the module docstring (empty: the exchange was fine)."""
    scenario = result.scenario
    if result.error:
        return [result.error]
    if scenario.mode == "abort":
        # The client resets before reading anything: there is no byte on its side to check.
        # What an abort can break is the server's side, which the runners check for every
        # exchange (the worker PIDs never change, no socket stays open, no error line in the log).
        return []
    problems: list[str] = []
    if result.trailing:
        problems.append(f"unparseable bytes from the server: {result.trailing[:80]!r}")
    requests = scenario.requests
    finals: list[Parsed] = []
    interim_for: list[list[Parsed]] = []
    pending: list[Parsed] = []
    for index, response in enumerate(result.responses):
        if finals and finals[-1].headers.get("connection", "").lower() == "close":
            problems.append(f"response #{index} ({response.status}) after Connection: close")
            break
        if response.status < 200:
            if response.status != 100:
                problems.append(f"unexpected interim status {response.status}")
            pending.append(response)
            if len(pending) > 1:
                problems.append("more than one 100 Continue for one request")
            continue
        finals.append(response)
        interim_for.append(pending)
        pending = []
    if pending and (profile.half_close or scenario.mode not in ("partial", "wait")):
        # Without a half-close, a partial (or never sent) body is still awaited when the client
        # stops reading (after IDLE_END): its final status is the server's timeout, later.
        problems.append("a 100 Continue with no final status after it")
    # Requests after one that lied about its length (or that was cut off) are unknowable: the
    # final statuses up to and including the first such request's (when its head is intact) are
    # attributable to their request; the ones after it are checked for what holds of any answer.
    trusted = len(requests)
    for i, request in enumerate(requests):
        if not request.well_formed:
            trusted = i
            break
    attributable = (
        trusted + 1 if trusted < len(requests) and requests[trusted].head_intact else trusted
    )
    sent_all = scenario.mode in ("eager", "split", "wait")
    if len(finals) > len(requests) and trusted == len(requests):
        problems.append(f"{len(finals)} final statuses for {len(requests)} requests")
    for i, final in enumerate(finals):
        if final.status >= 500 and final.status not in profile.server_errors:
            problems.append(f"final #{i}: server error {final.status}")
        document = _json(final.body)
        code = document.get("error", {}).get("code") if isinstance(document, dict) else None
        if i >= attributable:
            if (
                interim_for[i]
                and not profile.eager_continue
                and (code in HEAD_REFUSALS or final.status in HEAD_STATUSES)
            ):
                refusal = code or final.status
                problems.append(
                    f"final #{i}: 100 Continue before a refusal from the head ({refusal})"
                )
            continue
        request = requests[i]
        if interim_for[i] and not request.asks_continue:
            problems.append(f"request {i}: 100 Continue to a request that did not ask for it")
        refused_from_head = (
            code in HEAD_REFUSALS
            or final.status in HEAD_STATUSES
            or (code == "content_too_large" and request.declared_length)
        )
        if interim_for[i] and refused_from_head and not profile.eager_continue:
            refusal = code or final.status
            problems.append(f"request {i}: 100 Continue before a refusal from the head ({refusal})")
        if (
            final.status == 200
            and isinstance(document, dict)
            and "sha256" in document
            and request.framed_body is not None
            and scenario.mode != "partial"
        ):
            expected = hashlib.sha256(request.framed_body).hexdigest()
            if document["sha256"] != expected:
                problems.append(f"request {i}: digest mismatch (the upload was altered)")
    if sent_all and scenario.mode != "wait" and trusted == len(requests):
        answered = len(finals)
        closed_early = bool(finals) and _closes_after(requests[len(finals) - 1], finals[-1])
        closed_early = closed_early or (answered >= 1 and not profile.pipelining)
        if answered < len(requests) and not closed_early:
            problems.append(
                f"only {answered} of {len(requests)} requests answered on an open connection"
            )
        if answered == 0:
            problems.append("no final status at all")
    if scenario.mode == "wait" and requests[0].well_formed and not finals:
        problems.append("no final status at all")
    return problems


def _closes_after(request: Request, final: Parsed) -> bool:
    """The server may close the connection after ``final``, the answer to ``request``: the
    answer says ``Connection: close``, or the request was HTTP/1.0 and the answer does not say
    ``keep-alive`` (RFC 9112 9.3: an HTTP/1.0 connection persists only when both sides say
    keep-alive). A request pipelined behind such an answer need not be answered (granian
    answers an HTTP/1.0 request, then closes without a ``Connection`` field: seed 24:271)."""
    connection = final.headers.get("connection", "").lower()
    if connection == "close":
        return True
    return request.http10 and "keep-alive" not in connection


def _json(body: bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


# --------------------------------------------------------------------------- many exchanges


@dataclass
class FuzzReport:
    seed: int
    exchanges: int = 0
    requests: int = 0
    finals: int = 0
    continues: int = 0
    resets_seen: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    modes: Counter[str] = field(default_factory=Counter)
    violations: list[tuple[str, list[str]]] = field(default_factory=list)
    seconds: float = 0.0
    profile: Profile = GUNICORN

    def add(self, result: Result) -> None:
        self.exchanges += 1
        self.requests += len(result.scenario.requests)
        self.modes[result.scenario.mode] += 1
        self.resets_seen += result.reset
        for response in result.responses:
            if response.status == 100:
                self.continues += 1
            else:
                self.finals += 1
                self.statuses[response.status] += 1
        problems = check(result, self.profile)
        if problems:
            self.violations.append((result.scenario.seed, problems))


def run(
    address: tuple[str, int],
    seed: int,
    count: int,
    *,
    start: int = 0,
    concurrency: int = 16,
    profile: Profile = GUNICORN,
) -> FuzzReport:
    report = FuzzReport(seed, profile=profile)
    began = time.monotonic()

    def one(index: int) -> Result:
        return run_one(address, generate(f"{seed}:{index}"), profile=profile)

    with ThreadPoolExecutor(concurrency) as pool:
        for result in pool.map(one, range(start, start + count)):
            report.add(result)
    report.seconds = time.monotonic() - began
    return report
