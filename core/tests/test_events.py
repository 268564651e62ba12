"""Server events: what a plugin's ``anyftp_event`` and ``anyftp_command_done`` hooks see
for real FTP sessions (ftplib against a server on 127.0.0.1), and the records themselves."""

from __future__ import annotations

import asyncio
import dataclasses
import ftplib
import io
import json
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import anyftp
from anyftp import events
from anyftp.hookspecs import hookimpl
from anyftp.testing.servers import ServerGroup, connect, in_thread

pytestmark = pytest.mark.timeout(60)

TIMEOUT = 10

StartServer = Callable[..., Awaitable[anyftp.Server]]


class Recorder:
    """Keeps every event (and command timing); ``wait_for`` waits, bounded, for one."""

    name = "recorder"

    def __init__(self) -> None:
        self.events: list[events.Event] = []
        self.commands: list[events.CommandCompleted] = []
        self._changed = asyncio.Event()

    @hookimpl
    async def anyftp_event(self, event: events.Event) -> None:
        self.events.append(event)
        self._changed.set()

    @hookimpl
    async def anyftp_command_done(self, event: events.CommandCompleted) -> None:
        self.commands.append(event)
        self._changed.set()

    def named(self, kind: str) -> list[Any]:
        return [e for e in [*self.events, *self.commands] if e.name == kind]

    async def wait_for(self, kind: str, count: int = 1) -> list[Any]:
        await self.wait_until(lambda: len(self.named(kind)) >= count)
        return self.named(kind)

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(TIMEOUT):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[tuple[Any, Recorder]]]]:
    """Start a server with a Recorder; both are returned. Closed at the end."""
    group = ServerGroup(login_failure_delay=0, socket_timeout=TIMEOUT)

    async def start(**kwargs: Any) -> tuple[anyftp.Server, Recorder]:
        recorder = Recorder()
        kwargs.setdefault("users", [anyftp.User(base_path=tmp_path)])
        return await group.start(plugins=[recorder], **kwargs), recorder

    yield start
    await group.close()


async def test_a_session_reports_connect_login_logout_disconnect(served: Any) -> None:
    server, recorder = await served()
    ports: list[int] = []

    def session() -> None:
        ftp = connect(server)
        ports.append(ftp.sock.getsockname()[1])
        ftp.login()
        ftp.quit()

    await in_thread(session)
    await recorder.wait_for("disconnect")
    kinds = [e.name for e in recorder.events]
    assert kinds == ["connect", "login", "logout", "disconnect"]
    connected, login, logout, gone = recorder.events
    assert {e.session_id for e in recorder.events} == {connected.session_id}
    assert all(e.client_host == "127.0.0.1" and e.client_port == ports[0] for e in recorder.events)
    assert connected.user is None
    assert (login.user, logout.user, gone.user) == ("anonymous",) * 3
    assert isinstance(connected, events.Connected)
    assert connected.server_port == server.server_port
    assert 0 <= logout.duration <= gone.duration


async def test_each_session_has_its_own_id(served: Any) -> None:
    server, recorder = await served()

    def session() -> None:
        ftp = connect(server)
        ftp.quit()

    await in_thread(session)
    await in_thread(session)
    first, second = await recorder.wait_for("disconnect", 2)
    assert first.session_id != second.session_id
    assert first.user is None  # never logged in


async def test_a_refused_login_reports_the_name_given(served: Any, tmp_path: Path) -> None:
    server, recorder = await served(users=[anyftp.User("ann", "secret", base_path=tmp_path)])

    def session() -> None:
        ftp = connect(server)
        with pytest.raises(ftplib.error_perm):
            ftp.login("ann", "wrong")
        with pytest.raises(ftplib.error_perm):
            ftp.login("bob", "x")
        ftp.login("ann", "secret")
        ftp.quit()

    await in_thread(session)
    failed = await recorder.wait_for("login_failed", 2)
    assert [(e.login, e.result, e.user) for e in failed] == [
        ("ann", "refused", None),
        ("bob", "refused", None),
    ]
    assert failed[0].reason == "login incorrect"
    (login,) = await recorder.wait_for("login")
    assert login.user == "ann"


async def test_transfers_report_path_bytes_and_duration(served: Any) -> None:
    server, recorder = await served()
    data = b"x" * 300_000

    def session() -> None:
        ftp = connect(server)
        ftp.login()
        ftp.mkd("dir")
        ftp.storbinary("STOR dir/up.bin", io.BytesIO(data))
        ftp.storbinary("APPE dir/up.bin", io.BytesIO(b"tail"))
        ftp.retrbinary("RETR /dir/up.bin", io.BytesIO().write)
        ftp.quit()

    await in_thread(session)
    stored, appended = await recorder.wait_for("file_received", 2)
    (sent,) = await recorder.wait_for("file_sent")
    assert (stored.command, stored.path, stored.bytes, stored.result) == (
        "STOR",
        "/dir/up.bin",
        300_000,
        "ok",
    )
    assert (appended.command, appended.bytes) == ("APPE", 4)
    assert (sent.command, sent.path, sent.bytes) == ("RETR", "/dir/up.bin", 300_004)
    assert sent.duration >= 0 and sent.user == "anonymous"
    assert (stored.direction, sent.direction) == ("upload", "download")
    assert recorder.named("upload_incomplete") == recorder.named("download_incomplete") == []


async def test_file_operations_report_virtual_paths(served: Any, tmp_path: Path) -> None:
    server, recorder = await served()

    def session() -> None:
        ftp = connect(server)
        ftp.login()
        ftp.mkd("a")
        ftp.cwd("a")
        ftp.storbinary("STOR f", io.BytesIO(b"1"))
        ftp.rename("f", "/g")
        ftp.delete("/g")
        ftp.cwd("/")
        ftp.rmd("a")
        with pytest.raises(ftplib.error_perm):
            ftp.rmd("a")  # gone: a failed operation is not reported
        ftp.quit()

    await in_thread(session)
    await recorder.wait_for("disconnect")
    ops = [
        (e.name, e.path, getattr(e, "target", None))
        for e in recorder.events
        if e.name in {"mkdir", "rename", "delete", "rmdir"}
    ]
    assert ops == [
        ("mkdir", "/a", None),
        ("rename", "/a/f", "/g"),
        ("delete", "/g", None),
        ("rmdir", "/a", None),
    ]
    assert not (tmp_path / "a").exists()


async def test_an_aborted_download_is_reported_incomplete(served: Any, tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"y" * 2_000_000)
    # 200 kB/s: the download lasts ten seconds unless aborted.
    server, recorder = await served(write_speed_limit_per_connection=200_000)

    def session() -> None:
        ftp = connect(server)
        ftp.login()
        conn = ftp.transfercmd("RETR big")
        assert conn.recv(1000)
        conn.close()
        ftp.abort()
        ftp.quit()

    await in_thread(session)
    (incomplete,) = await recorder.wait_for("download_incomplete")
    assert (incomplete.command, incomplete.path, incomplete.result) == ("RETR", "/big", "aborted")
    assert 0 < incomplete.bytes < 2_000_000
    assert recorder.named("file_sent") == []


async def test_a_reset_upload_is_reported_incomplete(served: Any, tmp_path: Path) -> None:
    server, recorder = await served()

    def session() -> None:
        ftp = connect(server)
        ftp.login()
        conn = ftp.transfercmd("STOR part")
        conn.sendall(b"z" * 50_000)
        # Close with RST, not FIN: the server sees a broken upload, not a finished one.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
        with pytest.raises(ftplib.error_temp, match=r"^426"):
            ftp.voidresp()
        ftp.quit()

    await in_thread(session)
    (incomplete,) = await recorder.wait_for("upload_incomplete")
    assert (incomplete.command, incomplete.path, incomplete.result) == ("STOR", "/part", "failed")
    assert "connection failed" in incomplete.reason
    assert recorder.named("file_received") == []


async def test_command_timings_cover_transfers_until_they_end(served: Any, tmp_path: Path) -> None:
    (tmp_path / "slow").write_bytes(b"s" * 150_000)
    server, recorder = await served(write_speed_limit_per_connection=500_000)

    def session() -> None:
        ftp = connect(server)
        ftp.login()
        ftp.sendcmd("NOOP")
        ftp.retrbinary("RETR slow", io.BytesIO().write)
        with pytest.raises(ftplib.error_perm):
            ftp.sendcmd("XYZZY")
        ftp.quit()

    await in_thread(session)
    await recorder.wait_until(lambda: any(e.command == "XYZZY" for e in recorder.commands))
    names = [e.command for e in recorder.commands]
    assert names[:2] == ["USER", "NOOP"] and "RETR" in names
    # Unknown commands are reported too (the plugin decides what to make of them); only
    # QUIT may follow.
    assert names[names.index("XYZZY") + 1 :] in ([], ["QUIT"])
    (retr,) = [e for e in recorder.commands if e.command == "RETR"]
    assert retr.duration >= 0.15  # 150 kB at 500 kB/s: the transfer, not its start
    assert all(e.name == "command" for e in recorder.commands)
    assert not any(e.name == "command" for e in recorder.events)


def test_records_are_immutable_and_json_ready() -> None:
    record = events.Renamed(
        session_id="s1", client_host="::1", client_port=5000, user="ann", path="/a", target="/b"
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.path = "/c"  # type: ignore[misc]
    data = json.loads(json.dumps(record.as_dict()))
    assert data["event"] == "rename" and data["target"] == "/b" and data["result"] == "ok"
    assert set(events.EVENT_TYPES) >= {
        "connect",
        "login",
        "login_failed",
        "logout",
        "disconnect",
        "file_received",
        "file_sent",
        "upload_incomplete",
        "download_incomplete",
        "mkdir",
        "rmdir",
        "delete",
        "rename",
    }
    assert all(cls.name == name for name, cls in events.EVENT_TYPES.items())
