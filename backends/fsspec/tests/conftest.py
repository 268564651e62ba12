"""Fixtures of the fsspec backend tests: the three served filesystems.

``memory://`` (a fresh root per test), ``file://`` on a temporary directory, and
``s3://`` through s3fs against moto's S3 server, run in its own process on 127.0.0.1
with a port chosen by the OS and stopped by its process id at the end of the session.
"""

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
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiobotocore.session
import botocore.session
import pytest

import anyftp

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


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """URL of a moto S3 server process on loopback."""
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
        yield url
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(10.0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10.0)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
async def s3_admin(moto_endpoint: str) -> AsyncIterator[Any]:
    """A plain aiobotocore client to look at the bucket behind the backend's back."""
    session = aiobotocore.session.get_session()
    async with session.create_client(
        "s3",
        endpoint_url=moto_endpoint,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        region_name=REGION,
    ) as client:
        yield client


@pytest.fixture(scope="session")
def aio_session() -> aiobotocore.session.AioSession:
    """One botocore session for every s3fs instance: its loaded service models are
    reused, so making a client per test is cheap (clients themselves are per loop)."""
    return aiobotocore.session.AioSession()


@pytest.fixture(scope="session")
def sync_s3(moto_endpoint: str) -> Iterator[Any]:
    client = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=moto_endpoint,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        region_name=REGION,
    )
    yield client
    client.close()


@pytest.fixture
def bucket(sync_s3: Any) -> str:
    name = f"fsspec-{uuid.uuid4().hex[:16]}"
    sync_s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_storage_options(
    moto_endpoint: str, aio_session: aiobotocore.session.AioSession
) -> dict[str, Any]:
    return {"endpoint_url": moto_endpoint, "key": KEY, "secret": SECRET, "session": aio_session}


@pytest.fixture
def s3_state_options(bucket: str, s3_storage_options: dict[str, Any]) -> dict[str, Any]:
    """Backend options serving ``s3://<fresh bucket>/ftp-root``."""
    return {"url": f"s3://{bucket}/ftp-root", "storage_options": s3_storage_options}


@pytest.fixture
def memory_state_options() -> dict[str, Any]:
    """Backend options serving a fresh root in fsspec's (process-wide) memory store."""
    return {"url": f"memory://anyftp-tests/{uuid.uuid4().hex}"}


@pytest.fixture
def file_state_options(tmp_path: Path) -> dict[str, Any]:
    """Backend options serving a temporary directory through fsspec's local filesystem."""
    root = tmp_path / "served"
    root.mkdir()
    return {"url": root.as_uri()}


# --- a real anyftp server serving the fsspec backend --------------------------------------

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


@pytest.fixture
def fsspec_server() -> Iterator[Callable[[dict[str, Any]], ServerThread]]:
    """Start servers on the fsspec backend with the given options; all stopped at the end."""
    running: list[ServerThread] = []

    def start(options: dict[str, Any]) -> ServerThread:
        server = anyftp.Server(
            [anyftp.User(permissions=[anyftp.Permission("/", writable=True)])],
            path_io_factory="fsspec",
            path_io_options=options,
            socket_timeout=TIMEOUT,
            wait_future_timeout=TIMEOUT,
            login_failure_delay=0,
        )
        thread = ServerThread(server)
        running.append(thread)
        return thread.start()

    yield start
    for thread in running:
        thread.stop()
