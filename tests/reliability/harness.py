"""The pieces the reliability tests are built from: servers in a thread or a process,
bounded waits, and the server process's memory and descriptors (read from ``/proc``)."""

from __future__ import annotations

import ftplib
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from anyftp.server import Server
from anyftp.testing.servers import ServerThread

TIMEOUT = 10.0
ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition: Callable[[], bool], timeout: float = TIMEOUT, what: str = "") -> None:
    """Poll *condition* until it holds; fail after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(0.01)


class ThreadedServer(ServerThread):
    """An anyftp Server serving from its own event loop in a daemon thread, with the
    reliability tests' views of its state."""

    def __init__(self, server: Server, host: str = "127.0.0.1") -> None:
        super().__init__(server, host, timeout=TIMEOUT, name="reliability-server")

    def sessions(self) -> int:
        return int(self.call(lambda: len(self.server.sessions)))

    def wait_no_sessions(self, timeout: float = TIMEOUT) -> None:
        wait_for(lambda: self.sessions() == 0, timeout, "every session to end")

    def close(self, grace: float | None = None) -> None:
        """Start closing the server (returns at once; see :meth:`wait_closed`)."""
        self.loop.call_soon_threadsafe(lambda: self.server.close(grace))

    def wait_closed(self, timeout: float = 30.0) -> None:
        self.call(self.server.wait_closed, timeout)

    def stop(self, grace: float | None = 0, timeout: float | None = None) -> None:
        """Close at once (no grace for transfers) and wait, bounded, until it is closed."""
        super().stop(grace, 30.0 + TIMEOUT if timeout is None else timeout)


# --- a server in a child process ---------------------------------------------------------

_SERVING = re.compile(r"serving ftps?://\[?([^\]/]+?)\]?:(\d+)/")


class CliServer:
    """``python -m anyftp serve ARGS --port 0`` as a child process."""

    def __init__(
        self,
        arguments: list[str],
        cwd: Path,
        log: Path,
        preexec: Callable[[], None] | None = None,
    ) -> None:
        self.log_path = log
        self._log = log.open("wb")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "anyftp", "serve", "--port", "0", *arguments],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            preexec_fn=preexec,
        )
        self.host, self.port = self._read_address()

    def _read_address(self) -> tuple[str, int]:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 20
        buffered = b""
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            while b"\n" not in buffered:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    self.kill()
                    raise AssertionError(f"server did not start: {self.log()}")
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    self.kill()
                    raise AssertionError(f"server exited: {self.log()}")
                buffered += chunk
        match = _SERVING.search(buffered.decode("utf-8", "replace"))
        assert match is not None, buffered
        return match.group(1), int(match.group(2))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text("utf-8", "replace")[-4000:]

    def rss(self) -> int:
        """Resident memory of the server process, in bytes."""
        return rss_of(self.pid)

    def fds(self) -> int:
        """Open file descriptors of the server process."""
        return fds_of(self.pid)

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = TIMEOUT) -> int:
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(TIMEOUT)

    def close(self) -> None:
        self.kill()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()

    def ftp(self, login: bool = True) -> ftplib.FTP:
        client = ftplib.FTP()
        client.connect(self.host, self.port, timeout=TIMEOUT)
        if login:
            client.login()
        return client


def rss_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")  # pragma: no cover


def fds_of(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))
