"""Fixtures of the fsspec backend tests: the three served filesystems.

``memory://`` (a fresh root per test), ``file://`` on a temporary directory, and
``s3://`` through s3fs against moto's S3 server, run in its own process on 127.0.0.1
with a port chosen by the OS and stopped by its process id at the end of the session.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiobotocore.session
import pytest

#: moto accepts any non-empty credentials.
KEY, SECRET, REGION = "testing", "testing", "us-east-1"

_MOTO_CHILD = """
import sys
from moto.server import ThreadedMotoServer
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


@pytest.fixture
async def bucket(s3_admin: Any) -> str:
    name = f"fsspec-{uuid.uuid4().hex[:16]}"
    await s3_admin.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_storage_options(moto_endpoint: str) -> dict[str, Any]:
    return {"endpoint_url": moto_endpoint, "key": KEY, "secret": SECRET}


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
