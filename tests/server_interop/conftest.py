"""Fixtures for driving anyftp's server with real FTP clients (curl, lftp).

The server runs in this process, in its own thread and event loop (``ServerThread`` from
``anyftp.testing.servers``), on 127.0.0.1 with a port chosen by the OS; it is stopped at
the end of each test. A test that needs a program skips with a clear reason only when the
program is missing (CI installs both).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import ssl
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import anyftp
from anyftp.server import Server
from anyftp.testing.servers import ServerThread

TIMEOUT = 15
PROGRAM_TIMEOUT = 120
USER, PASSWORD = "tester", "s3cret pass"


def need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed (CI installs it; apt-get install {program})")
    return path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path -> sha256 for every file under *root* (directories as ``<dir>``)."""
    result: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        key = path.relative_to(root).as_posix()
        result[key] = "<dir>" if path.is_dir() else sha256_file(path)
    return result


def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=PROGRAM_TIMEOUT, **kwargs
    )


def random_file(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


@pytest.fixture
def make_server() -> Iterator[Callable[..., ServerThread]]:
    running: list[ServerThread] = []

    def factory(root: Any, *, backend: str = "local", **kwargs: Any) -> ServerThread:
        kwargs.setdefault("login_failure_delay", 0)
        kwargs.setdefault("socket_timeout", TIMEOUT)
        kwargs.setdefault("wait_future_timeout", TIMEOUT)
        user = anyftp.User(USER, PASSWORD, base_path=root)
        server = Server([user], path_io_factory=backend, **kwargs)
        thread = ServerThread(server, timeout=TIMEOUT).start()
        running.append(thread)
        return thread

    yield factory
    for thread in running:
        thread.stop()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    directory = tmp_path_factory.mktemp("tls")
    ca_file = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return {"ca_file": ca_file, "context": context}
