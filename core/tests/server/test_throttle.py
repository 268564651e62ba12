"""Four-level throttling (server, server per connection, user, user per connection).

A limit of L bytes/s can only make a transfer of N bytes take at least about N/L seconds
(minus the first block, sent at once); the tests assert that lower bound, which a
missing throttle fails and a slow machine can not."""

from __future__ import annotations

import ftplib
import io
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import anyftp

from .conftest import TIMEOUT, ServerThread

pytestmark = pytest.mark.timeout(60)

LIMIT = 2 * 1024 * 1024
SIZE = 3 * 1024 * 1024
# SIZE/LIMIT is 1.5 s; the first block (LIMIT/8) goes before any wait.
MINIMUM = (SIZE - LIMIT // 8) / LIMIT * 0.9


def client(server: ServerThread, login: str = "anonymous", password: str = "x") -> ftplib.FTP:
    ftp = ftplib.FTP()
    ftp.connect(server.host, server.port, timeout=TIMEOUT)
    ftp.login(login, password)
    return ftp


def timed_download(server: ServerThread, name: str, **login: Any) -> float:
    ftp = client(server, **login)
    started = time.monotonic()
    out = io.BytesIO()
    ftp.retrbinary(f"RETR {name}", out.write)
    elapsed = time.monotonic() - started
    assert len(out.getvalue()) == SIZE
    ftp.quit()
    return elapsed


def timed_upload(server: ServerThread, name: str, data: bytes) -> float:
    ftp = client(server)
    started = time.monotonic()
    ftp.storbinary(f"STOR {name}", io.BytesIO(data))
    elapsed = time.monotonic() - started
    ftp.quit()
    return elapsed


@pytest.fixture
def payload(tmp_path: Path) -> bytes:
    data = os.urandom(SIZE)
    (tmp_path / "blob").write_bytes(data)
    return data


def test_no_limit_is_fast(make_server: Callable[..., ServerThread], payload: bytes) -> None:
    server = make_server()
    assert timed_download(server, "blob") < MINIMUM


def test_download_limit_per_connection(
    make_server: Callable[..., ServerThread], payload: bytes
) -> None:
    server = make_server(write_speed_limit_per_connection=LIMIT)
    assert timed_download(server, "blob") >= MINIMUM


def test_upload_limit_per_server(
    make_server: Callable[..., ServerThread], payload: bytes, tmp_path: Path
) -> None:
    server = make_server(read_speed_limit=LIMIT)
    assert timed_upload(server, "up", payload) >= MINIMUM
    assert (tmp_path / "up").read_bytes() == payload


def test_server_limit_is_shared_by_connections(
    make_server: Callable[..., ServerThread], payload: bytes
) -> None:
    server = make_server(write_speed_limit=2 * LIMIT)
    times: list[float] = []

    def worker() -> None:
        times.append(timed_download(server, "blob"))

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 3)
    # 2 x SIZE through one 2 x LIMIT throttle: as long as one SIZE through LIMIT
    assert len(times) == 2
    assert time.monotonic() - started >= MINIMUM


@pytest.mark.parametrize(
    "limits", [{"write_speed_limit": LIMIT}, {"write_speed_limit_per_connection": LIMIT}]
)
def test_user_limits(
    make_server: Callable[..., ServerThread], payload: bytes, tmp_path: Path, limits: dict[str, int]
) -> None:
    users = [
        anyftp.User("slow", "pw", base_path=tmp_path, **limits),
        anyftp.User("fast", "pw", base_path=tmp_path),
    ]
    server = make_server(users=users)
    assert timed_download(server, "blob", login="slow", password="pw") >= MINIMUM
    assert timed_download(server, "blob", login="fast", password="pw") < MINIMUM
