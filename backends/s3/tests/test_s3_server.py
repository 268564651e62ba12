"""``anyftp.Server(path_io_factory="s3", path_io_options=...)`` in the test's event loop,
driven by anyftp's aioftp-compatible client: one S3 client serves every session, and
it is closed with the server."""

from __future__ import annotations

import asyncio
import hashlib
import os
from typing import Any

import anyftp
from anyftp_s3.client import S3State

TIMEOUT = 30


async def test_server_selects_s3_by_name_and_shares_one_client_closed_on_close(
    s3_options: dict[str, Any], s3_admin: Any, bucket: str
) -> None:
    server = anyftp.Server(
        [anyftp.User("alice", "secret", base_path="/alice")],
        path_io_factory="s3",
        path_io_options={**s3_options, "prefix": "tenants"},
        login_failure_delay=0,
    )
    await server.start("127.0.0.1", 0)
    state = server._backend_state
    assert isinstance(state, S3State)
    try:
        data = os.urandom(6 * 1024 * 1024 + 7)

        async def session(index: int) -> bytes:
            async with asyncio.timeout(TIMEOUT):
                async with anyftp.Client.context(
                    "127.0.0.1", server.server_port, "alice", "secret"
                ) as client:
                    await client.make_directory(f"d{index}")
                    async with client.upload_stream(f"d{index}/f.bin") as stream:
                        await stream.write(data)
                    async with client.download_stream(f"d{index}/f.bin") as stream:
                        return b"".join([block async for block in stream.iter_by_block()])

        first_client = None
        results = await asyncio.gather(*(session(i) for i in range(3)))
        first_client = await state.client()
        results.append(await session(3))
        assert await state.client() is first_client
        for received in results:
            assert hashlib.sha256(received).digest() == hashlib.sha256(data).digest()
        listing = await s3_admin.list_objects_v2(Bucket=bucket, Prefix="tenants/alice/")
        assert sorted(item["Key"] for item in listing["Contents"]) == [
            f"tenants/alice/d{i}/{name}" for i in range(4) for name in ("", "f.bin")
        ]
    finally:
        server.close()
        await server.wait_closed()
    assert state._client is None  # closed with the server
