"""``anyftp serve --plugin users`` as a real process: file accounts log in, anonymous
access is off unless asked for, and a password changed with ``anyftp users passwd``
applies to the running server."""

from __future__ import annotations

import ftplib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from anyftp.testing.servers import TIMEOUT, ServeProcess

pytestmark = pytest.mark.timeout(90)

Serve = Callable[..., tuple[subprocess.Popen[str], int]]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    processes: list[ServeProcess] = []

    def start(*args: str) -> tuple[subprocess.Popen[str], int]:
        env = {k: v for k, v in os.environ.items() if k != "ANYFTP_BLOCK_PLUGINS"}
        served = ServeProcess(["--login-failure-delay", "0", *args], tmp_path, env=env)
        processes.append(served)
        assert served.port, served.stderr()
        return served.process, served.port

    yield start
    for served in processes:
        served.close()


def users(*args: str, password: str | None = None) -> None:
    command = [sys.executable, "-m", "anyftp", "users", *args]
    if password is not None:
        command.append("--password-stdin")
    subprocess.run(
        command,
        input=f"{password}\n" if password else None,
        text=True,
        check=True,
        capture_output=True,
        timeout=TIMEOUT * 3,
    )


def login(port: int, user: str, password: str) -> str:
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", port, timeout=TIMEOUT)
    try:
        return ftp.login(user, password)
    except ftplib.error_perm as exc:
        return str(exc)
    finally:
        ftp.close()


def test_serve_with_the_users_plugin(serve: Serve, tmp_path: Path) -> None:
    accounts = tmp_path / "users.toml"
    (tmp_path / "ann").mkdir()
    users("add", "ann", "-f", str(accounts), "--root", str(tmp_path / "ann"), password="one")
    process, port = serve("--plugin", "users", "--plugin-option", f"users.path={accounts}")
    assert login(port, "ann", "one").startswith("230")
    assert login(port, "anonymous", "guest@").startswith("530")  # no anonymous by default
    users("passwd", "ann", "-f", str(accounts), password="two")
    assert login(port, "ann", "one").startswith("530")
    assert login(port, "ann", "two").startswith("230")
    process.send_signal(signal.SIGINT)
    assert process.wait(TIMEOUT) == 0


def test_serve_with_the_users_plugin_and_anonymous(serve: Serve, tmp_path: Path) -> None:
    accounts = tmp_path / "users.toml"
    users("add", "ann", "-f", str(accounts), password="one")
    _, port = serve("--plugin", "users", "--plugin-option", f"users.path={accounts}", "--anonymous")
    assert login(port, "anonymous", "guest@").startswith("230")
    assert login(port, "ann", "one").startswith("230")
