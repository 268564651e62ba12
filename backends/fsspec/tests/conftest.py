"""Fixtures of the fsspec backend tests: the three served filesystems.

``memory://`` (a fresh root per test), ``file://`` on a temporary directory, and
``s3://`` through s3fs against moto's S3 server, run in its own process on 127.0.0.1
with a port chosen by the OS and stopped at the end of the session; and anyftp servers
on the fsspec backend, each stopped at the end of its test.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiobotocore.session
import botocore.session
import pytest
from fsspec_servers import KEY, REGION, SECRET, TIMEOUT, ServerThread, start_moto, stop_moto

import anyftp


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """URL of a moto S3 server process on loopback."""
    process, url = start_moto()
    try:
        yield url
    finally:
        stop_moto(process)


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
        thread = ServerThread(server, timeout=TIMEOUT, name="anyftp-fsspec-server")
        running.append(thread)
        return thread.start()

    yield start
    for thread in running:
        thread.stop()
