"""``anyftp serve --backend fsspec`` as a real process, driven by ftplib."""

from __future__ import annotations

import ftplib
import hashlib
import io
import random
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fsspec_servers import TIMEOUT

from anyftp.testing.servers import ServeProcess

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., int]]:
    """Run ``anyftp serve`` with the given arguments; returns the port it listens on."""
    processes: list[ServeProcess] = []

    def start(*args: str) -> int:
        arguments = ["--host", "127.0.0.1", "--login-failure-delay", "0", "--write", *args]
        served = ServeProcess(arguments, tmp_path, timeout=TIMEOUT)
        processes.append(served)
        assert served.port, f"no address in {served.banner!r}"
        return served.port

    yield start
    for served in processes:
        served.close(signal.SIGTERM)


def _client(port: int) -> ftplib.FTP:
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", port, timeout=TIMEOUT)
    ftp.login()
    return ftp


def _round_trip(ftp: ftplib.FTP, size: int) -> None:
    data = random.Random(size).randbytes(size)
    ftp.storbinary("STOR blob", io.BytesIO(data))
    out = io.BytesIO()
    ftp.retrbinary("RETR blob", out.write)
    assert hashlib.sha256(out.getvalue()).digest() == hashlib.sha256(data).digest()


def test_serve_a_file_url_given_as_a_backend_option(
    serve: Callable[..., int], tmp_path: Path
) -> None:
    served = tmp_path / "served"
    served.mkdir()
    port = serve("--backend", "fsspec", "--backend-option", f"url={served.as_uri()}")
    ftp = _client(port)
    _round_trip(ftp, 2 * 1024 * 1024 + 1)
    ftp.quit()
    assert (served / "blob").stat().st_size == 2 * 1024 * 1024 + 1


def test_serve_s3_with_storage_options_given_one_by_one(
    serve: Callable[..., int], s3_storage_options: dict[str, Any], bucket: str, sync_s3: Any
) -> None:
    port = serve(
        "--backend",
        "fsspec",
        "--backend-option",
        f"url=s3://{bucket}/cli",
        "--backend-option",
        f"storage_options.endpoint_url={s3_storage_options['endpoint_url']}",
        "--backend-option",
        f"storage_options.key={s3_storage_options['key']}",
        "--backend-option",
        f"storage_options.secret={s3_storage_options['secret']}",
    )
    ftp = _client(port)
    _round_trip(ftp, 300_001)
    ftp.mkd("made")
    assert sorted(ftp.nlst()) == ["blob", "made"]
    ftp.quit()
    keys = {o["Key"] for o in sync_s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {"cli/blob", "cli/made/"}


def test_serve_s3_with_url_and_option_flags(
    serve: Callable[..., int], s3_storage_options: dict[str, Any], bucket: str, sync_s3: Any
) -> None:
    port = serve(
        "--backend",
        "fsspec",
        "--url",
        f"s3://{bucket}/flags",
        "--option",
        f"endpoint_url={s3_storage_options['endpoint_url']}",
        "--option",
        f"key={s3_storage_options['key']}",
        "--option",
        f"secret={s3_storage_options['secret']}",
    )
    ftp = _client(port)
    _round_trip(ftp, 100_003)
    ftp.quit()
    keys = {o["Key"] for o in sync_s3.list_objects_v2(Bucket=bucket, Prefix="flags/")["Contents"]}
    assert keys == {"flags/blob"}
