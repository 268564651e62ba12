"""Real anyftp servers for tests: the harness shared by anyftp's own tests, its plugins'
and its backends' (and usable by any plugin or backend author).

Two ways to run a server on 127.0.0.1 with a port chosen by the OS:

* :class:`ServerThread` serves from a private event loop in its own thread, so blocking
  clients (:mod:`ftplib`, curl, lftp) can drive it from the test; :meth:`ServerThread.call`
  runs code on the server's loop to look at its state, :meth:`ServerThread.stop` closes it.
* :class:`ServeProcess` runs ``anyftp serve`` as a child process and reads the port from
  its banner, to test the command line (and signals) end to end.
* :class:`ServerGroup` starts servers on the test's own event loop and closes them all at
  the end; blocking clients then run in a worker thread through :func:`in_thread`, and
  :func:`connect` opens an :class:`ftplib.FTP` to such a server.

Every wait is bounded (*timeout* seconds, :data:`TIMEOUT` by default)::

    thread = ServerThread(anyftp.Server([anyftp.User(base_path=tmp_path)])).start()
    try:
        with thread.ftp() as ftp:
            ftp.mkd("new")
    finally:
        thread.stop()
"""

from __future__ import annotations

import asyncio
import ftplib
import os
import re
import selectors
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..server import Server

__all__ = (
    "TIMEOUT",
    "ServeProcess",
    "ServerGroup",
    "ServerThread",
    "close_server",
    "connect",
    "in_thread",
)

#: Default bound (seconds) on starting, calling into and stopping a server.
TIMEOUT = 10.0

#: Bound (seconds) on waiting until a closed server released everything.
CLOSE_TIMEOUT = 30.0


class ServerThread:
    """A :class:`~anyftp.Server` serving from a private event loop in a daemon thread.

    *loop_factory* makes that loop (default :func:`asyncio.new_event_loop`; pass
    ``uvloop.new_event_loop`` to test on uvloop). *timeout* bounds :meth:`start`,
    :meth:`call` and :meth:`stop`.
    """

    def __init__(
        self,
        server: Server,
        host: str = "127.0.0.1",
        *,
        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
        timeout: float = TIMEOUT,
        name: str = "anyftp-server",
    ) -> None:
        self.server = server
        self.host = host
        self.timeout = timeout
        self.port = 0
        self.loop = (loop_factory or asyncio.new_event_loop)()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = threading.Event()
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.server.start(self.host, 0))
            self.port = self.server.server_port
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._started.set()
            self.loop.close()
            return
        self._started.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.server.wait_closed())
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def start(self) -> ServerThread:
        """Start serving; returns once the server listens (``port`` is set)."""
        self.thread.start()
        assert self._started.wait(self.timeout), "server did not start"
        if self._error is not None:
            self.thread.join(self.timeout)
            raise self._error
        return self

    @property
    def url(self) -> str:
        """``ftp://host:port`` of the listening server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ftp://{host}:{self.port}"

    def call(self, fn: Callable[[], Any], timeout: float | None = None) -> Any:
        """Run *fn* on the server's loop (awaiting what it returns) and give the result."""

        async def runner() -> Any:
            result = fn()
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                result = await result
            return result

        future = asyncio.run_coroutine_threadsafe(runner(), self.loop)
        return future.result(self.timeout if timeout is None else timeout)

    def ftp(self, login: bool = True) -> ftplib.FTP:
        """A blocking :class:`ftplib.FTP` connected (and by default logged in anonymously)."""
        client = ftplib.FTP()
        client.connect(self.host, self.port, timeout=self.timeout)
        if login:
            client.login()
        return client

    def stop(self, grace: float | None = None, timeout: float | None = None) -> None:
        """Close the server (transfers get *grace* seconds, see :meth:`Server.close`), wait
        until it is closed and the thread ended (bounded by *timeout*)."""
        if not self.thread.is_alive():
            return

        def close() -> None:
            self.server.close(grace)
            self.loop.stop()

        self.loop.call_soon_threadsafe(close)
        self.thread.join(self.timeout if timeout is None else timeout)
        assert not self.thread.is_alive(), "server thread did not stop"


async def close_server(server: Server, timeout: float = CLOSE_TIMEOUT) -> None:
    """Close *server* and wait (bounded) until it is closed and its plugins are done."""
    server.close()
    async with asyncio.timeout(timeout):
        await server.wait_closed()


class ServerGroup:
    """Servers started on the running event loop; :meth:`close` closes every one.

    *defaults* are keyword arguments for every :class:`~anyftp.Server` (a test's own
    arguments win)."""

    def __init__(self, **defaults: Any) -> None:
        self.defaults = defaults
        self.servers: list[Server] = []

    async def start(self, *args: Any, host: str = "127.0.0.1", **kwargs: Any) -> Server:
        """Make a Server from *args*/*kwargs* and start it on *host*, OS-chosen port."""
        server = Server(*args, **{**self.defaults, **kwargs})
        await server.start(host, 0)
        self.servers.append(server)
        return server

    async def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Close every started server (each bounded by *timeout*)."""
        for server in self.servers:
            await close_server(server, timeout)


def connect(server: Server, timeout: float = TIMEOUT) -> ftplib.FTP:
    """A blocking :class:`ftplib.FTP` connected (not logged in) to *server* on 127.0.0.1;
    use it from :func:`in_thread` when the server runs on the test's loop."""
    client = ftplib.FTP()
    client.connect("127.0.0.1", server.server_port, timeout=timeout)
    return client


async def in_thread(fn: Callable[[], Any], timeout: float = TIMEOUT * 2) -> Any:
    """Run blocking *fn* (an ftplib session) in a worker thread, bounded by *timeout*."""
    async with asyncio.timeout(timeout):
        return await asyncio.to_thread(fn)


_BANNER_PORT = re.compile(r"://[^/]+:(\d+)/")


class ServeProcess:
    """``python -m anyftp serve --port 0 ARGS`` as a child process (stdout and stderr
    piped, text). The first line it prints is the banner with the address; ``port`` is 0
    when the command printed none (it failed: see ``process.wait()`` and stderr).

    *env* replaces the child's environment (default: this process's). Always end it with
    :meth:`stop` or :meth:`close`.
    """

    def __init__(
        self,
        arguments: Sequence[str],
        cwd: str | Path,
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        self.timeout = timeout
        command = [sys.executable, "-m", "anyftp", "serve", "--port", "0", *arguments]
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ if env is None else env),
        )
        try:
            self.banner = self._read_banner()
        except BaseException:
            self.close()
            raise
        match = _BANNER_PORT.search(self.banner)
        self.port = int(match.group(1)) if match else 0

    def _read_banner(self) -> str:
        stdout = self.process.stdout
        assert stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            if not selector.select(self.timeout):
                raise TimeoutError(f"anyftp serve printed no banner within {self.timeout} s")
        return stdout.readline()

    def stderr(self) -> str:
        """What the process wrote to stderr (reads to its end: call after it exited)."""
        return self.process.stderr.read() if self.process.stderr is not None else ""

    def ftp(self, user: str = "anonymous", password: str = "", login: bool = True) -> ftplib.FTP:
        """A blocking :class:`ftplib.FTP` connected to the served port on 127.0.0.1."""
        client = ftplib.FTP()
        client.connect("127.0.0.1", self.port, timeout=self.timeout)
        if login:
            client.login(user, password)
        return client

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Send *signum* and give the exit status (bounded wait)."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(self.timeout)

    def close(self, signum: int = signal.SIGKILL) -> None:
        """End the process if it still runs (*signum*, then SIGKILL) and close its pipes."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(self.timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait(self.timeout)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
