"""Real servers for the fsspec backend tests: moto's S3 server in its own process, and
an anyftp server in its own thread and event loop (so blocking ftplib can drive it)."""

from __future__ import annotations

import asyncio
import ftplib
import os
import selectors
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any

__all__ = ("KEY", "REGION", "SECRET", "TIMEOUT", "ServerThread", "start_moto", "stop_moto")

#: moto accepts any non-empty credentials.
KEY, SECRET, REGION = "testing", "testing", "us-east-1"

_MOTO_CHILD = """
import sys
from moto.server import ThreadedMotoServer
import logging
logging.getLogger("werkzeug").setLevel(logging.ERROR)
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()  # until the parent closes our stdin
server.stop()
"""


def _read_port(process: subprocess.Popen[str], timeout: float) -> int:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise TimeoutError(f"moto server printed no port within {timeout} s")
    line = process.stdout.readline()
    if not line.strip():
        raise RuntimeError(f"moto server exited with {process.poll()} before listening")
    return int(line)


def start_moto() -> tuple[subprocess.Popen[str], str]:
    """Start moto's server on 127.0.0.1 (OS-chosen port); returns the process and URL."""
    env = dict(os.environ, MOTO_ALLOW_NONEXISTENT_REGION="true", AWS_DEFAULT_REGION=REGION)
    process = subprocess.Popen(
        [sys.executable, "-c", _MOTO_CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        url = f"http://127.0.0.1:{_read_port(process, 30.0)}"
        deadline = time.monotonic() + 30.0
        while True:  # the port is printed once the socket listens; bounded anyway
            try:
                with urllib.request.urlopen(url + "/moto-api/", timeout=5.0):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    except BaseException:
        stop_moto(process)
        raise
    return process, url


def stop_moto(process: subprocess.Popen[str]) -> None:
    """Stop moto's process: close its stdin, then kill it if it does not exit."""
    if process.stdin is not None:
        process.stdin.close()
    try:
        process.wait(10.0)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10.0)
    if process.stdout is not None:
        process.stdout.close()


#: Bound on every wait of the end-to-end tests (seconds).
TIMEOUT = 30.0


class ServerThread:
    """An anyftp Server on 127.0.0.1 (OS-chosen port) in its own thread and event loop,
    so that blocking clients such as ftplib can talk to it."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="anyftp-fsspec-server")
        self.started = threading.Event()
        self.error: BaseException | None = None
        self.port = 0

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.server.start("127.0.0.1", 0))
            self.port = self.server.server_port
        except BaseException as exc:
            self.error = exc
            self.started.set()
            self.loop.close()
            return
        self.started.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.server.close())
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def start(self) -> ServerThread:
        self.thread.start()
        if not self.started.wait(TIMEOUT):
            raise TimeoutError("the server did not start")
        if self.error is not None:
            self.thread.join(TIMEOUT)
            raise self.error
        return self

    def stop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(TIMEOUT)
            assert not self.thread.is_alive(), "the server thread did not stop"

    def client(self) -> ftplib.FTP:
        ftp = ftplib.FTP()
        ftp.connect("127.0.0.1", self.port, timeout=TIMEOUT)
        ftp.login()
        return ftp
