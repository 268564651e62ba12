"""S3 benchmark: STOR/RETR MB/s through ``anyftp serve --backend s3`` next to the same
transfer made directly with aiobotocore, against the same endpoint, in the same run.

    python bench/s3_bench.py [--size MIB] [--repeat N] [--smoke] [--json PATH]
                             [--endpoint-url URL --bucket NAME]

Without ``--endpoint-url`` it starts a moto S3 server on 127.0.0.1 (its own process) and
a bucket in it; with one, it uses that endpoint (MinIO, a real bucket; credentials from
the usual botocore chain). The anchor ("direct") uploads with the same multipart part
size and parts in flight as the backend and downloads with one streamed GET, so the
ratio shows what the FTP hop and the backend add. ``run(...)`` returns the numbers as a
dict (``bench/run.py`` puts it under ``"s3"``), including a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import ftplib
import hashlib
import io
import json
import os
import re
import selectors
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

__all__ = ("run", "main")

MiB = 1024 * 1024
PART_SIZE = 8 * MiB
CONCURRENCY = 2
BLOCK = 256 * 1024
_CREDENTIALS = {
    "aws_access_key_id": "bench",
    "aws_secret_access_key": "bench",
    "region_name": "us-east-1",
}

_MOTO_CHILD = """
import sys
from moto.server import MotoRequestHandler, ThreadedMotoServer
MotoRequestHandler.protocol_version = "HTTP/1.1"
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
"""


class _Process:
    """A child process whose first matching stdout line is waited for (bounded)."""

    def __init__(self, argv: list[str], pattern: str, timeout: float) -> None:
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"{argv[:4]} did not start")
                if selector.select(remaining):
                    match = regex.search(self.process.stdout.readline())
                    if match:
                        self.port = int(match.group(1))
                        return

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


def _mbps(size: int, seconds: float) -> float:
    return size / MiB / seconds if seconds > 0 else float("inf")


# --- the anchor: aiobotocore directly --------------------------------------------------------


async def _direct(
    endpoint: str | None, bucket: str, key: str, data: bytes, credentials: dict[str, Any]
) -> tuple[float, float, str]:
    from aiobotocore.session import get_session

    session = get_session()
    async with session.create_client("s3", endpoint_url=endpoint, **credentials) as s3:
        started = time.perf_counter()
        upload = await s3.create_multipart_upload(Bucket=bucket, Key=key)
        upload_id = upload["UploadId"]
        semaphore = asyncio.Semaphore(CONCURRENCY)
        parts: dict[int, str] = {}

        async def part(number: int, start: int) -> None:
            async with semaphore:
                body = data[start : start + PART_SIZE]
                reply = await s3.upload_part(
                    Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
                )
                parts[number] = reply["ETag"]

        await asyncio.gather(
            *(part(n, s) for n, s in enumerate(range(0, len(data), PART_SIZE), start=1))
        )
        await s3.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": parts[n]} for n in sorted(parts)]},
        )
        stored = time.perf_counter()
        digest = hashlib.sha256()
        reply = await s3.get_object(Bucket=bucket, Key=key)
        async with reply["Body"] as body:
            while chunk := await body.read(BLOCK):
                digest.update(chunk)
        fetched = time.perf_counter()
        await s3.delete_object(Bucket=bucket, Key=key)
    return stored - started, fetched - stored, digest.hexdigest()


# --- through anyftp ---------------------------------------------------------------------------


def _through_ftp(port: int, name: str, data: bytes, timeout: float) -> tuple[float, float, str]:
    client = ftplib.FTP()
    client.connect("127.0.0.1", port, timeout=timeout)
    client.login()
    try:
        started = time.perf_counter()
        client.storbinary(f"STOR {name}", io.BytesIO(data), blocksize=BLOCK)
        stored = time.perf_counter()
        digest = hashlib.sha256()
        client.retrbinary(f"RETR {name}", digest.update, blocksize=BLOCK)
        fetched = time.perf_counter()
        client.delete(name)
    finally:
        client.quit()
    return stored - started, fetched - stored, digest.hexdigest()


def _serve_argv(endpoint: str | None, bucket: str, credentials: dict[str, Any]) -> list[str]:
    options: dict[str, Any] = {
        "bucket": bucket,
        "part_size": PART_SIZE,
        "upload_concurrency": CONCURRENCY,
        **credentials,
    }
    if endpoint:
        options["endpoint_url"] = endpoint
    argv = [
        sys.executable,
        "-m",
        "anyftp",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--root",
        "/",
        "--write",
        "--backend",
        "s3",
    ]
    for key, value in options.items():
        argv += ["--backend-option", f"{key}={value}"]
    return argv


# --- the run ------------------------------------------------------------------------------------


def run(
    size: int = 64 * MiB,
    repeat: int = 3,
    smoke: bool = False,
    timeout: float = 300.0,
    endpoint_url: str | None = None,
    bucket: str | None = None,
) -> dict[str, Any]:
    """Measure and return ``{"stor": {...}, "retr": {...}, "markdown": ...}`` (MB/s)."""
    if smoke:
        size, repeat = min(size, 2 * PART_SIZE + 1), 1
    moto: _Process | None = None
    server: _Process | None = None
    credentials: dict[str, Any] = {} if endpoint_url and bucket else dict(_CREDENTIALS)
    try:
        if endpoint_url is None:
            moto = _Process([sys.executable, "-c", _MOTO_CHILD], r"^(\d+)$", timeout=60)
            endpoint_url = f"http://127.0.0.1:{moto.port}"
        if bucket is None:
            import boto3

            bucket = f"bench-{uuid.uuid4().hex[:12]}"
            boto3.client("s3", endpoint_url=endpoint_url, **credentials).create_bucket(
                Bucket=bucket
            )
        server = _Process(
            _serve_argv(endpoint_url, bucket, credentials),
            r"serving ftp://[^:]+:(\d+)/",
            timeout=60,
        )
        data = os.urandom(size)
        expected = hashlib.sha256(data).hexdigest()
        samples: dict[str, dict[str, list[float]]] = {
            "stor": {"anyftp_s3": [], "aiobotocore": []},
            "retr": {"anyftp_s3": [], "aiobotocore": []},
        }
        for index in range(repeat):
            ftp_stor, ftp_retr, ftp_digest = _through_ftp(
                server.port, f"bench-{index}.bin", data, timeout
            )
            direct_stor, direct_retr, direct_digest = asyncio.run(
                _direct(endpoint_url, bucket, f"direct-{index}.bin", data, credentials)
            )
            if expected != ftp_digest or expected != direct_digest:
                raise RuntimeError("a downloaded copy does not match the upload")
            samples["stor"]["anyftp_s3"].append(_mbps(size, ftp_stor))
            samples["retr"]["anyftp_s3"].append(_mbps(size, ftp_retr))
            samples["stor"]["aiobotocore"].append(_mbps(size, direct_stor))
            samples["retr"]["aiobotocore"].append(_mbps(size, direct_retr))
    finally:
        if server is not None:
            server.stop()
        if moto is not None:
            moto.stop()
    result: dict[str, Any] = {
        "endpoint": "moto server on loopback" if moto is not None else endpoint_url,
        "size_bytes": size,
        "repeat": repeat,
        "part_size": PART_SIZE,
        "upload_concurrency": CONCURRENCY,
        "samples_mb_s": samples,
    }
    for direction in ("stor", "retr"):
        ours = statistics.median(samples[direction]["anyftp_s3"])
        anchor = statistics.median(samples[direction]["aiobotocore"])
        result[direction] = {
            "anyftp_s3": round(ours, 1),
            "aiobotocore": round(anchor, 1),
            "ratio": round(ours / anchor, 2) if anchor else None,
        }
    result["markdown"] = _markdown(result)
    return result


def _markdown(result: dict[str, Any]) -> str:
    lines = [
        f"S3 backend vs. aiobotocore ({result['endpoint']}; {result['size_bytes'] // MiB} MiB "
        f"file, median of {result['repeat']}, MB/s = MiB/s)",
        "",
        "| transfer | anyftp (FTP -> s3 backend) | aiobotocore direct | anyftp / direct |",
        "|---|---:|---:|---:|",
    ]
    for direction, label in (("stor", "STOR (upload)"), ("retr", "RETR (download)")):
        row = result[direction]
        lines.append(f"| {label} | {row['anyftp_s3']} | {row['aiobotocore']} | {row['ratio']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=64, help="file size in MiB (default 64)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--smoke", action="store_true", help="one small round")
    parser.add_argument("--endpoint-url", help="use this S3 endpoint instead of moto")
    parser.add_argument("--bucket", help="existing bucket at --endpoint-url")
    parser.add_argument("--json", type=Path, help="also write the result as JSON here")
    args = parser.parse_args(argv)
    result = run(
        size=args.size * MiB,
        repeat=args.repeat,
        smoke=args.smoke,
        endpoint_url=args.endpoint_url,
        bucket=args.bucket,
    )
    print(result["markdown"])
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
