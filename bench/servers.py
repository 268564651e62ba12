"""The server kinds under test and the subprocess that runs one of them.

Each kind is a launcher script in ``launchers/`` started with the current interpreter,
pinned to its own CPUs, serving a fresh root directory on 127.0.0.1 with an OS-chosen
port. The process is stopped (SIGTERM, then SIGKILL after a bound) when the ``with``
block ends. :class:`RssProbe` reads the server's peak resident memory for one line.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = (
    "ServerKind",
    "KINDS",
    "ServerProcess",
    "CpuProbe",
    "ServerStartError",
    "RssProbe",
    "PLAIN",
    "split_cpus",
)

LAUNCHERS = Path(__file__).resolve().parent / "launchers"


@dataclass(frozen=True)
class ServerKind:
    """A server to benchmark: its launcher, arguments, and how its root is reached."""

    name: str
    launcher: str
    arguments: tuple[str, ...] = ()
    #: The launcher serves ``--root`` from disk; otherwise fixtures go in over FTP.
    disk_root: bool = True
    #: Part of anyftp (its lines get ratios against the peers).
    ours: bool = False


KINDS: dict[str, ServerKind] = {
    kind.name: kind
    for kind in (
        ServerKind("anyftp-local", "anyftp_server.py", ("--backend", "local"), ours=True),
        ServerKind(
            "anyftp-memory", "anyftp_server.py", ("--backend", "memory"), disk_root=False, ours=True
        ),
        ServerKind("anyftp-threadpool", "anyftp_server.py", ("--backend", "threadpool"), ours=True),
        ServerKind("pyftpdlib", "pyftpdlib_server.py"),
        ServerKind("aioftp", "aioftp_server.py"),
    )
}

#: The loopback-limit reference (not FTP).
PLAIN = ServerKind("plain-sendfile", "plain_server.py")


def split_cpus(pin: bool) -> tuple[set[int], set[int]]:
    """CPUs for the server and for the load generator (empty sets: no pinning)."""
    if not pin or not hasattr(os, "sched_getaffinity"):
        return set(), set()
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return set(), set()
    return {cpus[0]}, set(cpus[1:])


class ServerStartError(RuntimeError):
    """The launcher exited or stayed silent instead of printing ``READY``."""


@dataclass
class ServerProcess:
    """A running launcher. Use as a context manager; ``port`` is set once it is ready."""

    kind: ServerKind
    root: Path
    log_path: Path
    cpus: set[int] = field(default_factory=set)
    extra_arguments: tuple[str, ...] = ()
    start_timeout: float = 30.0
    #: Words put before the interpreter (a tool that runs the server, e.g. valgrind).
    prefix: tuple[str, ...] = ()
    port: int = 0
    facts: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        command = [
            *self.prefix,
            sys.executable,
            str(LAUNCHERS / self.kind.launcher),
            "--root",
            str(self.root),
            "--cpus",
            ",".join(map(str, sorted(self.cpus))),
            *self.kind.arguments,
            *self.extra_arguments,
        ]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL
        )
        lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._drain, args=(self.process.stdout, lines), daemon=True).start()
        try:
            line = lines.get(timeout=self.start_timeout)
        except queue.Empty:
            self.stop()
            raise ServerStartError(
                f"{self.kind.name}: not ready after {self.start_timeout}s\n{self.log_tail()}"
            ) from None
        words = line.decode(errors="replace").split()
        if not words or words[0] != "READY":
            self.stop()
            raise ServerStartError(
                f"{self.kind.name}: exited before it was ready\n{self.log_tail()}"
            )
        self.port = int(words[1])
        self.facts = dict(word.split("=", 1) for word in words[2:] if "=" in word)

    def _drain(self, stream: IO[bytes] | None, lines: queue.Queue[bytes]) -> None:
        """Hand the first stdout line to ``start``; copy the rest to the log."""
        if stream is None:
            return
        first = True
        for line in stream:
            if first:
                lines.put(line)
                first = False
            elif self._log is not None and not self._log.closed:
                self._log.write(line)
        if first:
            lines.put(b"")

    def stop(self, timeout: float = 15.0) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if self._log is not None:
            self._log.close()

    def log_tail(self, count: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-count:])


class CpuProbe:
    """CPU seconds (user + system, all threads) the server spent on each line.

    Less sensitive than wall time to other work on the machine, so it shows how much
    work a server does for the same line. Reported as ``cpu_<line>``. Read from the
    scheduler's per-thread run time in nanoseconds (``/proc/<pid>/task/*/schedstat``)
    where the kernel has it: the clock ticks of ``/proc/<pid>/stat`` (10 ms) are too
    coarse for lines of tens of milliseconds, and are the fallback.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._start = 0.0
        self._schedstat = os.path.exists(f"/proc/{pid}/schedstat")

    def _cpu(self) -> float:
        if self._schedstat:
            total = 0
            try:
                threads = os.listdir(f"/proc/{self.pid}/task")
            except OSError:
                threads = []
            for thread in threads:
                try:
                    with open(f"/proc/{self.pid}/task/{thread}/schedstat") as stat:
                        total += int(stat.read().split()[0])
                except (OSError, ValueError, IndexError):
                    continue  # a thread that ended meanwhile
            if total:
                return total / 1e9
        with open(f"/proc/{self.pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / self.tick

    def begin(self, key: str) -> None:
        self._start = self._cpu()

    def end(self, key: str) -> dict[str, float]:
        return {f"cpu_{key}": self._cpu() - self._start}


class RssProbe:
    """Peak resident memory of a process over an interval, in MiB.

    ``reset()`` starts the interval: it clears the kernel's high-water mark
    (``/proc/<pid>/clear_refs``, Linux) so ``peak()`` reads ``VmHWM`` for just this line.
    Where that is not allowed it samples ``VmRSS`` from a thread instead.
    """

    #: Lines whose peak memory is reported (as ``rss_<line>``).
    LINES = ("retr_many", "stor_many")

    def __init__(self, pid: int, interval: float = 0.005) -> None:
        self.pid = pid
        self.interval = interval
        self._sampler: threading.Thread | None = None
        self._stop = threading.Event()
        self._sampled_peak = 0

    def _status(self, field_name: str) -> int:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1]) * 1024
        return 0

    def begin(self, key: str) -> None:
        if key in self.LINES:
            self.reset()

    def end(self, key: str) -> dict[str, float]:
        return {f"rss_{key}": self.peak()} if key in self.LINES else {}

    def reset(self) -> None:
        self._stop_sampler()
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as clear:
                clear.write("5")
        except OSError:
            self._sampled_peak = self._status("VmRSS")
            self._stop.clear()
            self._sampler = threading.Thread(target=self._sample, daemon=True)
            self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._sampled_peak = max(self._sampled_peak, self._status("VmRSS"))
            except OSError:
                return

    def _stop_sampler(self) -> None:
        if self._sampler is not None:
            self._stop.set()
            self._sampler.join(timeout=5)
            self._sampler = None

    def peak(self) -> float:
        """Peak RSS in MiB since the last ``reset()``."""
        if self._sampler is not None:
            self._stop_sampler()
            value = self._sampled_peak
        else:
            value = self._status("VmHWM")
        return value / (1024 * 1024)
