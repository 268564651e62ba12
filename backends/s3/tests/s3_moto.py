"""A real S3 HTTP endpoint on loopback for the tests: moto's server in its own process.

:class:`MotoServer` starts ``moto.server.ThreadedMotoServer`` in a child Python process
bound to 127.0.0.1 (port chosen by the OS unless one is given, so a stopped endpoint can
come back on the same address), waits - bounded - until it answers HTTP, and stops it by
its process id. aiobotocore reaches it over real HTTP; nothing in botocore is mocked.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

__all__ = ("MotoServer", "CREDENTIALS")

#: Any non-empty credentials work against moto.
CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "region_name": "us-east-1",
}

_CHILD = """
import sys, threading
from moto.server import MotoRequestHandler, ThreadedMotoServer
MotoRequestHandler.protocol_version = "HTTP/1.1"  # keep-alive, as S3 does
server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()  # until the parent closes our stdin (or kills us)
server.stop()
"""


class MotoServer:
    """One moto server process; ``url`` is its endpoint."""

    def __init__(self, port: int = 0, startup_timeout: float = 30.0) -> None:
        self.requested_port = port
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[str] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        env = dict(os.environ, MOTO_ALLOW_NONEXISTENT_REGION="true")
        self.process = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(self.requested_port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + self.startup_timeout
        line = _readline_until(self.process, deadline)
        self.port = int(line)
        # The child prints the port once its socket listens, so one request must succeed.
        try:
            with urllib.request.urlopen(self.url + "/moto-api/", timeout=self.startup_timeout):
                pass
        except OSError as exc:
            self.stop()
            raise TimeoutError(f"moto server on {self.url} did not answer: {exc}") from exc
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server at once (as a crash would: SIGKILL) and reap it."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _readline_until(process: subprocess.Popen[str], deadline: float) -> str:
    import selectors

    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or process.poll() is not None:
                process.kill()
                process.wait(5)
                raise TimeoutError("moto server did not start")
            if selector.select(remaining):
                line = process.stdout.readline()
                if line.strip():
                    return line.strip()
