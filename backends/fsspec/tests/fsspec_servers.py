"""Real servers for the fsspec backend tests: moto's S3 server in its own process, and
an anyftp server in its own thread and event loop (so blocking ftplib can drive it), which is
:class:`anyftp.testing.servers.ServerThread`."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
import urllib.request

from anyftp.testing.servers import ServerThread

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
