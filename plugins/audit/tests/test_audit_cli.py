"""``anyftp serve --plugin audit`` as a real process, and the environment variable that
blocks plugins by name."""

from __future__ import annotations

import ftplib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from anyftp.testing.servers import TIMEOUT, ServeProcess

pytestmark = pytest.mark.timeout(60)

BLOCK_ENV = "ANYFTP_BLOCK_PLUGINS"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen[str], int]]]:
    """Start ``anyftp serve`` (port 0) with extra arguments; killed at the end if alive."""
    processes: list[ServeProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], int]:
        served = ServeProcess(args, tmp_path, env={**os.environ, **(env or {})})
        processes.append(served)
        return served.process, served.port

    yield start
    for served in processes:
        served.close()


def test_serve_enables_the_plugin_by_name_with_options(
    serve: Callable[..., tuple[subprocess.Popen[str], int]], tmp_path: Path
) -> None:
    log = tmp_path / "audit.jsonl"
    process, port = serve(
        "--plugin",
        "audit",
        "--plugin-option",
        f"audit.path={log}",
        "--plugin-option",
        "audit.events=login,disconnect",
    )
    assert port, process.stderr.read() if process.stderr else ""
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", port, timeout=TIMEOUT)
    ftp.login()
    ftp.quit()
    process.send_signal(signal.SIGINT)
    assert process.wait(TIMEOUT) == 0
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [line["event"] for line in lines] == ["login", "disconnect"]


def test_the_blocking_variable_refuses_the_plugin(
    serve: Callable[..., tuple[subprocess.Popen[str], int]], tmp_path: Path
) -> None:
    process, port = serve("--plugin", "audit", env={BLOCK_ENV: "audit"})
    assert port == 0
    assert process.wait(TIMEOUT) == 2
    assert process.stderr is not None
    assert f"plugin 'audit' is blocked by {BLOCK_ENV}" in process.stderr.read()


def test_a_blocked_plugin_is_listed_as_blocked() -> None:
    listing = subprocess.run(
        [sys.executable, "-m", "anyftp", "plugins"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 3,
        env={**os.environ, BLOCK_ENV: "audit"},
        check=True,
    ).stdout
    (row,) = [line.split() for line in listing.splitlines() if line.startswith("audit ")]
    assert row[:4] == ["audit", "0.1.0", "plugin", "anyftp-audit"] and row[4] == "blocked"
