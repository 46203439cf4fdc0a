"""Fixtures. Integration tests (marked `integration`) run against the sandboxd named by
SANDBOXD_URL / SANDBOXD_TOKEN (build/sandboxd_with_daemon sets them) and are skipped
without it; test.sh refuses to run without it, so CI never skips them silently."""

from __future__ import annotations

import os
import secrets
import string
import time
from typing import Callable, Iterator, TypeVar

import pytest

from sandboxed import NotFoundError, Sandbox, Sandboxed

T = TypeVar("T")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("SANDBOXD_URL"):
        return
    skip = pytest.mark.skip(reason="SANDBOXD_URL is not set (run under build/sandboxd_with_daemon)")
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(skip)


def eventually(pred: Callable[[], T], timeout: float = 60.0, interval: float = 0.2) -> T:
    """Polls `pred` until it returns something truthy (returned) or `timeout` passes
    (AssertionError with its last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {value!r})")
        time.sleep(interval)


@pytest.fixture(scope="session")
def tag() -> str:
    """A random prefix of ids and names: this run's objects only."""
    alphabet = string.ascii_lowercase + string.digits
    return "py" + "".join(secrets.choice(alphabet) for _ in range(8))


@pytest.fixture(scope="session")
def client() -> Iterator[Sandboxed]:
    c = Sandboxed()
    yield c
    c.close()


class SandboxFactory:
    """Creates sandboxes with unique ids and purges them (and names them for cleanup)
    at the end of the test."""

    def __init__(self, client: Sandboxed, tag: str) -> None:
        self.client = client
        self.tag = tag
        self.ids: list[str] = []
        self.snapshots: list[str] = []
        self._n = 0

    def new_id(self) -> str:
        self._n += 1
        sid = f"{self.tag}{secrets.token_hex(3)}{self._n}"
        self.ids.append(sid)
        return sid

    def create(self, **kwargs: object) -> Sandbox:
        kwargs.setdefault("id", self.new_id())
        if kwargs["id"] not in self.ids:
            self.ids.append(str(kwargs["id"]))
        return self.client.sandboxes.create(**kwargs)  # type: ignore[arg-type]

    def cleanup(self) -> None:
        for name in self.snapshots:
            try:
                self.client.snapshots.delete(name)
            except NotFoundError:
                pass
        for sid in self.ids:
            self.client.sandboxes.purge(sid)


@pytest.fixture
def boxes(client: Sandboxed, tag: str) -> Iterator[SandboxFactory]:
    f = SandboxFactory(client, tag)
    try:
        yield f
    finally:
        f.cleanup()
