"""The ``anyftp`` client commands, run as subprocesses against real servers.

Each command is a separate ``python -m anyftp`` process; content is compared by sha256 on
the server's disk and after round trips; failures must give exit status 1 and one
``anyftp: error:`` line on stderr.
"""

from __future__ import annotations

import hashlib
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import FTPServerInfo, Workspace

pytestmark = pytest.mark.timeout(180)

CLI_SERVERS = ("pyftpdlib", "pyftpdlib-tls", "vsftpd", "anyftp", "anyftp-tls")
_FIXTURES = {
    "pyftpdlib": "pyftpdlib_server",
    "pyftpdlib-tls": "pyftpdlib_tls_server",
    "vsftpd": "vsftpd_server",
    "anyftp": "anyftp_server",
    "anyftp-tls": "anyftp_tls_server",
}


@pytest.fixture(params=CLI_SERVERS)
def ftp_server(request: pytest.FixtureRequest) -> FTPServerInfo:
    info: FTPServerInfo = request.getfixturevalue(_FIXTURES[request.param])
    return info


@pytest.fixture
def cafile(ftp_server: FTPServerInfo, tmp_path: Path) -> list[str]:
    if ftp_server.ca is None:
        return []
    path = tmp_path / "ca.pem"
    ftp_server.ca.cert_pem.write_to_path(str(path))
    return ["--cafile", str(path)]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run(
    *args: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "anyftp", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def ok(*args: str, cwd: Path | None = None) -> str:
    result = run(*args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def url(server: FTPServerInfo, workspace: Workspace, path: str = "") -> str:
    return f"{server.url()}/{workspace.remote}/{path}"


def test_put_ls_get_round_trip(
    ftp_server: FTPServerInfo, workspace: Workspace, cafile: list[str], tmp_path: Path
) -> None:
    data = os.urandom(2 * 1024 * 1024 + 7)
    source = tmp_path / "data.bin"
    source.write_bytes(data)
    out = ok("put", str(source), url(ftp_server, workspace), *cafile)
    assert out.strip() == f"data.bin: {len(data)} bytes"  # plain line, not a terminal
    assert sha((workspace.local / "data.bin").read_bytes()) == sha(data)

    assert ok("ls", url(ftp_server, workspace), *cafile).split() == ["data.bin"]
    long = ok("ls", "-l", url(ftp_server, workspace), *cafile)
    assert str(len(data)) in long and "file" in long

    down = tmp_path / "down"
    down.mkdir()
    ok("get", url(ftp_server, workspace, "data.bin"), *cafile, cwd=down)
    assert sha((down / "data.bin").read_bytes()) == sha(data)
    ok("get", "-q", url(ftp_server, workspace, "data.bin"), str(down / "other.bin"), *cafile)
    assert sha((down / "other.bin").read_bytes()) == sha(data)


def test_put_and_get_directory_trees(
    ftp_server: FTPServerInfo, workspace: Workspace, cafile: list[str], tmp_path: Path
) -> None:
    tree = tmp_path / "tree"
    (tree / "sub" / "deeper").mkdir(parents=True)
    files = {"a.txt": b"a", "sub/b.bin": os.urandom(5000), "sub/deeper/c d.txt": b"cd"}
    for name, content in files.items():
        (tree / name).write_bytes(content)
    ok("put", "-q", str(tree), url(ftp_server, workspace), *cafile)
    for name, content in files.items():
        assert (workspace.local / "tree" / name).read_bytes() == content
    back = tmp_path / "back"
    ok("get", "-q", url(ftp_server, workspace, "tree"), str(back), *cafile)
    for name, content in files.items():
        assert (back / name).read_bytes() == content
    listing = ok("ls", "-r", url(ftp_server, workspace, "tree"), *cafile).split("\n")
    assert "sub/deeper/c d.txt" in listing


def test_mkdir_mv_rm(ftp_server: FTPServerInfo, workspace: Workspace, cafile: list[str]) -> None:
    ok("mkdir", url(ftp_server, workspace, "x/y/z"), *cafile)
    assert (workspace.local / "x" / "y" / "z").is_dir()
    (workspace.local / "x" / "f.txt").write_bytes(b"f")
    ok("mv", url(ftp_server, workspace, "x/f.txt"), f"{workspace.remote}/x/y/g.txt", *cafile)
    assert (workspace.local / "x" / "y" / "g.txt").read_bytes() == b"f"
    ok("rm", url(ftp_server, workspace, "x/y/g.txt"), *cafile)
    assert not (workspace.local / "x" / "y" / "g.txt").exists()
    failed = run("rm", url(ftp_server, workspace, "x"), *cafile)
    assert failed.returncode == 1
    assert failed.stderr.startswith("anyftp: error: server replied 5")
    ok("rm", "-r", url(ftp_server, workspace, "x"), *cafile)
    assert not (workspace.local / "x").exists()


def test_mirror_download_skips_unchanged_files(
    ftp_server: FTPServerInfo, workspace: Workspace, cafile: list[str], tmp_path: Path
) -> None:
    remote = workspace.local / "site"
    (remote / "img").mkdir(parents=True)
    (remote / "index.html").write_bytes(b"<html>")
    (remote / "img" / "logo.png").write_bytes(os.urandom(3000))
    old = time.time() - 86400
    for path in (remote / "index.html", remote / "img" / "logo.png"):
        os.utime(path, (old, old))
    local = tmp_path / "mirror"
    first = ok("mirror", url(ftp_server, workspace, "site"), str(local), *cafile)
    assert "mirror: 2 copied, 0 unchanged" in first
    assert (local / "img" / "logo.png").read_bytes() == (remote / "img" / "logo.png").read_bytes()
    assert abs((local / "index.html").stat().st_mtime - old) <= 1
    second = ok("mirror", url(ftp_server, workspace, "site"), str(local), *cafile)
    assert "mirror: 0 copied, 2 unchanged" in second
    (remote / "index.html").write_bytes(b"<html><body>")
    third = ok("mirror", url(ftp_server, workspace, "site"), str(local), *cafile)
    assert "mirror: 1 copied, 1 unchanged" in third
    assert (local / "index.html").read_bytes() == b"<html><body>"


def test_mirror_upload_skips_unchanged_files(
    ftp_server: FTPServerInfo, workspace: Workspace, cafile: list[str], tmp_path: Path
) -> None:
    local = tmp_path / "src"
    (local / "docs").mkdir(parents=True)
    (local / "docs" / "a.txt").write_bytes(b"aaaa")
    (local / "b.bin").write_bytes(os.urandom(10000))
    old = time.time() - 86400
    os.utime(local / "docs" / "a.txt", (old, old))
    first = ok("mirror", "--reverse", str(local), url(ftp_server, workspace, "dest"), *cafile)
    assert "mirror: 2 copied, 0 unchanged" in first
    assert (workspace.local / "dest" / "docs" / "a.txt").read_bytes() == b"aaaa"
    second = ok("mirror", "-R", str(local), url(ftp_server, workspace, "dest"), *cafile)
    assert "mirror: 0 copied, 2 unchanged" in second
    (local / "docs" / "a.txt").write_bytes(b"bbbb")  # same size, newer
    os.utime(local / "docs" / "a.txt", (time.time() + 3600, time.time() + 3600))
    third = ok("mirror", "-R", str(local), url(ftp_server, workspace, "dest"), *cafile)
    assert "mirror: 1 copied, 1 unchanged" in third
    assert (workspace.local / "dest" / "docs" / "a.txt").read_bytes() == b"bbbb"


def test_failures_exit_1_with_one_line_reason(
    ftp_server: FTPServerInfo, workspace: Workspace, cafile: list[str], tmp_path: Path
) -> None:
    missing = run("get", url(ftp_server, workspace, "missing.bin"), str(tmp_path / "m"), *cafile)
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1
    assert missing.stderr.startswith("anyftp: error: server replied 550")
    assert not (tmp_path / "m").exists()

    scheme = "ftps" if ftp_server.tls else "ftp"
    wrong = run("ls", f"{scheme}://nobody:wrong@{ftp_server.host}:{ftp_server.port}/", *cafile)
    assert wrong.returncode == 1
    assert wrong.stderr.startswith("anyftp: error: server replied 530")

    no_local = run("put", str(tmp_path / "nope"), url(ftp_server, workspace))
    assert no_local.returncode == 1
    assert no_local.stderr.startswith("anyftp: error: no such local file")


def test_untrusted_certificate_is_refused_unless_insecure(
    pyftpdlib_tls_server: FTPServerInfo, tmp_path: Path
) -> None:
    server = pyftpdlib_tls_server
    refused = run("ls", server.url() + "/")
    assert refused.returncode == 1
    assert refused.stderr.startswith("anyftp: error: TLS certificate not trusted")
    assert run("ls", "--insecure", server.url() + "/").returncode == 0


def test_connection_refused_and_bad_url(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        refused = run("ls", f"ftp://127.0.0.1:{port}/", "--timeout", "5")
    assert refused.returncode == 1
    assert refused.stderr == "anyftp: error: connection refused\n"
    bad = run("ls", "http://example.com/")
    assert bad.returncode == 1
    assert bad.stderr.startswith("anyftp: error: not an ftp:// or ftps:// URL")


def test_progress_bar_on_a_terminal(pyftpdlib_server: FTPServerInfo, tmp_path: Path) -> None:
    pytest.importorskip("rich")
    data = os.urandom(3 * 1024 * 1024)
    (pyftpdlib_server.local_work_dir / "bar.bin").write_bytes(data)
    main, secondary = pty.openpty()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "anyftp",
            "get",
            pyftpdlib_server.url() + "/bar.bin",
            str(tmp_path / "bar.bin"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
    )
    os.close(secondary)
    output = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 1)
        if not ready:
            if process.poll() is not None:
                break
            continue
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(main)
    assert process.wait(timeout=30) == 0
    text = output.decode(errors="replace")
    assert "bar.bin" in text
    assert "MB" in text  # rich's byte counter (e.g. "3.1/3.1 MB")
    assert "bytes" not in text  # not the plain line
    assert sha((tmp_path / "bar.bin").read_bytes()) == sha(data)


def test_active_mode_option(pyftpdlib_server: FTPServerInfo, tmp_path: Path) -> None:
    data = os.urandom(300000)
    (tmp_path / "act.bin").write_bytes(data)
    ok("put", "--active", "-q", str(tmp_path / "act.bin"), pyftpdlib_server.url() + "/")
    ok("get", "--active", "-q", pyftpdlib_server.url() + "/act.bin", str(tmp_path / "back.bin"))
    assert sha((tmp_path / "back.bin").read_bytes()) == sha(data)
    (pyftpdlib_server.local_work_dir / "act.bin").unlink()
