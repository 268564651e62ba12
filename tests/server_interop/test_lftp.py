"""lftp against anyftp's server: ``mirror -R`` of a tree of ~50 files and ``mirror`` back,
trees identical (local and memory backends); repeated TLS 1.3 uploads by lftp compared
by sha256 every time."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import PASSWORD, USER, ServerThread, need, random_file, run, sha256_file, tree_digest

pytestmark = [pytest.mark.timeout(300), pytest.mark.needs_binary("lftp")]

SETTINGS = (
    "set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 20; "
    "set net:reconnect-interval-base 1; set xfer:clobber yes; "
)


def lftp(server: ServerThread, script: str, *, tls: dict[str, Any] | None = None) -> str:
    if tls is None:
        settings = SETTINGS + "set ftp:ssl-allow no; "
    else:
        settings = (
            SETTINGS + "set ftp:ssl-force yes; set ftp:ssl-protect-data yes; "
            f"set ssl:ca-file {tls['ca_file']}; set ssl:verify-certificate yes; "
        )
    command = f"{settings}open -u '{USER}','{PASSWORD}' -p {server.port} 127.0.0.1; {script}"
    result = run([need("lftp"), "-c", command])
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result.stdout


def make_tree(root: Path, files: int = 50) -> None:
    rng = random.Random(7)
    for index in range(files):
        depth = rng.randint(0, 3)
        parts = [f"dir{rng.randint(0, 4)}" for _ in range(depth)]
        size = rng.choice([0, 1, 100, 4096, 70_000, 300_000])
        name = f"file {index}.bin" if index % 7 == 0 else f"file{index}.bin"
        random_file(root.joinpath(*parts, name), size)
    (root / "empty dir").mkdir()


@pytest.mark.parametrize("backend", ["local", "memory"])
def test_mirror_up_and_back(
    make_server: Callable[..., ServerThread], tmp_path: Path, backend: str
) -> None:
    source = tmp_path / "source"
    make_tree(source)
    storage: Any = tmp_path / "root" if backend == "local" else "/"
    if backend == "local":
        (tmp_path / "root").mkdir()
    server = make_server(storage, backend=backend)
    lftp(server, f"mirror -R --parallel=3 '{source}' tree")
    if backend == "local":
        assert tree_digest(tmp_path / "root" / "tree") == tree_digest(source)
    back = tmp_path / "back"
    lftp(server, f"mirror --parallel=3 tree '{back}'")
    assert tree_digest(back) == tree_digest(source)
    assert len([p for p in source.rglob("*") if p.is_file()]) == 50


def test_tls13_uploads_arrive_whole_every_time(
    make_server: Callable[..., ServerThread], tmp_path: Path, tls_files: dict[str, Any]
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    server = make_server(
        root,
        auth_tls=tls_files["context"],
        require_tls=True,
        require_tls_data=True,
        require_tls_session_reuse=True,
    )
    sources = [random_file(tmp_path / f"src{i}.bin", 1024 * 1024 + i * 4099) for i in range(6)]
    for attempt, source in enumerate(sources):
        lftp(
            server,
            f"set ssl:priority 'NORMAL:-VERS-ALL:+VERS-TLS1.3'; put '{source}' -o up{attempt}.bin",
            tls=tls_files,
        )
        assert sha256_file(root / f"up{attempt}.bin") == sha256_file(source), attempt
    back = tmp_path / "back.bin"
    lftp(server, f"get up0.bin -o '{back}'", tls=tls_files)
    assert sha256_file(back) == sha256_file(sources[0])


def test_active_mode_over_tls(
    make_server: Callable[..., ServerThread], tmp_path: Path, tls_files: dict[str, Any]
) -> None:
    # (curl 7.88 hangs in active FTPS against any server, so lftp covers it.)
    root = tmp_path / "root"
    root.mkdir()
    source = random_file(root / "f.bin", 700_000)
    server = make_server(root, auth_tls=tls_files["context"], require_tls_session_reuse=True)
    got = tmp_path / "got.bin"
    lftp(
        server,
        f"set ftp:passive-mode off; get f.bin -o '{got}'; put '{got}' -o back.bin",
        tls=tls_files,
    )
    assert sha256_file(got) == sha256_file(source)
    assert sha256_file(root / "back.bin") == sha256_file(source)
