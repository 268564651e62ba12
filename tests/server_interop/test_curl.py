"""curl against anyftp's server: upload, download, resume with ``-C -``,
``--ftp-create-dirs``, active mode, listings, and FTPS with ``--ssl-reqd`` (TLS 1.3
uploads repeated and compared by sha256 every time)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import PASSWORD, USER, ServerThread, need, random_file, run, sha256_file

pytestmark = [pytest.mark.timeout(300), pytest.mark.needs_binary("curl")]

CREDENTIALS = ["--user", f"{USER}:{PASSWORD}"]


def curl(*args: str) -> str:
    result = run(
        [need("curl"), "--silent", "--show-error", "--max-time", "60", *CREDENTIALS, *args]
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def served(make_server: Callable[..., ServerThread], tmp_path: Path) -> tuple[ServerThread, Path]:
    root = tmp_path / "root"
    root.mkdir()
    return make_server(root), root


def test_upload_and_download(served: tuple[ServerThread, Path], tmp_path: Path) -> None:
    server, root = served
    source = random_file(tmp_path / "src.bin", 5 * 1024 * 1024 + 99)
    curl("-T", str(source), f"{server.url}/up.bin")
    assert sha256_file(root / "up.bin") == sha256_file(source)
    target = tmp_path / "down.bin"
    curl("-o", str(target), f"{server.url}/up.bin")
    assert sha256_file(target) == sha256_file(source)


def test_resume_download_with_continue_at(
    served: tuple[ServerThread, Path], tmp_path: Path
) -> None:
    server, root = served
    source = random_file(root / "file.bin", 3 * 1024 * 1024)
    partial = tmp_path / "partial.bin"
    partial.write_bytes(source.read_bytes()[:1_000_003])
    curl("-C", "-", "-o", str(partial), f"{server.url}/file.bin")
    assert sha256_file(partial) == sha256_file(source)


def test_resume_upload_with_continue_at(served: tuple[ServerThread, Path], tmp_path: Path) -> None:
    server, root = served
    source = random_file(tmp_path / "src.bin", 3 * 1024 * 1024)
    (root / "up.bin").write_bytes(source.read_bytes()[:777_777])
    curl("-C", "-", "-T", str(source), f"{server.url}/up.bin")
    assert sha256_file(root / "up.bin") == sha256_file(source)


def test_create_dirs(served: tuple[ServerThread, Path], tmp_path: Path) -> None:
    server, root = served
    source = random_file(tmp_path / "src.bin", 10_000)
    curl("--ftp-create-dirs", "-T", str(source), f"{server.url}/a/b/c/deep.bin")
    assert sha256_file(root / "a" / "b" / "c" / "deep.bin") == sha256_file(source)


def test_active_mode(served: tuple[ServerThread, Path], tmp_path: Path) -> None:
    server, root = served
    source = random_file(root / "act.bin", 1_000_000)
    target = tmp_path / "act.bin"
    curl("--ftp-port", "127.0.0.1", "-o", str(target), f"{server.url}/act.bin")
    assert sha256_file(target) == sha256_file(source)
    curl("--ftp-port", "127.0.0.1", "--disable-eprt", "-T", str(target), f"{server.url}/back.bin")
    assert sha256_file(root / "back.bin") == sha256_file(source)


def test_listings_and_quote_commands(served: tuple[ServerThread, Path]) -> None:
    server, root = served
    (root / "dir").mkdir()
    (root / "dir" / "one.txt").write_bytes(b"1")
    (root / "dir" / "two words.txt").write_bytes(b"22")
    names = curl("--list-only", f"{server.url}/dir/").splitlines()
    assert sorted(names) == ["one.txt", "two words.txt"]
    lines = curl(f"{server.url}/dir/").splitlines()
    parsed = {line.split(None, 8)[8]: int(line.split(None, 8)[4]) for line in lines}
    assert parsed == {"one.txt": 1, "two words.txt": 2}
    curl("-Q", "DELE dir/one.txt", f"{server.url}/")
    assert not (root / "dir" / "one.txt").exists()


def test_tls13_uploads_arrive_whole_every_time(
    make_server: Callable[..., ServerThread], tmp_path: Path, tls_files: dict[str, Any]
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    server = make_server(
        root, auth_tls=tls_files["context"], require_tls=True, require_tls_data=True
    )
    tls = ["--ssl-reqd", "--tlsv1.3", "--cacert", str(tls_files["ca_file"])]
    for attempt in range(8):
        source = random_file(tmp_path / f"src{attempt}.bin", 2 * 1024 * 1024 + attempt * 7919)
        curl(*tls, "-T", str(source), f"{server.url}/tls{attempt}.bin")
        assert sha256_file(root / f"tls{attempt}.bin") == sha256_file(source), attempt
    target = tmp_path / "back.bin"
    curl(*tls, "-o", str(target), f"{server.url}/tls0.bin")
    assert sha256_file(target) == sha256_file(tmp_path / "src0.bin")
    plain = run(
        [need("curl"), "--silent", "--max-time", "30", *CREDENTIALS, f"{server.url}/tls0.bin"]
    )
    assert plain.returncode != 0  # TLS is required
