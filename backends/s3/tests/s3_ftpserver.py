"""An anyftp server on the s3 backend in its own process, started the way a user does:
``python -m anyftp serve --backend s3 --backend-option ...``.

A separate process lets the tests measure its memory (``/proc/<pid>/status``), run two
instances side by side (scale-out), and see it survive a storage outage on its own.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ("FtpServerProcess",)

_SERVING = re.compile(r"serving ftps?://\[?([^\]/]+?)\]?:(\d+)/")


class FtpServerProcess:
    """``anyftp serve`` with the s3 backend; ``port`` is known after :meth:`start`."""

    def __init__(
        self,
        options: dict[str, Any],
        *extra: str,
        startup_timeout: float = 30.0,
        log_path: Path | None = None,
    ) -> None:
        self.options = options
        self.extra = extra
        self.startup_timeout = startup_timeout
        self.log_path = log_path
        self.process: subprocess.Popen[str] | None = None
        self.port = 0
        self._log: Any = None

    def command(self) -> list[str]:
        argv = [
            sys.executable,
            "-m",
            "anyftp",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--root",
            "/",
            "--write",
            "--backend",
            "s3",
            "--login-failure-delay",
            "0",
        ]
        for key, value in self.options.items():
            argv += ["--backend-option", f"{key}={value}"]
        return argv + list(self.extra)

    def start(self) -> FtpServerProcess:
        self._log = open(self.log_path, "w") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            self.command(),
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + self.startup_timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("anyftp serve did not start")
                if not selector.select(remaining):
                    continue
                line = self.process.stdout.readline()
                match = _SERVING.search(line)
                if match:
                    self.port = int(match.group(2))
                    return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def memory_kib(self, field: str = "VmRSS") -> int:
        """A memory figure of the process from ``/proc/<pid>/status`` (KiB)."""
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise KeyError(field)

    def reset_peak_memory(self) -> None:
        """Make ``VmHWM`` start again from the current RSS (Linux ``clear_refs`` 5)."""
        with open(f"/proc/{self.pid}/clear_refs", "w") as refs:
            refs.write("5")

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (the server closes its sessions and the S3 state), then reap it."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            status = process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            status = process.wait(timeout)
        if process.stdout is not None:
            process.stdout.close()
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()
        return status

    def __enter__(self) -> FtpServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
