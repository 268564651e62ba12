"""No path argument escapes the user's root: ``..``, absolute paths, backslashes, encoded
forms and symlinks all stay inside (or are refused), and PWD never leaves ``/``."""

from __future__ import annotations

import ftplib
import io
import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest

import anyftp
from anyftp.server.paths import BadPath, normalise

from .conftest import TIMEOUT, ServerThread

pytestmark = pytest.mark.timeout(60)

ESCAPES = [
    "../secret.txt",
    "/../secret.txt",
    "../../../../secret.txt",
    "..//secret.txt",
    "/./../secret.txt",
    "sub/../../secret.txt",
    "..\\secret.txt",
    "%2e%2e/secret.txt",
    "%2e%2e%2fsecret.txt",
    "....//secret.txt",
    "..%5csecret.txt",
    "~/../secret.txt",
]


@pytest.fixture
def jailed(make_server: Callable[..., ServerThread], tmp_path: Path) -> tuple[ftplib.FTP, Path]:
    root = tmp_path / "root"
    root.mkdir()
    (root / "sub").mkdir()
    (root / "inside.txt").write_bytes(b"inside")
    (tmp_path / "secret.txt").write_bytes(b"SECRET")
    server = make_server(users=[anyftp.User(base_path=root)])
    ftp = ftplib.FTP()
    ftp.connect(server.host, server.port, timeout=TIMEOUT)
    ftp.login()
    return ftp, root


@pytest.mark.parametrize("path", ESCAPES)
def test_retrieve_outside_root_is_refused(jailed: tuple[ftplib.FTP, Path], path: str) -> None:
    ftp, _ = jailed
    out = io.BytesIO()
    with pytest.raises(ftplib.error_perm, match=r"^55"):
        ftp.retrbinary(f"RETR {path}", out.write)
    assert b"SECRET" not in out.getvalue()


@pytest.mark.parametrize("path", ["../out.txt", "/../../out.txt", "sub/../../out.txt"])
def test_store_with_dots_lands_inside_root(jailed: tuple[ftplib.FTP, Path], path: str) -> None:
    ftp, root = jailed
    ftp.storbinary(f"STOR {path}", io.BytesIO(b"data"))
    assert (root / "out.txt").read_bytes() == b"data"
    assert not (root.parent / "out.txt").exists()


def test_cwd_cannot_climb_and_pwd_stays_inside(jailed: tuple[ftplib.FTP, Path]) -> None:
    ftp, _ = jailed
    for path in ("..", "../..", "/..", "sub/../..", "/sub/../../.."):
        ftp.cwd(path)
        assert ftp.pwd() == "/"
    ftp.cwd("sub")
    ftp.sendcmd("CDUP")
    ftp.sendcmd("CDUP")
    assert ftp.pwd() == "/"
    assert sorted(ftp.nlst("..")) == ["../inside.txt", "../sub"]


def test_mkd_rename_delete_outside_stay_inside(jailed: tuple[ftplib.FTP, Path]) -> None:
    ftp, root = jailed
    assert ftp.mkd("../evil") == "/evil"
    assert (root / "evil").is_dir() and not (root.parent / "evil").exists()
    ftp.rename("inside.txt", "../../moved.txt")
    assert (root / "moved.txt").exists() and not (root.parent / "moved.txt").exists()
    with pytest.raises(ftplib.error_perm, match=r"^550"):
        ftp.delete("../secret.txt")
    assert (root.parent / "secret.txt").exists()


def test_symlink_out_of_root_is_refused(jailed: tuple[ftplib.FTP, Path]) -> None:
    ftp, root = jailed
    os.symlink(root.parent / "secret.txt", root / "link.txt")
    os.symlink(root.parent, root / "linkdir")
    out = io.BytesIO()
    with pytest.raises(ftplib.error_perm, match=r"^550"):
        ftp.retrbinary("RETR link.txt", out.write)
    with pytest.raises(ftplib.error_perm, match=r"^550"):
        ftp.cwd("linkdir")
    with pytest.raises(ftplib.error_perm, match=r"^550"):
        ftp.storbinary("STOR linkdir/planted.txt", io.BytesIO(b"x"))
    assert not (root.parent / "planted.txt").exists()
    assert out.getvalue() == b""


def test_literal_percent_and_backslash_names_work_inside(jailed: tuple[ftplib.FTP, Path]) -> None:
    ftp, root = jailed
    ftp.storbinary("STOR %2e%2e", io.BytesIO(b"p"))
    ftp.storbinary("STOR a\\b", io.BytesIO(b"b"))
    assert (root / "%2e%2e").read_bytes() == b"p"
    assert (root / "a\\b").read_bytes() == b"b"


@pytest.mark.parametrize(
    "current, argument, expected",
    [
        ("/", "..", "/"),
        ("/a/b", "../../..", "/"),
        ("/a", "b/./c/../d", "/a/b/d"),
        ("/a", "/x//y/", "/x/y"),
        ("/a", "", "/a"),
        ("/", "a\\..\\b", "/a\\..\\b"),
    ],
)
def test_normalise_is_lexical_and_clamped(current: str, argument: str, expected: str) -> None:
    assert normalise(PurePosixPath(current), argument) == PurePosixPath(expected)


def test_normalise_refuses_nul_and_windows_separators() -> None:
    with pytest.raises(BadPath):
        normalise(PurePosixPath("/"), "a\x00b")
    with pytest.raises(BadPath):
        normalise(PurePosixPath("/"), "a\\b", refuse_backslash=True)
