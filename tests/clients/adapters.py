"""Six real HTTP clients behind one small interface, each keeping its own connection pool.

``client.request(method, url, body=Path | None, headers={...}) -> Result`` sends one request the
way that client normally does (its own Expect: 100-continue behaviour, its own timeouts). One
adapter object is one client session: pycurl's handle, botocore's pool, aiohttp's session, one
Node process with a keep-alive agent, one Go process with one http.Client. The curl CLI is one
process per request, plus ``request_chain`` (several URLs in one process, ``--next``).

No adapter counts bytes: the tests count them with harness/relay.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.clients import tools

TIMEOUT = 30.0


@dataclass
class Result:
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # lowercased names
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    name = "?"

    def request(
        self, method: str, url: str, body: Path | None = None, headers: dict[str, str] | None = None
    ) -> Result:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _parse_head(raw: bytes) -> tuple[int, dict[str, str]]:
    """The last final response head in curl's header dump (skips 100 Continue blocks)."""
    status, headers = 0, {}
    for block in raw.decode("latin-1").split("\r\n\r\n"):
        lines = [line for line in block.split("\r\n") if line]
        if not lines or not lines[0].startswith("HTTP/"):
            continue
        code = int(lines[0].split()[1])
        if code < 200:
            continue
        status, headers = code, {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return status, headers


# -- curl CLI ----------------------------------------------------------------------------------


class CurlCLI(Client):
    name = "curl"

    def __init__(self, extra: list[str] | None = None) -> None:
        self.curl = tools.executable("curl", "apt-get install curl")
        self.extra = extra or []
        self.tmp = Path(tempfile.mkdtemp(prefix="curl-"))

    def _args(
        self, method: str, url: str, body: Path | None, headers: dict[str, str] | None, n: int
    ) -> list[str]:
        args = ["-sS", "-X", method, "-D", str(self.tmp / f"h{n}"), "-o", str(self.tmp / f"b{n}")]
        if body is not None:
            args += ["-T", str(body)]
        for name, value in (headers or {}).items():
            args += ["-H", f"{name}: {value}"]
        return [*args, url]

    def _result(self, n: int) -> Result:
        status, headers = _parse_head((self.tmp / f"h{n}").read_bytes())
        body = self.tmp / f"b{n}"
        return Result(status, headers, body.read_bytes() if body.exists() else b"")

    def request(
        self, method: str, url: str, body: Path | None = None, headers: dict[str, str] | None = None
    ) -> Result:
        return self.request_chain([(method, url, body, headers)])[0]

    def request_chain(
        self, jobs: list[tuple[str, str, Path | None, dict[str, str] | None]]
    ) -> list[Result]:
        """Several requests in one curl process (one connection cache), joined by ``--next``."""
        args: list[str] = [self.curl, *self.extra]
        for n, (method, url, body, headers) in enumerate(jobs):
            if n:
                args.append("--next")
            args += [*self.extra] if n else []
            args += self._args(method, url, body, headers, n)
        done = subprocess.run(args, capture_output=True, timeout=TIMEOUT)
        if done.returncode != 0 and not (self.tmp / f"h{len(jobs) - 1}").exists():
            # A server that answers and closes while curl is still sending makes curl exit
            # non-zero (55) after it has the response: only a missing response is an error.
            raise RuntimeError(f"curl exited {done.returncode}: {done.stderr!r}")
        return [self._result(n) for n in range(len(jobs))]


# -- libcurl 8 through pycurl -----------------------------------------------------------------


class PyCurl(Client):
    name = "pycurl"

    def __init__(self, cainfo: str | None = None, http2: bool = False) -> None:
        pycurl = tools.python_module("pycurl", "pip install pycurl")
        self.pycurl: Any = pycurl
        self.handle = pycurl.Curl()  # type: ignore[attr-defined]
        self.cainfo = cainfo
        self.http_version = pycurl.CURL_HTTP_VERSION_2TLS if http2 else pycurl.CURL_HTTP_VERSION_1_1  # type: ignore[attr-defined]

    def request(
        self, method: str, url: str, body: Path | None = None, headers: dict[str, str] | None = None
    ) -> Result:
        pycurl, c = self.pycurl, self.handle
        c.reset()  # keeps the handle's connection cache
        head, out = bytearray(), bytearray()
        c.setopt(pycurl.URL, url)
        c.setopt(pycurl.HEADERFUNCTION, head.extend)
        c.setopt(pycurl.WRITEFUNCTION, out.extend)
        c.setopt(pycurl.TIMEOUT, int(TIMEOUT))
        c.setopt(pycurl.HTTP_VERSION, self.http_version)
        if self.cainfo:
            c.setopt(pycurl.CAINFO, self.cainfo)
        c.setopt(pycurl.HTTPHEADER, [f"{k}: {v}" for k, v in (headers or {}).items()])
        source = None
        if body is not None:
            source = open(body, "rb")  # noqa: SIM115
            c.setopt(pycurl.UPLOAD, 1)
            c.setopt(pycurl.READFUNCTION, source.read)
            c.setopt(pycurl.INFILESIZE_LARGE, body.stat().st_size)
        c.setopt(pycurl.CUSTOMREQUEST, method)
        try:
            c.perform()
        finally:
            if source is not None:
                source.close()
        status, headers_out = _parse_head(bytes(head))
        return Result(status, headers_out, bytes(out))

    def close(self) -> None:
        self.handle.close()


# -- boto3 / botocore ---------------------------------------------------------------------------


class Boto3(Client):
    """Only S3 calls: ``put_object`` / ``get_object`` on bucket ``objects`` (path style)."""

    name = "boto3"

    def __init__(self, endpoint_url: str) -> None:
        boto3 = tools.python_module("boto3", "pip install boto3")
        from botocore.config import Config

        self.s3 = boto3.session.Session().client(  # type: ignore[attr-defined]
            "s3",
            endpoint_url=endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="demo",
            aws_secret_access_key="demo",
            config=Config(
                s3={"addressing_style": "path"},
                retries={"total_max_attempts": 1},  # show every status; no retry hides one
                request_checksum_calculation="when_required",  # a plain body, not aws-chunked
                response_checksum_validation="when_required",
                max_pool_connections=1,
            ),
        )

    def put_object(self, key: str, body: Path) -> Result:
        from botocore.exceptions import ClientError

        try:
            with open(body, "rb") as f:
                response = self.s3.put_object(Bucket="objects", Key=key, Body=f)
        except ClientError as error:
            meta = error.response["ResponseMetadata"]
            return Result(meta["HTTPStatusCode"], dict(meta.get("HTTPHeaders", {})))
        meta = response["ResponseMetadata"]
        return Result(meta["HTTPStatusCode"], dict(meta["HTTPHeaders"]))

    def get_object(self, key: str) -> Result:
        response = self.s3.get_object(Bucket="objects", Key=key)
        meta = response["ResponseMetadata"]
        return Result(meta["HTTPStatusCode"], dict(meta["HTTPHeaders"]), response["Body"].read())

    def close(self) -> None:
        self.s3.close()


# -- aiohttp ------------------------------------------------------------------------------------


class Aiohttp(Client):
    name = "aiohttp"

    def __init__(self) -> None:
        self.aiohttp: Any = tools.python_module("aiohttp", "pip install aiohttp")
        self.loop = asyncio.new_event_loop()
        self.session = self.loop.run_until_complete(self._session())

    async def _session(self) -> Any:
        return self.aiohttp.ClientSession(
            connector=self.aiohttp.TCPConnector(limit=1),
            timeout=self.aiohttp.ClientTimeout(total=TIMEOUT),
        )

    async def _request(
        self, method: str, url: str, body: Path | None, headers: dict[str, str] | None
    ) -> Result:
        data = body.read_bytes() if body is not None else None
        async with self.session.request(
            method, url, data=data, headers=headers or {}, expect100=body is not None
        ) as response:
            content = await response.read()
            return Result(
                response.status, {k.lower(): v for k, v in response.headers.items()}, content
            )

    def request(
        self, method: str, url: str, body: Path | None = None, headers: dict[str, str] | None = None
    ) -> Result:
        return self.loop.run_until_complete(self._request(method, url, body, headers))

    def close(self) -> None:
        self.loop.run_until_complete(self.session.close())
        self.loop.close()


# -- Node http and Go net/http: a long-lived process per client -------------------------------


class LineClient(Client):
    """A client program reading one JSON job per line and answering one JSON result per line."""

    def __init__(self, argv: list[str]) -> None:
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )

    def request(
        self, method: str, url: str, body: Path | None = None, headers: dict[str, str] | None = None
    ) -> Result:
        assert self.process.stdin is not None and self.process.stdout is not None
        job = {
            "method": method,
            "url": url,
            "file": str(body) if body else "",
            "headers": headers or {},
            "timeout_ms": int(TIMEOUT * 1000),
        }
        self.process.stdin.write(json.dumps(job).encode() + b"\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()  # bounded by the client's own timeout
        if not line:
            raise RuntimeError(f"{self.name} exited: {self.process.stderr.read()!r}")  # type: ignore[union-attr]
        answer = json.loads(line)
        if answer.get("error"):
            raise RuntimeError(f"{self.name}: {answer['error']}")
        headers_out = {
            k.lower(): (", ".join(v) if isinstance(v, list) else str(v))
            for k, v in (answer.get("headers") or {}).items()
        }
        return Result(answer["status"], headers_out, base64.b64decode(answer["body_b64"]))

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


class NodeHTTP(LineClient):
    name = "node"

    def __init__(self) -> None:
        node = tools.executable("node", "install Node.js 18+ (Debian: apt-get install nodejs)")
        super().__init__([node, str(tools.CLIENTS / "node_client.mjs")])


class GoHTTP(LineClient):
    name = "go"

    def __init__(self, build_dir: Path) -> None:
        super().__init__([str(tools.go_client(build_dir))])
