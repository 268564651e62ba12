"""anyftp-users: logins from a users file through a real server (ftplib), with the file
kept by ``anyftp users add/passwd/del`` - changes apply without a restart."""

from __future__ import annotations

import ftplib
import io
import logging
import sys
from pathlib import Path
from typing import Any

import pytest

import anyftp
from anyftp.cli import main as anyftp_main
from anyftp.errors import PluginError
from anyftp.testing.servers import connect, in_thread

pytestmark = pytest.mark.timeout(60)


def users_cli(monkeypatch: pytest.MonkeyPatch, *args: str, password: str | None = None) -> int:
    """Run ``anyftp users ...`` in this process, the password on standard input."""
    if password is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
        args = (*args, "--password-stdin")
    return anyftp_main(["users", *args])


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def login(server: anyftp.Server, user: str, password: str) -> str:
    """The reply to the login (or the error), then the session ends."""
    ftp = connect(server)
    try:
        return ftp.login(user, password)
    except ftplib.all_errors as exc:
        return str(exc)
    finally:
        ftp.close()


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    return tmp_path / "users.toml"


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    """Two user roots with a file each."""
    for name in ("ann", "bob"):
        (tmp_path / "data" / name / "pub").mkdir(parents=True)
        (tmp_path / "data" / name / "mine.txt").write_text(f"{name}'s file")
    return tmp_path / "data"


async def test_accounts_from_the_file_log_in_with_their_root_home_and_rights(
    start_server: Any, users_file: Path, storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = users_cli
    assert (
        cli(
            monkeypatch,
            "add",
            "ann",
            "-f",
            str(users_file),
            "--root",
            str(storage / "ann"),
            "--home",
            "/pub",
            "--write",
            password="ann-pw",
        )
        == 0
    )
    assert (
        cli(
            monkeypatch,
            "add",
            "bob",
            "-f",
            str(users_file),
            "--root",
            str(storage / "bob"),
            password="bob-pw",
        )
        == 0
    )
    server = await start_server(
        users=[], plugins=["users"], plugin_options={"users": {"path": str(users_file)}}
    )

    def ann() -> None:
        ftp = connect(server)
        assert ftp.login("ann", "ann-pw").startswith("230")
        assert ftp.pwd() == "/pub"
        ftp.storbinary("STOR new.txt", io.BytesIO(b"written"))
        out = io.BytesIO()
        ftp.retrbinary("RETR /mine.txt", out.write)
        assert out.getvalue() == b"ann's file"
        ftp.quit()

    def bob() -> None:
        ftp = connect(server)
        ftp.login("bob", "bob-pw")
        assert sorted(ftp.nlst()) == ["mine.txt", "pub"]
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            ftp.storbinary("STOR x", io.BytesIO(b"no"))  # read only
        ftp.quit()

    await in_thread(ann)
    await in_thread(bob)
    assert (storage / "ann" / "pub" / "new.txt").read_bytes() == b"written"
    assert (await in_thread(lambda: login(server, "ann", "bob-pw"))).startswith("530")
    assert (await in_thread(lambda: login(server, "carol", "x"))).startswith("530")


async def test_a_changed_password_applies_without_restart(
    start_server: Any, users_file: Path, storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users_cli(
        monkeypatch,
        "add",
        "ann",
        "-f",
        str(users_file),
        "--root",
        str(storage / "ann"),
        password="old",
    )
    server = await start_server(
        users=[], plugins=["users"], plugin_options={"users": {"path": str(users_file)}}
    )
    assert (await in_thread(lambda: login(server, "ann", "old"))).startswith("230")
    assert users_cli(monkeypatch, "passwd", "ann", "-f", str(users_file), password="new") == 0
    assert (await in_thread(lambda: login(server, "ann", "old"))).startswith("530")
    assert (await in_thread(lambda: login(server, "ann", "new"))).startswith("230")
    assert (
        users_cli(
            monkeypatch,
            "add",
            "bob",
            "-f",
            str(users_file),
            "--root",
            str(storage / "bob"),
            password="b",
        )
        == 0
    )
    assert (await in_thread(lambda: login(server, "bob", "b"))).startswith("230")
    assert users_cli(monkeypatch, "del", "ann", "-f", str(users_file)) == 0
    assert (await in_thread(lambda: login(server, "ann", "new"))).startswith("530")


async def test_a_session_keeps_its_login_when_the_account_changes(
    start_server: Any, users_file: Path, storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users_cli(
        monkeypatch,
        "add",
        "ann",
        "-f",
        str(users_file),
        "--root",
        str(storage / "ann"),
        password="pw",
    )
    server = await start_server(
        users=[], plugins=["users"], plugin_options={"users": {"path": str(users_file)}}
    )
    ftp = await in_thread(lambda: connect(server))
    await in_thread(lambda: ftp.login("ann", "pw"))
    users_cli(monkeypatch, "del", "ann", "-f", str(users_file))
    assert "mine.txt" in await in_thread(ftp.nlst)
    await in_thread(ftp.quit)


async def test_the_connection_limit_of_an_account_applies(
    start_server: Any, users_file: Path, storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users_cli(
        monkeypatch,
        "add",
        "ann",
        "-f",
        str(users_file),
        "--root",
        str(storage / "ann"),
        "--max-connections",
        "1",
        password="pw",
    )
    server = await start_server(
        users=[], plugins=["users"], plugin_options={"users": {"path": str(users_file)}}
    )
    first = await in_thread(lambda: connect(server))
    await in_thread(lambda: first.login("ann", "pw"))
    assert (await in_thread(lambda: login(server, "ann", "pw"))).startswith("421")
    await in_thread(first.quit)


async def test_a_broken_edit_keeps_the_accounts_read_before(
    start_server: Any,
    users_file: Path,
    storage: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    users_cli(
        monkeypatch,
        "add",
        "ann",
        "-f",
        str(users_file),
        "--root",
        str(storage / "ann"),
        password="pw",
    )
    server = await start_server(
        users=[], plugins=["users"], plugin_options={"users": {"path": str(users_file)}}
    )
    write(users_file, "[[users]\nbroken = \n")
    with caplog.at_level(logging.ERROR, logger="anyftp.users"):
        assert (await in_thread(lambda: login(server, "ann", "pw"))).startswith("230")
    assert any("not reloaded" in r.getMessage() for r in caplog.records)


async def test_plain_text_passwords_in_the_file_are_ignored(
    start_server: Any, users_file: Path, storage: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(
        users_file,
        f'[[users]]\nlogin = "eve"\npassword = "plain"\nbase_path = "{storage / "ann"}"\n',
    )
    with caplog.at_level(logging.WARNING, logger="anyftp.users"):
        server = await start_server(
            users=[], plugins=["users"], plugin_options={"users": {"path": str(users_file)}}
        )
        assert (await in_thread(lambda: login(server, "eve", "plain"))).startswith("530")
    assert any("has no hashed password" in r.getMessage() for r in caplog.records)


async def test_static_users_and_the_file_work_together(
    start_server: Any, users_file: Path, storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users_cli(
        monkeypatch,
        "add",
        "ann",
        "-f",
        str(users_file),
        "--root",
        str(storage / "ann"),
        password="file",
    )
    static = [anyftp.User("bob", "static", base_path=storage / "bob")]
    server = await start_server(
        users=static, plugins=["users"], plugin_options={"users": {"path": str(users_file)}}
    )
    assert (await in_thread(lambda: login(server, "bob", "static"))).startswith("230")
    assert (await in_thread(lambda: login(server, "ann", "file"))).startswith("230")


def test_the_file_holds_salted_hashes_only(
    users_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for login in ("ann", "bob"):
        users_cli(monkeypatch, "add", login, "-f", str(users_file), password="same")
    text = users_file.read_text()
    assert "same" not in text
    hashes = [line for line in text.splitlines() if line.startswith("password = ")]
    assert len(hashes) == 2 and hashes[0] != hashes[1]
    assert all(h.startswith('password = "scrypt$') for h in hashes)
    assert users_file.stat().st_mode & 0o077 == 0
    capsys.readouterr()
    assert users_cli(monkeypatch, "list", "-f", str(users_file)) == 0
    listed = capsys.readouterr().out
    assert "ann" in listed and "scrypt" not in listed


def test_users_commands_refuse_what_makes_no_sense(
    users_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert users_cli(monkeypatch, "add", "ann", "-f", str(users_file), password="pw") == 0
    assert users_cli(monkeypatch, "add", "ann", "-f", str(users_file), password="pw") == 1
    assert users_cli(monkeypatch, "passwd", "zed", "-f", str(users_file), password="pw") == 1
    assert users_cli(monkeypatch, "del", "zed", "-f", str(users_file)) == 1
    assert users_cli(monkeypatch, "add", "bob", "-f", str(users_file), password="") == 1
    errors = capsys.readouterr().err
    assert "exists" in errors and "no account 'zed'" in errors and "empty password" in errors


def test_json_files_work_too(users_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from anyftp_users import UsersFile

    path = users_file.with_suffix(".json")
    users_cli(monkeypatch, "add", "ann", "-f", str(path), "--root", "/srv", password="pw")
    source = UsersFile(path)
    user = source.users()["ann"]
    assert str(user.base_path) == "/srv"
    assert source.anyftp_authenticate("ann", "pw") is user
    assert source.anyftp_authenticate("ann", "no") is False
    assert source.anyftp_authenticate("nobody", "pw") is None


@pytest.mark.parametrize(
    ("options", "message"),
    [({}, "option 'path'.* is required"), ({"path": "u.toml", "colour": 1}, "unknown option")],
)
def test_bad_options_refuse_to_start(options: dict[str, Any], message: str) -> None:
    with pytest.raises(PluginError, match=f"plugin 'users' refused its options: {message}"):
        anyftp.Server([], plugins=["users"], plugin_options={"users": options})
