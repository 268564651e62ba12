"""``anyftp serve --backend fsspec`` as a real process, driven by ftplib."""

from __future__ import annotations

import ftplib
import hashlib
import io
import random
import re
import selectors
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fsspec_servers import TIMEOUT

pytestmark = pytest.mark.timeout(120)


def _read_banner(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(TIMEOUT):
            raise TimeoutError("anyftp serve printed no banner")
    return process.stdout.readline()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., int]]:
    """Run ``anyftp serve`` with the given arguments; returns the port it listens on."""
    processes: list[subprocess.Popen[str]] = []

    def start(*args: str) -> int:
        command = [
            sys.executable,
            "-m",
            "anyftp",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--login-failure-delay",
            "0",
            "--write",
            *args,
        ]
        process = subprocess.Popen(
            command,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        banner = _read_banner(process)
        match = re.search(r"://[^/]+:(\d+)/", banner)
        assert match is not None, f"no address in {banner!r}"
        return int(match.group(1))

    yield start
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(TIMEOUT)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


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
