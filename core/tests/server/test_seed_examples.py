"""The seeds' server examples (server tutorial, index) run with ``import anyftp as aioftp``."""

from __future__ import annotations

import asyncio
import ftplib
import io
from pathlib import Path

import pytest

import anyftp as aioftp

from .conftest import TIMEOUT, ServerThread

pytestmark = pytest.mark.timeout(60)


def login(server: ServerThread, user: str = "anonymous", password: str = "x") -> ftplib.FTP:
    ftp = ftplib.FTP()
    ftp.connect(server.host, server.port, timeout=TIMEOUT)
    ftp.login(user, password)
    return ftp


def test_default_server_is_anonymous_read_write_on_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    server = ServerThread(aioftp.Server(login_failure_delay=0)).start()
    try:
        ftp = login(server)
        ftp.storbinary("STOR here.txt", io.BytesIO(b"cwd"))
        ftp.quit()
    finally:
        server.stop()
    assert (tmp_path / "here.txt").read_bytes() == b"cwd"


def test_users_and_permissions_example(tmp_path: Path) -> None:
    (tmp_path / "Guido").mkdir()
    (tmp_path / "anon").mkdir()
    (tmp_path / "anon" / "public.txt").write_bytes(b"public")
    users = (
        aioftp.User(
            "Guido",
            "secret_password",
            base_path=tmp_path,
            home_path="/Guido",
            permissions=(
                aioftp.Permission("/", readable=False, writable=False),
                aioftp.Permission("/Guido", readable=True, writable=True),
            ),
        ),
        aioftp.User(
            base_path=tmp_path,
            home_path="/anon",
            permissions=(
                aioftp.Permission("/", readable=False, writable=False),
                aioftp.Permission("/anon", readable=True),
            ),
        ),
    )
    server = ServerThread(aioftp.Server(users, login_failure_delay=0)).start()
    try:
        guido = login(server, "Guido", "secret_password")
        assert guido.pwd() == "/Guido"
        guido.storbinary("STOR mine.txt", io.BytesIO(b"guido"))
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            guido.nlst("/")
        guido.quit()
        anon = login(server)
        assert anon.pwd() == "/anon"
        assert anon.nlst() == ["public.txt"]
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            anon.storbinary("STOR x", io.BytesIO(b"x"))
        anon.quit()
    finally:
        server.stop()
    assert (tmp_path / "Guido" / "mine.txt").read_bytes() == b"guido"


def test_memory_path_io_timeouts_limits_and_throttles_are_accepted() -> None:
    server = aioftp.Server(
        path_io_factory=aioftp.MemoryPathIO,
        socket_timeout=5,
        path_timeout=5,
        idle_timeout=5,
        wait_future_timeout=5,
        maximum_connections=3,
        read_speed_limit=1024 * 1024,
        write_speed_limit=1024 * 1024,
        read_speed_limit_per_connection=100 * 1024,
        write_speed_limit_per_connection=100 * 1024,
        login_failure_delay=0,
    )
    thread = ServerThread(server).start()
    try:
        ftp = login(thread)
        ftp.storbinary("STOR m", io.BytesIO(b"memory"))
        assert ftp.nlst() == ["m"]
        ftp.quit()
    finally:
        thread.stop()
    users = (
        aioftp.User(
            maximum_connections=3,
            read_speed_limit=1024 * 1024,
            write_speed_limit=1024 * 1024,
            read_speed_limit_per_connection=100 * 1024,
            write_speed_limit_per_connection=100 * 1024,
        ),
    )
    assert aioftp.Server(users).user_manager.users[0].maximum_connections == 3  # type: ignore[attr-defined]


def test_index_example_start_and_close_outside_a_running_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    loop = asyncio.new_event_loop()
    try:
        server = aioftp.Server()
        loop.run_until_complete(server.start(None, 0))
        assert server.server_port > 0
        server.close()  # the server tutorial's way: close, then wait_closed
        loop.run_until_complete(server.wait_closed())
        server = aioftp.Server()
        loop.run_until_complete(server.start("127.0.0.1", 0))
        loop.run_until_complete(server.close())  # the index's way: await close()
    finally:
        loop.close()
