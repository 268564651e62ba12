"""anyftp-audit: the JSON lines a real server writes for real FTP sessions, rotation by
size, stdout, event selection and option errors."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

import anyftp
from anyftp.errors import PluginError
from anyftp.testing.servers import close_server as stop
from anyftp.testing.servers import connect, in_thread

pytestmark = pytest.mark.timeout(60)


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def audit_files(directory: Path) -> dict[str, list[dict[str, Any]]]:
    """The audit files in *directory*: name -> lines (each file checked to be short)."""
    found = {}
    for path in sorted(directory.iterdir()):
        if path.name.startswith("audit"):
            assert 0 < path.stat().st_size <= 1000
            found[path.name] = read_lines(path)
    return found


async def test_every_event_of_a_session_is_one_json_line(
    start_server: Any, tmp_path: Path, root: Path
) -> None:
    log = tmp_path / "logs" / "audit.jsonl"
    server = await start_server(
        users=[anyftp.User("ann", "pw", base_path=root)],
        plugins=["audit"],
        plugin_options={"audit": {"path": str(log)}},
    )

    def session() -> None:
        ftp = connect(server)
        with pytest.raises(Exception, match="530"):
            ftp.login("ann", "nope")
        ftp.login("ann", "pw")
        ftp.mkd("d")
        ftp.storbinary("STOR d/f.txt", io.BytesIO(b"hello"))
        ftp.retrbinary("RETR d/f.txt", io.BytesIO().write)
        ftp.rename("d/f.txt", "d/g.txt")
        ftp.delete("d/g.txt")
        ftp.rmd("d")
        ftp.quit()

    await in_thread(session)
    await stop(server)
    lines = read_lines(log)
    assert [line["event"] for line in lines] == [
        "connect",
        "login_failed",
        "login",
        "mkdir",
        "file_received",
        "file_sent",
        "rename",
        "delete",
        "rmdir",
        "logout",
        "disconnect",
    ]
    assert len({line["session_id"] for line in lines}) == 1
    by_event = {line["event"]: line for line in lines}
    assert by_event["login_failed"]["login"] == "ann" and by_event["login_failed"]["user"] is None
    received = by_event["file_received"]
    assert (received["user"], received["path"], received["bytes"], received["result"]) == (
        "ann",
        "/d/f.txt",
        5,
        "ok",
    )
    assert by_event["rename"]["target"] == "/d/g.txt"
    assert by_event["connect"]["client_host"] == "127.0.0.1"
    assert by_event["disconnect"]["ts"].endswith("+00:00")


async def test_the_file_rotates_by_size(start_server: Any, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    server = await start_server(
        plugins=["audit"],
        plugin_options={"audit": {"path": str(log), "max_bytes": 1000, "backup_count": 2}},
    )

    def session() -> None:
        ftp = connect(server)
        ftp.login()
        for n in range(20):
            ftp.mkd(f"dir{n:02}")
        ftp.quit()

    await in_thread(session)
    await stop(server)
    files = audit_files(tmp_path)
    assert list(files) == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    newest, older = files["audit.jsonl"], files["audit.jsonl.1"]
    assert newest[-1]["event"] == "disconnect"
    assert older[-1]["time"] <= newest[0]["time"]
    kept = [
        line["path"] for lines in list(files.values())[::-1] for line in lines if "path" in line
    ]
    assert kept == sorted(kept) and kept[-1] == "/dir19"  # oldest lines were dropped, in order
    assert "/dir00" not in kept


async def test_lines_go_to_stdout_by_default(
    start_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    server = await start_server(plugins=["audit"], plugin_options={"audit": {"events": "login"}})

    def session() -> None:
        ftp = connect(server)
        ftp.login()
        ftp.quit()

    await in_thread(session)
    await stop(server)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["event"] for line in lines] == ["login"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"colour": "red"}, "unknown option"),
        ({"events": ["login", "logon"]}, "unknown event names"),
        ({"max_bytes": -1, "path": "x"}, "must not be negative"),
    ],
)
def test_bad_options_refuse_to_start(
    options: dict[str, Any], message: str, root: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PluginError, match=f"plugin 'audit' refused its options: .*{message}"):
        anyftp.Server(
            [anyftp.User(base_path=root)], plugins=["audit"], plugin_options={"audit": options}
        )
