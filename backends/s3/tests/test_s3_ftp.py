"""End to end: ftplib and curl against ``anyftp serve --backend s3`` (its own process) on a
moto S3 endpoint; every byte checked by sha256, the bucket inspected directly."""

from __future__ import annotations

import ftplib
import hashlib
import io
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from s3_ftpserver import FtpServerProcess
from s3_moto import CREDENTIALS

MIB = 1024 * 1024
TIMEOUT = 30
PART_SIZE = 5 * MIB

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl binary")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def server_options(endpoint: str, bucket: str, **extra: Any) -> dict[str, Any]:
    return {
        "bucket": bucket,
        "endpoint_url": endpoint,
        "part_size": PART_SIZE,
        **CREDENTIALS,
        **extra,
    }


@pytest.fixture(scope="module")
def admin(moto_endpoint: str) -> Any:
    """A plain boto3 client to look into the bucket behind the server's back."""
    return boto3.client("s3", endpoint_url=moto_endpoint, **CREDENTIALS)


@pytest.fixture(scope="module")
def shared_bucket(admin: Any) -> str:
    name = f"e2e-{uuid.uuid4().hex[:16]}"
    admin.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="module")
def ftp_server(moto_endpoint: str, shared_bucket: str) -> Iterator[FtpServerProcess]:
    with FtpServerProcess(server_options(moto_endpoint, shared_bucket)) as server:
        yield server


def connect(port: int) -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect("127.0.0.1", port, timeout=TIMEOUT)
    client.login()
    return client


@pytest.fixture
def workdir(ftp_server: FtpServerProcess) -> str:
    """A fresh directory for the test on the shared server."""
    name = f"w-{uuid.uuid4().hex[:12]}"
    client = connect(ftp_server.port)
    client.mkd(name)
    client.quit()
    return name


@pytest.fixture
def ftp(ftp_server: FtpServerProcess, workdir: str) -> Iterator[ftplib.FTP]:
    client = connect(ftp_server.port)
    client.cwd(workdir)
    yield client
    try:
        client.quit()
    except ftplib.all_errors:
        client.close()


def retrieve(client: ftplib.FTP, path: str, rest: int | None = None) -> bytes:
    out = io.BytesIO()
    client.retrbinary(f"RETR {path}", out.write, blocksize=256 * 1024, rest=rest)
    return out.getvalue()


def stored(admin: Any, bucket: str, key: str) -> bytes | None:
    try:
        body: bytes = admin.get_object(Bucket=bucket, Key=key)["Body"].read()
    except admin.exceptions.NoSuchKey:
        return None
    return body


def open_uploads(admin: Any, bucket: str) -> list[Any]:
    return list(admin.list_multipart_uploads(Bucket=bucket).get("Uploads", ()))


def keys_under(admin: Any, bucket: str, prefix: str) -> list[str]:
    page = admin.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in page.get("Contents", ()))


# --- ftplib ---------------------------------------------------------------------------------


def test_ftplib_upload_list_download_rename_delete(
    ftp: ftplib.FTP, workdir: str, admin: Any, shared_bucket: str
) -> None:
    small, large = os.urandom(1000), os.urandom(12 * MIB + 17)
    ftp.mkd("sub")
    ftp.storbinary("STOR small.bin", io.BytesIO(small))
    ftp.storbinary("STOR sub/large.bin", io.BytesIO(large), blocksize=256 * 1024)
    assert sorted(ftp.nlst()) == ["small.bin", "sub"]
    facts = dict(ftp.mlsd("sub", facts=["type", "size"]))
    assert facts["large.bin"] == {"type": "file", "size": str(len(large))}
    assert ftp.size("sub/large.bin") == len(large)
    assert ftp.sendcmd("MDTM small.bin").startswith("213 ")
    assert sha256(retrieve(ftp, "sub/large.bin")) == sha256(large)
    assert sha256(stored(admin, shared_bucket, f"{workdir}/sub/large.bin") or b"") == sha256(large)

    ftp.rename("sub", "moved")
    ftp.rename("small.bin", "moved/small-renamed.bin")
    assert keys_under(admin, shared_bucket, workdir + "/") == [
        f"{workdir}/",
        f"{workdir}/moved/",
        f"{workdir}/moved/large.bin",
        f"{workdir}/moved/small-renamed.bin",
    ]
    assert retrieve(ftp, "moved/small-renamed.bin") == small

    with pytest.raises(ftplib.error_perm, match=r"^550"):
        ftp.rmd("moved")  # not empty
    ftp.delete("moved/large.bin")
    ftp.delete("moved/small-renamed.bin")
    ftp.rmd("moved")
    assert ftp.nlst() == []
    assert keys_under(admin, shared_bucket, workdir + "/") == [f"{workdir}/"]
    assert open_uploads(admin, shared_bucket) == []


def test_ftplib_missing_file_and_directory_get_550(ftp: ftplib.FTP) -> None:
    with pytest.raises(ftplib.error_perm, match=r"^550"):
        retrieve(ftp, "nothing.bin")
    with pytest.raises(ftplib.error_perm, match=r"^550"):
        ftp.cwd("no-such-dir")
    with pytest.raises(ftplib.error_perm, match=r"^550"):
        ftp.storbinary("STOR no-such-dir/f", io.BytesIO(b"x"))


def test_ftplib_resumes_an_upload_with_rest_and_appends_with_appe(
    ftp: ftplib.FTP, workdir: str, admin: Any, shared_bucket: str
) -> None:
    data = os.urandom(14 * MIB + 5)
    first, rest = data[: 6 * MIB], data[6 * MIB :]
    ftp.storbinary("STOR resumed.bin", io.BytesIO(first))
    ftp.storbinary("STOR resumed.bin", io.BytesIO(rest), rest=len(first))
    assert ftp.size("resumed.bin") == len(data)
    assert sha256(retrieve(ftp, "resumed.bin")) == sha256(data)

    tail = os.urandom(3 * MIB)
    ftp.storbinary("APPE resumed.bin", io.BytesIO(tail))
    assert sha256(stored(admin, shared_bucket, f"{workdir}/resumed.bin") or b"") == sha256(
        data + tail
    )
    ftp.storbinary("STOR small.txt", io.BytesIO(b"hello "))
    ftp.storbinary("APPE small.txt", io.BytesIO(b"world"))
    assert retrieve(ftp, "small.txt") == b"hello world"
    assert open_uploads(admin, shared_bucket) == []


def test_ftplib_resumes_a_download_with_rest(ftp: ftplib.FTP) -> None:
    data = os.urandom(7 * MIB + 3)
    ftp.storbinary("STOR f.bin", io.BytesIO(data))
    for offset in (1, MIB, len(data) - 1):
        assert sha256(retrieve(ftp, "f.bin", rest=offset)) == sha256(data[offset:])


# --- curl -----------------------------------------------------------------------------------


def curl(*args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["curl", "--silent", "--show-error", "--max-time", "120", "--disable-epsv", *args],
        capture_output=True,
        timeout=150,
        check=check,
    )


@needs_curl
def test_curl_upload_download_resume_append_list_rename_delete(
    ftp_server: FtpServerProcess, workdir: str, tmp_path: Path, admin: Any, shared_bucket: str
) -> None:
    url = f"ftp://127.0.0.1:{ftp_server.port}/{workdir}/"
    data = os.urandom(9 * MIB + 11)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    curl("-T", str(source), url + "up.bin")
    assert sha256(stored(admin, shared_bucket, f"{workdir}/up.bin") or b"") == sha256(data)

    download = tmp_path / "down.bin"
    curl("-o", str(download), url + "up.bin")
    assert sha256(download.read_bytes()) == sha256(data)

    # Resume a download cut short: keep the first 2 MiB, let curl fetch the rest (REST).
    partial = tmp_path / "partial.bin"
    partial.write_bytes(data[: 2 * MIB])
    curl("-C", "-", "-o", str(partial), url + "up.bin")
    assert sha256(partial.read_bytes()) == sha256(data)

    # Resume an upload: the server has the first 6 MiB, curl sends the rest (REST + STOR).
    (tmp_path / "head.bin").write_bytes(data[: 6 * MIB])
    curl("-T", str(tmp_path / "head.bin"), url + "resumed.bin")
    curl("-C", "-", "-T", str(source), url + "resumed.bin")
    assert sha256(stored(admin, shared_bucket, f"{workdir}/resumed.bin") or b"") == sha256(data)

    extra = tmp_path / "extra.bin"
    extra.write_bytes(b"appended by curl")
    curl("--append", "-T", str(extra), url + "up.bin")
    assert stored(admin, shared_bucket, f"{workdir}/up.bin") == data + b"appended by curl"

    listing = curl("--list-only", url).stdout.decode().split()
    assert sorted(listing) == ["resumed.bin", "up.bin"]
    long_listing = curl(url).stdout.decode()
    assert str(len(data) + len(b"appended by curl")) in long_listing

    curl("-Q", f"RNFR {workdir}/up.bin", "-Q", f"RNTO {workdir}/renamed.bin", url)
    curl("-Q", f"DELE {workdir}/resumed.bin", url)
    assert sorted(curl("--list-only", url).stdout.decode().split()) == ["renamed.bin"]
    assert keys_under(admin, shared_bucket, workdir + "/") == [
        f"{workdir}/",
        f"{workdir}/renamed.bin",
    ]


# --- a large file and the server's memory ---------------------------------------------------


@needs_curl
@pytest.mark.slow
def test_100_mib_file_round_trip_with_server_memory_bounded_by_parts(
    ftp_server: FtpServerProcess,
    ftp: ftplib.FTP,
    workdir: str,
    tmp_path: Path,
    admin: Any,
    shared_bucket: str,
) -> None:
    size = 100 * MIB
    source = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with source.open("wb") as out:
        for _ in range(size // MIB):
            block = os.urandom(MIB)
            digest.update(block)
            out.write(block)
    # Warm up (imports, connection pool, first multipart upload), then measure the peak.
    warm = tmp_path / "warm.bin"
    warm.write_bytes(os.urandom(3 * PART_SIZE))
    url = f"ftp://127.0.0.1:{ftp_server.port}/{workdir}/"
    curl("-T", str(warm), url + "warm.bin")
    baseline = ftp_server.memory_kib("VmRSS")
    ftp_server.reset_peak_memory()

    curl("-T", str(source), url + "big.bin")
    peak_growth = (ftp_server.memory_kib("VmHWM") - baseline) * 1024

    assert ftp.size("big.bin") == size
    received = hashlib.sha256()
    ftp.retrbinary("RETR big.bin", received.update, blocksize=256 * 1024)
    assert received.hexdigest() == digest.hexdigest()
    head = admin.head_object(Bucket=shared_bucket, Key=f"{workdir}/big.bin")
    assert head["ContentLength"] == size
    # Bounded by part size times parts in flight (2 + the one filling), plus slack for
    # the HTTP client's buffers; nowhere near the file's size.
    print(f"server RSS {baseline / 1024:.1f} MiB, peak growth {peak_growth / MIB:.1f} MiB")
    assert peak_growth < 6 * PART_SIZE, f"server grew by {peak_growth / MIB:.1f} MiB"
