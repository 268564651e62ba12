"""Fixtures for the reliability tests: real servers on loopback, in a thread or a process.

* ``make_server(**options)`` starts an :class:`anyftp.Server` in its own thread and event
  loop (port chosen by the OS), so blocking clients can drive it and the test can look at
  its state (:meth:`~.harness.ThreadedServer.call`); every server is closed at the end.
* ``cli_server(*arguments)`` runs ``python -m anyftp serve`` as a child process, so a
  test can measure the server's own memory and descriptors (``/proc``) or send it signals;
  every process is killed at the end of the test if it is still running.
"""

from __future__ import annotations

import pathlib
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import anyftp
from anyftp.registry import backend_class_of, resolve_backend
from anyftp.server import Server

from .harness import TIMEOUT, CliServer, ThreadedServer


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., ThreadedServer]]:
    """Start anyftp servers on 127.0.0.1 (anonymous read/write user on *tmp_path* unless
    ``users`` is given); each is closed when the test ends."""
    running: list[ThreadedServer] = []

    def factory(host: str = "127.0.0.1", **options: Any) -> ThreadedServer:
        options.setdefault("login_failure_delay", 0)
        options.setdefault("socket_timeout", TIMEOUT)
        options.setdefault("wait_future_timeout", TIMEOUT)
        if "users" not in options:
            # A backend on the real filesystem is jailed in tmp_path, never "/".
            backend = backend_class_of(resolve_backend(options.get("path_io_factory", "local")))
            base = tmp_path if issubclass(backend.path_class, pathlib.Path) else "/"
            options["users"] = [
                anyftp.User(base_path=base, permissions=[anyftp.Permission("/", writable=True)])
            ]
        thread = ThreadedServer(Server(**options), host=host).start()
        running.append(thread)
        return thread

    yield factory
    for thread in running:
        thread.stop()


@pytest.fixture
def cli_server(tmp_path: Path) -> Iterator[Callable[..., CliServer]]:
    """Run ``anyftp serve`` child processes; each is killed when the test ends."""
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc (Linux) to watch the server process")
    running: list[CliServer] = []

    def factory(
        *arguments: str, cwd: Path | None = None, preexec: Callable[[], None] | None = None
    ) -> CliServer:
        log = tmp_path / f"server-{len(running)}.log"
        server = CliServer(list(arguments), cwd or tmp_path, log, preexec)
        running.append(server)
        return server

    yield factory
    for server in running:
        server.close()


# --- TLS -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tls_ca() -> Any:
    trustme = pytest.importorskip("trustme")
    return trustme.CA()


@pytest.fixture(scope="session")
def server_tls(tls_ca: Any) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def client_tls(tls_ca: Any) -> ssl.SSLContext:
    context = ssl.create_default_context()
    tls_ca.configure_trust(context)
    return context
