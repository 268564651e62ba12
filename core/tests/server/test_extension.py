"""Extending the server: aioftp-style subclass methods (new and old reply styles, the
condition decorators, abortable workers) and commands added by a pluggy plugin."""

from __future__ import annotations

import ftplib
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import anyftp
from anyftp.hookspecs import hookimpl
from anyftp.registry import get_plugin_manager
from anyftp.server import CommandSpec, CommandTable, Session

from .conftest import TIMEOUT, ServerThread

pytestmark = pytest.mark.timeout(60)


class MyServer(anyftp.Server):
    async def noop(self, connection: Any, rest: str) -> bool:
        connection.response("200", "boring")
        return True

    async def oldstyle(self, connection: Any, rest: str) -> Any:
        return True, "200", "old style"

    async def tally(self, connection: Any, rest: str) -> bool:
        # State of its own on the session (Session has __slots__, and a __dict__ for this).
        session = connection.session
        session.tally = getattr(session, "tally", 0) + int(rest or "1")
        connection.response("200", f"tally {session.tally}")
        return True

    @anyftp.ConnectionConditions(anyftp.ConnectionConditions.login_required)
    async def whoami(self, connection: Any, rest: str) -> bool:
        await self.write_response(
            connection.command_connection, "200", connection.user.login or "anonymous"
        )
        return True

    @anyftp.ConnectionConditions(anyftp.ConnectionConditions.login_required)
    @anyftp.PathConditions(
        anyftp.PathConditions.path_must_exists, anyftp.PathConditions.path_must_be_file
    )
    @anyftp.PathPermissions(anyftp.PathPermissions.readable)
    async def peek(self, connection: Any, rest: str) -> bool:
        real, _ = self.get_paths(connection, rest)
        async with connection.path_io.open(real, "rb") as file:
            head = await file.read(5)
        connection.response("200", head.decode())
        return True

    @anyftp.ConnectionConditions(
        anyftp.ConnectionConditions.login_required,
        anyftp.ConnectionConditions.passive_server_started,
        anyftp.ConnectionConditions.data_connection_made,
        wait=True,
    )
    @anyftp.worker
    @anyftp.unpack_keywords
    async def coll(self, connection: Any, rest: str, *, block_size: int) -> bool:
        stream = connection.data_connection
        del connection.data_connection
        connection.response("150", "collecting")
        count = int(rest)
        chunk = bytes(range(256)) * 32
        async with stream:
            for offset in range(0, count, len(chunk)):
                await stream.write(chunk[: min(len(chunk), count - offset)])
        connection.response("200", f"data transfer done ({block_size})")
        return True

    async def bye(self, connection: Any, rest: str) -> bool:
        connection.response("221", "leaving")
        return False


@pytest.fixture
def my_server(tmp_path: Path) -> Iterator[ServerThread]:
    server = ServerThread(
        MyServer([anyftp.User(base_path=tmp_path)], login_failure_delay=0, block_size=65536)
    ).start()
    yield server
    server.stop()


def connect(server: ServerThread) -> ftplib.FTP:
    ftp = ftplib.FTP()
    ftp.connect(server.host, server.port, timeout=TIMEOUT)
    return ftp


def test_subclass_methods_add_and_override_commands(
    my_server: ServerThread, tmp_path: Path
) -> None:
    ftp = connect(my_server)
    with pytest.raises(ftplib.error_perm, match=r"^530"):
        ftp.sendcmd("WHOAMI")
    ftp.login()
    assert ftp.sendcmd("NOOP") == "200 boring"
    assert ftp.sendcmd("OLDSTYLE") == "200 old style"
    assert ftp.sendcmd("WHOAMI") == "200 anonymous"
    (tmp_path / "hello.txt").write_bytes(b"hello world")
    assert ftp.sendcmd("PEEK hello.txt") == "200 hello"
    with pytest.raises(ftplib.error_perm, match=r"^550"):
        ftp.sendcmd("PEEK missing.txt")
    assert "COLL" in ftp.sendcmd("HELP")
    assert ftp.sendcmd("PWD").startswith("257")  # built-in commands still work
    ftp.quit()


def test_a_command_method_keeps_state_of_its_own_on_the_session(my_server: ServerThread) -> None:
    first, second = connect(my_server), connect(my_server)
    assert first.sendcmd("TALLY 2") == "200 tally 2"
    assert first.sendcmd("TALLY 3") == "200 tally 5"
    assert second.sendcmd("TALLY") == "200 tally 1"  # per session
    first.quit()
    second.quit()


def test_subclass_data_command_with_worker(my_server: ServerThread) -> None:
    ftp = connect(my_server)
    ftp.login()
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("COLL 100000")
    received = b""
    while chunk := conn.recv(65536):
        received += chunk
    conn.close()
    assert ftp.voidresp() == "200 data transfer done (65536)"
    assert received == (bytes(range(256)) * 400)[:100000]
    ftp.quit()


def test_abor_cancels_a_worker_command(my_server: ServerThread) -> None:
    ftp = connect(my_server)
    ftp.login()
    conn = ftp.transfercmd("COLL 10000000000")
    assert conn.recv(1000)
    assert ftp.abort().startswith("426")
    assert ftp.getresp().startswith("226")
    conn.close()
    assert ftp.sendcmd("NOOP") == "200 boring"
    ftp.quit()


def test_returning_false_closes_the_session(my_server: ServerThread) -> None:
    ftp = connect(my_server)
    assert ftp.sendcmd("BYE") == "221 leaving"
    assert ftp.sock.recv(10) == b""  # type: ignore[union-attr]
    ftp.close()


def test_subclass_machinery_is_not_a_command(my_server: ServerThread) -> None:
    ftp = connect(my_server)
    ftp.login()
    for name in ("CLOSE", "START", "RUN", "ADMIT"):
        with pytest.raises(ftplib.error_perm, match=r"^500"):
            ftp.sendcmd(name)
    ftp.quit()


class HelloPlugin:
    """A plugin adding HELO through the ``anyftp_register_commands`` hook."""

    @hookimpl
    def anyftp_register_commands(self, table: CommandTable) -> None:
        async def helo(session: Session, argument: str) -> None:
            await session.reply("250", f"hello {argument}, you are {session.client_host}")

        table.add(
            CommandSpec(
                "HELO",
                login=False,
                argument="required",
                syntax="<name>",
                help="say hello",
                feat="HELO",
            ),
            helo,
        )


def test_plugin_adds_a_command(make_server: Callable[..., ServerThread]) -> None:
    plugin = HelloPlugin()
    server = make_server(plugins=[plugin])
    ftp = connect(server)
    assert ftp.sendcmd("HELO you") == "250 hello you, you are 127.0.0.1"
    with pytest.raises(ftplib.error_perm, match=r"^501"):
        ftp.sendcmd("HELO")
    assert " HELO" in ftp.sendcmd("FEAT")
    assert ftp.sendcmd("HELP HELO") == "214 syntax: HELO <name> (say hello)"
    ftp.quit()
    plain = make_server()  # other servers do not get the plugin's commands
    ftp = connect(plain)
    with pytest.raises(ftplib.error_perm, match=r"^500"):
        ftp.sendcmd("HELO you")
    ftp.quit()
    get_plugin_manager().unregister(plugin)


def test_server_data_roundtrip_with_subclass(my_server: ServerThread) -> None:
    ftp = connect(my_server)
    ftp.login()
    ftp.storbinary("STOR x", io.BytesIO(b"abc"))
    assert ftp.size("x") == 3
    ftp.quit()
