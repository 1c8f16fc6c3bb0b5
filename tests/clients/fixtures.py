"""Fixtures shared by the client, proxy and TLS tests (imported by those modules)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.clients.adapters import Aiohttp, Boto3, Client, CurlCLI, GoHTTP, NodeHTTP, PyCurl
from tests.clients.proxies import Proxy
from tests.clients.scenarios import Bodies

CLIENTS = ("curl", "pycurl", "boto3", "aiohttp", "node", "go")

ClientFactory = Callable[[str, str], Client]


@pytest.fixture(scope="session")
def bodies(tmp_path_factory: pytest.TempPathFactory) -> Bodies:
    return Bodies.make(tmp_path_factory.mktemp("bodies"))


@pytest.fixture(scope="session")
def go_build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("go")


@pytest.fixture
def make_client(go_build_dir: Path) -> Iterator[ClientFactory]:
    """``make_client(name, base_url)``: a fresh client session, closed after the test."""
    made: list[Client] = []

    def make(name: str, base_url: str) -> Client:
        client: Client
        if name == "curl":
            client = CurlCLI()
        elif name == "pycurl":
            client = PyCurl()
        elif name == "boto3":
            client = Boto3(base_url)
        elif name == "aiohttp":
            client = Aiohttp()
        elif name == "node":
            client = NodeHTTP()
        else:
            client = GoHTTP(go_build_dir)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


class ProxyPool:
    """One proxy process per (kind, upstream), started on first use, stopped at session end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.proxies: dict[tuple[str, tuple[str, int]], Proxy] = {}

    def get(self, kind: str, upstream: tuple[str, int]) -> Proxy:
        key = (kind, upstream)
        if key not in self.proxies:
            self.proxies[key] = Proxy(kind, upstream, self.tmp / f"{kind}-{upstream[1]}").start()
        return self.proxies[key]

    def stop_all(self) -> None:
        for proxy in self.proxies.values():
            proxy.stop()


@pytest.fixture(scope="session")
def proxy_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyPool]:
    pool = ProxyPool(tmp_path_factory.mktemp("proxies"))
    yield pool
    pool.stop_all()
