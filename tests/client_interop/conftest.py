"""Servers nobody here wrote (and our own), started on loopback for the client tests.

Each server runs in its own process, started by a session fixture and stopped (SIGTERM,
then SIGKILL) when the session ends:

* ``pyftpdlib`` / ``pyftpdlib-tls``: ``pyftpdlib_server.py`` (pyftpdlib from the package
  index; the TLS variant uses its ``TLS_FTPHandler`` and requires TLS on control and data).
* ``vsftpd`` / ``vsftpd-tls``: ``/usr/sbin/vsftpd`` (Debian package ``vsftpd``) with a
  generated configuration. The working configuration, found by trial as root in a
  container, is:

  - ``listen=YES``, ``background=NO``, ``listen_address=127.0.0.1`` and a concrete
    ``listen_port``: vsftpd can not bind port 0, so the fixture bind-tests a free port,
    starts vsftpd on it and retries with another port if vsftpd exits at once;
  - ``run_as_launching_user=YES`` (vsftpd otherwise insists on dropping root privileges
    to a system user) and ``secure_chroot_dir`` pointing at an empty temporary directory;
    the configuration file must be owned by the user running vsftpd (the fixture writes
    it, so it is); this works as root and as an unprivileged user;
  - anonymous login only (no system users or PAM needed), ``anon_root`` a temporary
    directory holding a world-writable ``pub`` where the tests work, with upload, mkdir
    and "other" (rename, delete) writes enabled;
  - a passive port range of 100 ports picked at random, ``seccomp_sandbox=NO``;
  - for TLS: ``ssl_enable=YES`` with a trustme certificate, ``force_anon_logins_ssl`` and
    ``force_anon_data_ssl`` (explicit FTPS with protected data connections),
    ``require_ssl_reuse=YES`` (the data connection must resume the control session) and
    ``ssl_ciphers=HIGH``.

  vsftpd has no MLSD/MLST, so the client's LIST fallback is exercised on it.
* ``anyftp`` / ``anyftp-tls`` / ``anyftp-implicit``: this project's own server
  (``anyftp_server.py``); the TLS variant requires explicit TLS on control and data and
  session reuse, the implicit one speaks TLS from the first byte. Skipped with
  "anyftp.server not importable" only when ``import anyftp.server`` fails.

Readiness is awaited by reading the port a Python server prints, or (vsftpd, which
prints nothing) by connecting until its greeting arrives, within a bounded deadline.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import anyftp

HERE = Path(__file__).parent
VSFTPD = shutil.which("vsftpd") or "/usr/sbin/vsftpd"
START_DEADLINE = 15.0
SERVER_NAMES = (
    "pyftpdlib",
    "pyftpdlib-tls",
    "vsftpd",
    "vsftpd-tls",
    "anyftp",
    "anyftp-tls",
    "anyftp-implicit",
)


@dataclass
class FTPServerInfo:
    """How to reach one running server and where tests may write on it."""

    name: str
    host: str
    port: int
    user: str
    password: str
    #: "explicit" (AUTH TLS), "implicit" or None for plain FTP.
    tls: str | None
    #: Remote directory (relative to the login directory) where tests may write.
    work_dir: str
    #: The same directory on the local disk.
    local_work_dir: Path
    ca: Any = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.ca is not None:
            self.ca.configure_trust(context)
        return context

    def client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"socket_timeout": 15, "connection_timeout": 15}
        if self.tls == "implicit":
            kwargs["ssl"] = self.ssl_context()
        return kwargs

    async def connect(self, client: anyftp.Client, *, login: bool = True) -> list[str]:
        greeting = await client.connect(self.host, self.port)
        if self.tls == "explicit":
            await client.upgrade_to_tls(self.ssl_context())
        if login:
            await client.login(self.user, self.password)
        return greeting

    def url(self) -> str:
        scheme = "ftps" if self.tls else "ftp"
        return f"{scheme}://{self.user}:{self.password}@{self.host}:{self.port}"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def _read_port(process: subprocess.Popen[bytes]) -> int:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], START_DEADLINE)
    if not ready:
        _stop(process)
        raise RuntimeError("server did not print its port in time")
    line = process.stdout.readline()
    if not line.strip().isdigit():
        _stop(process)
        raise RuntimeError(f"server printed {line!r} instead of its port")
    return int(line)


def _wait_greeting(host: str, port: int, process: subprocess.Popen[bytes]) -> bool:
    """Connect until a 220 greeting arrives; False if the process died first."""
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=1) as sock:
                sock.settimeout(2)
                if sock.recv(64).startswith(b"220"):
                    return True
        except OSError:
            pass
        # Bounded readiness poll of a program that can not tell us when it listens.
        time.sleep(0.02)
    return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    pem = tmp_path_factory.mktemp("tls") / "server.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(pem))
    return ca, pem


def _start_python_server(
    script: str, root: Path, pem: Path | None, *extra: str
) -> tuple[subprocess.Popen[bytes], int]:
    command = [
        sys.executable,
        str(HERE / script),
        "--root",
        str(root),
        "--user",
        "user",
        "--password",
        "secret",
        *extra,
    ]
    if pem is not None:
        command += ["--certfile", str(pem), "--keyfile", str(pem)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return process, _read_port(process)


def _pyftpdlib(
    tmp_path_factory: pytest.TempPathFactory, name: str, tls: tuple[Any, Path] | None
) -> Iterator[FTPServerInfo]:
    pytest.importorskip("pyftpdlib")
    if tls is not None:
        pytest.importorskip("OpenSSL", reason="pyftpdlib's TLS handler needs pyopenssl")
    root = tmp_path_factory.mktemp(name)
    process, port = _start_python_server("pyftpdlib_server.py", root, tls[1] if tls else None)
    try:
        yield FTPServerInfo(
            name,
            "127.0.0.1",
            port,
            "user",
            "secret",
            "explicit" if tls else None,
            "",
            root,
            ca=tls[0] if tls else None,
            process=process,
        )
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def pyftpdlib_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FTPServerInfo]:
    yield from _pyftpdlib(tmp_path_factory, "pyftpdlib", None)


@pytest.fixture(scope="session")
def pyftpdlib_tls_server(
    tmp_path_factory: pytest.TempPathFactory, tls_files: tuple[Any, Path]
) -> Iterator[FTPServerInfo]:
    yield from _pyftpdlib(tmp_path_factory, "pyftpdlib-tls", tls_files)


def _vsftpd_config(base: Path, port: int, pem: Path | None) -> Path:
    root = base / "root"
    empty = base / "empty"
    pub = root / "pub"
    for directory in (root, empty, pub):
        directory.mkdir(exist_ok=True)
    root.chmod(0o555)
    pub.chmod(0o777)
    pasv = random.randrange(30000, 60000, 100)
    lines = [
        "listen=YES",
        "listen_ipv6=NO",
        "listen_address=127.0.0.1",
        f"listen_port={port}",
        "background=NO",
        "run_as_launching_user=YES",
        f"secure_chroot_dir={empty}",
        "anonymous_enable=YES",
        "no_anon_password=YES",
        f"anon_root={root}",
        "write_enable=YES",
        "anon_upload_enable=YES",
        "anon_mkdir_write_enable=YES",
        "anon_other_write_enable=YES",
        "anon_umask=022",
        "local_enable=NO",
        "pasv_enable=YES",
        "pasv_address=127.0.0.1",
        f"pasv_min_port={pasv}",
        f"pasv_max_port={pasv + 99}",
        "port_enable=YES",
        "xferlog_enable=NO",
        f"vsftpd_log_file={base / 'vsftpd.log'}",
        "seccomp_sandbox=NO",
        "use_localtime=NO",
        "idle_session_timeout=120",
        "data_connection_timeout=60",
    ]
    if pem is not None:
        lines += [
            "ssl_enable=YES",
            "allow_anon_ssl=YES",
            "force_anon_logins_ssl=YES",
            "force_anon_data_ssl=YES",
            f"rsa_cert_file={pem}",
            f"rsa_private_key_file={pem}",
            "require_ssl_reuse=YES",
            "ssl_ciphers=HIGH",
            "ssl_tlsv1=YES",
            "ssl_sslv2=NO",
            "ssl_sslv3=NO",
        ]
    config = base / "vsftpd.conf"
    config.write_text("\n".join(lines) + "\n")
    return config


def _vsftpd(
    tmp_path_factory: pytest.TempPathFactory, name: str, tls: tuple[Any, Path] | None
) -> Iterator[FTPServerInfo]:
    if not os.access(VSFTPD, os.X_OK):
        pytest.skip("vsftpd is not installed (apt-get install vsftpd)")
    base = tmp_path_factory.mktemp(name)
    process = None
    for _ in range(5):
        port = _free_port()
        config = _vsftpd_config(base, port, tls[1] if tls else None)
        process = subprocess.Popen(
            [VSFTPD, str(config)],
            cwd=base,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if _wait_greeting("127.0.0.1", port, process):
            break
        _stop(process)  # most likely the port was taken meanwhile: try another
        process = None
    if process is None:
        raise RuntimeError("vsftpd did not start (see its log in the temporary directory)")
    try:
        yield FTPServerInfo(
            name,
            "127.0.0.1",
            port,
            "anonymous",
            "anon@",
            "explicit" if tls else None,
            "pub",
            base / "root" / "pub",
            ca=tls[0] if tls else None,
            process=process,
        )
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def vsftpd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FTPServerInfo]:
    yield from _vsftpd(tmp_path_factory, "vsftpd", None)


@pytest.fixture(scope="session")
def vsftpd_tls_server(
    tmp_path_factory: pytest.TempPathFactory, tls_files: tuple[Any, Path]
) -> Iterator[FTPServerInfo]:
    yield from _vsftpd(tmp_path_factory, "vsftpd-tls", tls_files)


def _anyftp(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    tls: tuple[Any, Path] | None,
    mode: str | None = None,
) -> Iterator[FTPServerInfo]:
    try:
        import anyftp.server

        anyftp.server.Server  # noqa: B018 - the import is the check
    except (ImportError, AttributeError):
        pytest.skip("anyftp.server not importable")
    root = tmp_path_factory.mktemp(name)
    extra = ("--implicit",) if mode == "implicit" else ()
    process, port = _start_python_server("anyftp_server.py", root, tls[1] if tls else None, *extra)
    try:
        yield FTPServerInfo(
            name,
            "127.0.0.1",
            port,
            "user",
            "secret",
            mode,
            "",
            root,
            ca=tls[0] if tls else None,
            process=process,
        )
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def anyftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FTPServerInfo]:
    yield from _anyftp(tmp_path_factory, "anyftp", None)


@pytest.fixture(scope="session")
def anyftp_tls_server(
    tmp_path_factory: pytest.TempPathFactory, tls_files: tuple[Any, Path]
) -> Iterator[FTPServerInfo]:
    yield from _anyftp(tmp_path_factory, "anyftp-tls", tls_files, "explicit")


@pytest.fixture(scope="session")
def anyftp_implicit_server(
    tmp_path_factory: pytest.TempPathFactory, tls_files: tuple[Any, Path]
) -> Iterator[FTPServerInfo]:
    yield from _anyftp(tmp_path_factory, "anyftp-implicit", tls_files, "implicit")


_FIXTURES = {
    "pyftpdlib": "pyftpdlib_server",
    "pyftpdlib-tls": "pyftpdlib_tls_server",
    "vsftpd": "vsftpd_server",
    "vsftpd-tls": "vsftpd_tls_server",
    "anyftp": "anyftp_server",
    "anyftp-tls": "anyftp_tls_server",
    "anyftp-implicit": "anyftp_implicit_server",
}


@pytest.fixture(params=SERVER_NAMES)
def ftp_server(request: pytest.FixtureRequest) -> FTPServerInfo:
    """Each server in turn."""
    info: FTPServerInfo = request.getfixturevalue(_FIXTURES[request.param])
    return info


_counter = itertools.count()


@dataclass
class Workspace:
    """A fresh directory on the server for one test: remote name and local twin."""

    remote: str
    local: Path


@pytest.fixture
def workspace(ftp_server: FTPServerInfo, request: pytest.FixtureRequest) -> Workspace:
    name = f"t{next(_counter)}_{os.getpid()}"
    remote = f"{ftp_server.work_dir}/{name}" if ftp_server.work_dir else name
    local = ftp_server.local_work_dir / name
    local.mkdir()
    local.chmod(0o777)
    return Workspace(remote, local)


@pytest.fixture
async def client(ftp_server: FTPServerInfo, workspace: Workspace) -> AsyncIterator[anyftp.Client]:
    """A logged-in client whose current directory is the test's workspace."""
    ftp = anyftp.Client(**ftp_server.client_kwargs())
    await ftp_server.connect(ftp)
    await ftp.change_directory(workspace.remote)
    try:
        yield ftp
    finally:
        with contextlib.suppress(Exception):
            await ftp.quit()
        ftp.close()
