"""Scale-out: two server processes on different ports serving one bucket see each other's
changes at once - the object store is the shared part (see docs/s3.md)."""

from __future__ import annotations

import ftplib
import hashlib
import io
import os
import uuid
from typing import Any

import boto3
from s3_ftpserver import FtpServerProcess
from s3_moto import CREDENTIALS

TIMEOUT = 30


def connect(port: int) -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect("127.0.0.1", port, timeout=TIMEOUT)
    client.login()
    return client


def test_two_servers_on_one_bucket_see_each_others_files_at_once(moto_endpoint: str) -> None:
    bucket = f"scale-{uuid.uuid4().hex[:16]}"
    boto3.client("s3", endpoint_url=moto_endpoint, **CREDENTIALS).create_bucket(Bucket=bucket)
    options: dict[str, Any] = {
        "bucket": bucket,
        "endpoint_url": moto_endpoint,
        "prefix": "shared",
        **CREDENTIALS,
    }
    with FtpServerProcess(options) as first, FtpServerProcess(options) as second:
        assert first.port != second.port
        a, b = connect(first.port), connect(second.port)
        try:
            data = os.urandom(6 * 1024 * 1024 + 1)
            a.mkd("inbox")
            a.storbinary("STOR inbox/report.bin", io.BytesIO(data))
            # The other instance sees it immediately: no cache, no sync step.
            assert b.nlst("inbox") == ["inbox/report.bin"]
            out = io.BytesIO()
            b.retrbinary("RETR inbox/report.bin", out.write)
            assert hashlib.sha256(out.getvalue()).digest() == hashlib.sha256(data).digest()

            b.rename("inbox/report.bin", "inbox/done.bin")
            assert a.nlst("inbox") == ["inbox/done.bin"]
            b.storbinary("APPE inbox/done.bin", io.BytesIO(b"+more"))
            assert a.size("inbox/done.bin") == len(data) + 5
            a.delete("inbox/done.bin")
            assert b.nlst("inbox") == []
            b.rmd("inbox")
            assert a.nlst() == []
        finally:
            a.quit()
            b.quit()
