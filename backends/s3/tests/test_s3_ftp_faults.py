"""Faults seen through FTP: the S3 endpoint going away in the middle of an upload, and a
client going away in the middle of one. The server runs in its own process; the S3
endpoint is a moto server reached through a TCP proxy the test can cut."""

from __future__ import annotations

import ftplib
import io
import socket
import struct
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from s3_ftpserver import FtpServerProcess
from s3_moto import CREDENTIALS, MotoServer
from s3_proxy import TcpProxy

MIB = 1024 * 1024
TIMEOUT = 30
BLOCK = b"\x5a" * (256 * 1024)
#: Most an upload sends before the test gives up waiting for a condition.
SEND_LIMIT = 200 * MIB


def connect(port: int) -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect("127.0.0.1", port, timeout=TIMEOUT)
    client.login()
    return client


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Poll another process's visible state until *condition* holds (bounded)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def send_until(data_socket: socket.socket, stop: Callable[[], bool]) -> int:
    """Send blocks until *stop()* or the server breaks the connection; bytes sent."""
    sent = 0
    try:
        while not stop() and sent < SEND_LIMIT:
            data_socket.sendall(BLOCK)
            sent += len(BLOCK)
    except OSError:
        pass
    return sent


def server_options(endpoint: str, bucket: str) -> dict[str, Any]:
    return {
        "bucket": bucket,
        "endpoint_url": endpoint,
        "part_size": 5 * MIB,
        "max_retries": 2,
        "retry_base_delay": 0.05,
        "connect_timeout": 2,
        "read_timeout": 10,
        **CREDENTIALS,
    }


def object_exists(admin: Any, bucket: str, key: str) -> bool:
    page = admin.list_objects_v2(Bucket=bucket, Prefix=key)
    return any(item["Key"] == key for item in page.get("Contents", ()))


def open_uploads(admin: Any, bucket: str) -> list[Any]:
    return list(admin.list_multipart_uploads(Bucket=bucket).get("Uploads", ()))


@pytest.fixture
def admin(moto_endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=moto_endpoint, **CREDENTIALS)


@pytest.fixture
def bucket(admin: Any) -> str:
    name = f"fault-{uuid.uuid4().hex[:16]}"
    admin.create_bucket(Bucket=name)
    return name


@pytest.fixture
def proxy(moto_server: MotoServer) -> Iterator[TcpProxy]:
    front = TcpProxy(moto_server.port).start()
    yield front
    front.close()


def test_endpoint_cut_mid_upload_fails_the_transfer_and_stores_nothing(
    proxy: TcpProxy, admin: Any, bucket: str
) -> None:
    with FtpServerProcess(server_options(proxy.url, bucket)) as server:
        bystander = connect(server.port)
        client = connect(server.port)
        client.voidcmd("TYPE I")
        data = client.transfercmd("STOR target.bin")
        send_until(data, proxy.upload_part_seen.is_set)
        proxy.stop()  # the S3 endpoint is gone for the server
        send_until(data, lambda: False)  # until the server gives up on the upload
        data.close()
        with pytest.raises((ftplib.error_temp, ftplib.error_perm)) as reply:
            client.voidresp()
        assert str(reply.value)[:1] in "45"

        # Other sessions are still served, and so is the failed one.
        assert bystander.voidcmd("NOOP").startswith("200")
        assert client.pwd() == "/"
        assert not object_exists(admin, bucket, "target.bin")

        proxy.start()  # the endpoint is back (same address): work goes on
        bystander.storbinary("STOR after.bin", io.BytesIO(b"fine"))
        assert object_exists(admin, bucket, "after.bin")
        bystander.quit()
        client.quit()
    # Closing the server retried the abort that could not reach S3 during the outage.
    assert open_uploads(admin, bucket) == []
    assert not object_exists(admin, bucket, "target.bin")


def test_endpoint_process_killed_mid_upload_and_restarted(tmp_path: Any) -> None:
    moto = MotoServer().start()
    front = TcpProxy(moto.port).start()  # only watches for the first part request
    try:
        options = {"endpoint_url": moto.url, **CREDENTIALS}
        boto3.client("s3", **options).create_bucket(Bucket="crash")
        with FtpServerProcess(server_options(front.url, "crash")) as server:
            bystander = connect(server.port)
            client = connect(server.port)
            client.voidcmd("TYPE I")
            data = client.transfercmd("STOR target.bin")
            send_until(data, front.upload_part_seen.is_set)
            port = moto.port
            moto.stop()  # SIGKILL: the endpoint dies with the upload in flight
            send_until(data, lambda: False)
            data.close()
            with pytest.raises((ftplib.error_temp, ftplib.error_perm)):
                client.voidresp()
            assert bystander.voidcmd("NOOP").startswith("200")
            with pytest.raises(ftplib.error_temp, match=r"^451 storage unreachable"):
                bystander.nlst()  # storage unreachable: a transient reply, not a crash

            moto = MotoServer(port=port).start()  # back on the same address, empty
            boto3.client("s3", **options).create_bucket(Bucket="crash")
            client.storbinary("STOR again.bin", io.BytesIO(b"works"))
            assert bystander.nlst() == ["again.bin"]
            bystander.quit()
            client.quit()
    finally:
        front.close()
        moto.stop()


def _reset_on_close(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.mark.parametrize("how", ["control-closed-first", "connections-reset"])
def test_client_disconnecting_mid_upload_leaves_no_object_and_no_multipart_upload(
    proxy: TcpProxy, admin: Any, bucket: str, how: str
) -> None:
    with FtpServerProcess(server_options(proxy.url, bucket)) as server:
        client = connect(server.port)
        client.voidcmd("TYPE I")
        data = client.transfercmd("STOR target.bin")
        send_until(data, proxy.upload_part_seen.is_set)
        wait_for(lambda: len(open_uploads(admin, bucket)) == 1)
        control = client.sock
        if how == "connections-reset":
            _reset_on_close(control)
            _reset_on_close(data)
        client.file.close()  # ftplib's reader holds the socket open: release it first
        control.close()
        data.close()
        wait_for(lambda: open_uploads(admin, bucket) == [])
        assert not object_exists(admin, bucket, "target.bin")
        # The server goes on serving.
        other = connect(server.port)
        assert other.nlst() == []
        other.quit()
    assert not object_exists(admin, bucket, "target.bin")
