"""``anyftp serve`` (and ``python -m anyftp serve``) as a real process."""

from __future__ import annotations

import ftplib
import io
import json
import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from anyftp.cli.serve import parse_backend_options
from anyftp.server import verify_password
from anyftp.testing.servers import ServeProcess

from .conftest import TIMEOUT

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., ServeProcess]]:
    processes: list[ServeProcess] = []

    def start(*args: str, cwd: Path | None = None) -> ServeProcess:
        served = ServeProcess(["--login-failure-delay", "0", *args], cwd or tmp_path)
        processes.append(served)
        if not served.port:
            served.close()
            raise AssertionError(f"no banner: {served.banner!r} {served.stderr()!r}")
        return served

    yield start
    for served in processes:
        served.close()


def test_defaults_serve_cwd_read_only_on_localhost(
    serve: Callable[..., ServeProcess], tmp_path: Path
) -> None:
    (tmp_path / "hello.txt").write_bytes(b"hi")
    served = serve()
    assert "ftp://127.0.0.1:" in served.banner
    ftp = served.ftp()
    out = io.BytesIO()
    ftp.retrbinary("RETR hello.txt", out.write)
    assert out.getvalue() == b"hi"
    with pytest.raises(ftplib.error_perm, match=r"^550"):
        ftp.storbinary("STOR new.txt", io.BytesIO(b"no"))
    ftp.quit()
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(TIMEOUT) == 0


def test_write_users_and_passive_ports(serve: Callable[..., ServeProcess], tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    served = serve(
        "--root",
        str(root),
        "--write",
        "--anonymous",
        "--user",
        "ann:pw",
        "--passive-ports",
        "40000-40100",
    )
    ftp = served.ftp()
    ftp.storbinary("STOR anon.txt", io.BytesIO(b"a"))
    assert 40000 <= int(ftp.sendcmd("EPSV").split("|||")[1].split("|")[0]) <= 40100
    ftp.sendcmd("ABOR")
    ftp.quit()
    ftp = served.ftp("ann", "pw")
    ftp.storbinary("STOR ann.txt", io.BytesIO(b"b"))
    ftp.quit()
    assert sorted(p.name for p in root.iterdir()) == ["ann.txt", "anon.txt"]


def test_users_file_with_hashed_password(
    serve: Callable[..., ServeProcess], tmp_path: Path
) -> None:
    hashed = subprocess.run(
        [sys.executable, "-m", "anyftp", "serve", "--hash-password", "-"],
        input="s3cret\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=TIMEOUT,
    ).stdout.strip()
    assert verify_password(hashed, "s3cret")
    (tmp_path / "home").mkdir()
    users = tmp_path / "users.toml"
    users.write_text(
        f'[[users]]\nlogin = "kim"\npassword = "{hashed}"\n'
        f'base_path = "{tmp_path / "home"}"\n'
        '[[users.permissions]]\npath = "/"\nwritable = true\n'
    )
    served = serve("--users-file", str(users))
    ftp = served.ftp("kim", "s3cret")
    ftp.storbinary("STOR k", io.BytesIO(b"k"))
    ftp.quit()
    assert (tmp_path / "home" / "k").read_bytes() == b"k"
    with pytest.raises(ftplib.error_perm, match=r"^530"):
        served.ftp()  # anonymous is off when accounts are given
    with pytest.raises(ftplib.error_perm, match=r"^530"):
        served.ftp("kim", "wrong")


def test_memory_backend_by_name(serve: Callable[..., ServeProcess]) -> None:
    served = serve("--backend", "memory", "--write")
    assert "MemoryPathIO" in served.banner
    ftp = served.ftp()
    ftp.storbinary("STOR m", io.BytesIO(b"memory"))
    assert ftp.nlst() == ["m"]
    ftp.quit()


def test_tls_required(
    serve: Callable[..., ServeProcess],
    tmp_path: Path,
    tls_ca: Any,
    client_tls_context: ssl.SSLContext,
) -> None:
    cert = tls_ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    served = serve("--tls-cert", str(tmp_path / "server.pem"), "--require-tls", "--write")
    plain = ftplib.FTP()
    plain.connect("127.0.0.1", served.port, timeout=TIMEOUT)
    with pytest.raises(ftplib.error_perm, match=r"^530"):
        plain.login()
    plain.close()
    ftp = ftplib.FTP_TLS(context=client_tls_context)
    ftp.connect("127.0.0.1", served.port, timeout=TIMEOUT)
    ftp.login()
    ftp.prot_p()
    ftp.storbinary("STOR secure", io.BytesIO(b"tls"))
    ftp.quit()
    assert (tmp_path / "secure").read_bytes() == b"tls"


def test_bad_configuration_is_reported(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "anyftp", "serve", "--backend", "nosuch"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "nosuch" in result.stderr and "Traceback" not in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "anyftp", "serve", "--require-tls"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "--tls-cert" in result.stderr


def test_help_names_the_defaults() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "anyftp", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert "default: 127.0.0.1" in result.stdout and "default: 2121" in result.stdout


def test_backend_options_are_parsed() -> None:
    assert parse_backend_options(
        ["bucket=data", "max_keys=10", "anon=true", "endpoint-url=http://x"]
    ) == {"bucket": "data", "max_keys": 10, "anon": True, "endpoint_url": "http://x"}
    with pytest.raises(ValueError):
        parse_backend_options(["novalue"])
    assert json.dumps(parse_backend_options([]))
