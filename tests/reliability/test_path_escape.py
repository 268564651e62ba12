"""Attempts to reach outside the user's root: ``..``, absolute paths, backslashes,
percent-encoding, NUL, very long paths, and symlinks on the local disk that point out.

Every attempt gets its exact refusal, nothing outside the root is read, written, renamed,
removed or changed, and the session goes on.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

import anyftp

from .harness import ThreadedServer
from .raw import RawClient

SECRET = b"outside the root\n"


def snapshot(directory: Path) -> dict[str, tuple[str, int]]:
    """Names, contents and modes of everything under *directory* (symlinks not followed)."""
    found = {}
    for path in sorted(directory.rglob("*")):
        info = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "-"
        found[str(path.relative_to(directory))] = (digest, info.st_mode)
    return found


@pytest.fixture
def jail(make_server: Callable[..., ThreadedServer], tmp_path: Path) -> tuple[ThreadedServer, Path]:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    (root / "inside.txt").write_bytes(b"inside\n")
    (root / "sub").mkdir()
    os.symlink("../outside", root / "out_dir")
    os.symlink(outside / "secret.txt", root / "out_file")
    os.symlink("/etc", root / "abs_link")
    os.symlink("inside.txt", root / "in_link")
    os.symlink("../../outside", root / "sub" / "up_link")
    user = anyftp.User(base_path=root, permissions=[anyftp.Permission("/", writable=True)])
    return make_server(users=[user]), tmp_path


ATTEMPTS = [
    # (name, command lines, code of the last reply)
    ("dotdot", ["SIZE ../outside/secret.txt"], "550"),
    ("dotdot-deep", ["SIZE ../../../../../../etc/passwd"], "550"),
    ("absolute", ["SIZE /etc/passwd"], "550"),
    ("backslash", ["SIZE ..\\outside\\secret.txt"], "550"),
    ("percent-encoded", ["SIZE %2e%2e/outside/secret.txt"], "550"),
    ("percent-encoded-slash", ["SIZE %2e%2e%2foutside%2fsecret.txt"], "550"),
    ("overlong-utf8", ["SIZE \udcc0\udcaeoutside"], "500"),  # not valid UTF-8
    ("very-long", ["SIZE " + "../" * 2500 + "etc/passwd"], "550"),
    ("nul", ["SIZE ../outside\x00/secret.txt"], "500"),
    ("symlink-dir", ["SIZE out_dir/secret.txt"], "550"),
    ("symlink-file", ["SIZE out_file"], "550"),
    ("symlink-absolute", ["SIZE abs_link/passwd"], "550"),
    ("symlink-dotdot-in-subdir", ["SIZE sub/up_link/secret.txt"], "550"),
    ("retr-symlink-file", ["EPSV", "RETR out_file"], "550"),
    ("retr-dotdot", ["EPSV", "RETR ../outside/secret.txt"], "550"),
    ("cwd-symlink", ["CWD out_dir"], "550"),
    ("cwd-dotdot-symlink", ["CWD sub", "CWD up_link"], "550"),
    ("list-symlink", ["EPSV", "LIST out_dir"], "550"),
    ("mlsd-symlink", ["EPSV", "MLSD abs_link"], "550"),
    ("stat-symlink", ["STAT out_dir"], "550"),
    ("mlst-symlink", ["MLST out_file"], "550"),
    ("mdtm-symlink", ["MDTM out_file"], "550"),
    ("stor-through-symlink-dir", ["EPSV", "STOR out_dir/new.txt"], "550"),
    ("stor-over-symlink-file", ["EPSV", "STOR out_file"], "550"),
    ("appe-symlink-file", ["EPSV", "APPE out_file"], "550"),
    ("stor-dotdot", ["EPSV", "STOR ../outside/new.txt"], "550"),
    ("mkd-through-symlink", ["MKD out_dir/made"], "550"),
    ("rmd-symlink", ["RMD out_dir"], "550"),
    ("dele-through-symlink", ["DELE out_dir/secret.txt"], "550"),
    ("dele-symlink-file", ["DELE out_file"], "550"),
    ("rename-out", ["RNFR inside.txt", "RNTO out_dir/moved.txt"], "550"),
    ("rename-in", ["RNFR out_dir/secret.txt"], "550"),
    ("chmod-symlink", ["SITE CHMOD 777 out_file"], "550"),
    ("mfmt-symlink", ["MFMT 20000101000000 out_file"], "550"),
]


@pytest.mark.parametrize(
    ("lines", "expected"), [a[1:] for a in ATTEMPTS], ids=[a[0] for a in ATTEMPTS]
)
def test_escape_attempt_is_refused_and_changes_nothing_outside(
    jail: tuple[ThreadedServer, Path], lines: list[str], expected: str
) -> None:
    server, base = jail
    outside_before = snapshot(base / "outside")
    etc_before = os.stat("/etc").st_mtime
    with RawClient(server.host, server.port) as client:
        client.welcome()
        client.login()
        for line in lines[:-1]:
            assert client.command(line).code in ("229", "250", "350"), line
        reply = client.command(lines[-1])
        assert reply.code == expected, reply
        assert client.command("NOOP").code == "200"
        assert client.command("PWD").code == "257"
    assert snapshot(base / "outside") == outside_before
    assert os.stat("/etc").st_mtime == etc_before
    assert (base / "root" / "inside.txt").read_bytes() == b"inside\n"


def test_climbing_above_the_root_stays_at_the_root(jail: tuple[ThreadedServer, Path]) -> None:
    server, _ = jail
    with RawClient(server.host, server.port) as client:
        client.welcome()
        client.login()
        for line in ("CWD ..", "CWD /../../..", "CDUP", "CWD sub/../../.."):
            assert client.command(line).code == "250", line
            assert client.command("PWD").text == '257 "/" is the current directory'


def test_symlink_inside_the_root_still_works(jail: tuple[ThreadedServer, Path]) -> None:
    server, _ = jail
    with RawClient(server.host, server.port) as client:
        client.welcome()
        client.login()
        assert client.command("SIZE in_link").text == "213 7"


def test_listing_hides_symlinks_that_lead_outside(jail: tuple[ThreadedServer, Path]) -> None:
    server, _ = jail
    with RawClient(server.host, server.port) as client:
        client.welcome()
        client.login()
        data = client.data_socket()
        assert client.command("NLST").code == "150"
        names = b""
        while chunk := data.recv(65536):
            names += chunk
        data.close()
        assert client.reply().code == "226"
    assert sorted(names.split()) == [b"in_link", b"inside.txt", b"sub"]


def test_dotdot_in_an_upload_name_lands_inside_the_root(
    jail: tuple[ThreadedServer, Path],
) -> None:
    server, base = jail
    with RawClient(server.host, server.port) as client:
        client.welcome()
        client.login()
        data = client.data_socket()
        assert client.command("STOR ../../landed.txt").code == "150"
        data.sendall(b"here")
        data.close()
        assert client.reply().code == "226"
    assert (base / "root" / "landed.txt").read_bytes() == b"here"
    assert not (base / "landed.txt").exists()
