"""Fixtures of the S3 backend tests: a moto server process on loopback, a fresh bucket
per test, and S3PathIO instances on it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import PurePosixPath
from typing import Any

import aiobotocore.session
import pytest
from s3_moto import CREDENTIALS, MotoServer

from anyftp_s3.client import S3State
from anyftp_s3.pathio import S3PathIO


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="session")
def moto_endpoint(moto_server: MotoServer) -> str:
    return moto_server.url


@pytest.fixture
async def s3_admin(moto_endpoint: str) -> AsyncIterator[Any]:
    """A plain aiobotocore client for checking the bucket behind the backend's back."""
    session = aiobotocore.session.get_session()
    async with session.create_client("s3", endpoint_url=moto_endpoint, **CREDENTIALS) as c:
        yield c


@pytest.fixture
async def bucket(s3_admin: Any) -> str:
    name = f"t-{uuid.uuid4().hex[:20]}"
    await s3_admin.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_options(moto_endpoint: str, bucket: str) -> dict[str, Any]:
    """Backend options for a fresh bucket; small parts so multipart paths run on MiBs."""
    return {
        "bucket": bucket,
        "endpoint_url": moto_endpoint,
        "part_size": 5 * 1024 * 1024,
        "retry_base_delay": 0.01,
        "max_retries": 2,
        **CREDENTIALS,
    }


@pytest.fixture
async def s3_state(s3_options: dict[str, Any]) -> AsyncIterator[S3State]:
    state = S3PathIO.create_state(**s3_options)
    yield state
    await S3PathIO.close_state(state)


@pytest.fixture
def path_io(s3_state: S3State) -> S3PathIO:
    return S3PathIO(timeout=30, state=s3_state, root=PurePosixPath("."))
