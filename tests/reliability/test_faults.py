"""Storage failures at every AbstractPathIO call, through real FTP sessions.

The backend is the local disk or the memory tree wrapped by
:func:`anyftp.testing.faults.faulty`; each test plans one fault, drives the command that
reaches it, and asserts the exact reply, that the fault was really hit, that the session
still works, and that no upload is left truncated under its name (no 226 either).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from anyftp.pathio import AbstractPathIO
from anyftp.server.uploads import TEMPORARY_SUFFIX
from anyftp.testing.faults import Fault, FaultPlan, faulty

from .harness import ThreadedServer
from .raw import RawClient

CONTENT = bytes(range(256)) * 4096  # 1 MiB: several writes per upload
OLD = b"previous content\n"
PATH_TIMEOUT = 0.5


@dataclass
class Faulty:
    """A server over a fault-injecting backend, and what the test needs to check it."""

    server: ThreadedServer
    plan: FaultPlan
    backend: str
    tmp_path: Path

    def client(self) -> RawClient:
        client = RawClient(self.server.host, self.server.port)
        assert client.welcome().code == "220"
        client.login()
        return client

    def arm(self, *faults: Fault) -> None:
        self.plan.clear()
        self.plan.add(*faults)

    def path_io(self) -> AbstractPathIO:
        state = self.server.server._backend_state
        inner = self.server.server.backend_class.inner_class  # type: ignore[attr-defined]
        root = str(self.tmp_path) if self.backend == "local" else "/"
        path_io: AbstractPathIO = inner(state=state, root=root)
        return path_io

    def real(self, name: str) -> Any:
        if self.backend == "local":
            return self.tmp_path / name
        return PurePosixPath("/") / name

    def exists(self, name: str) -> bool:
        return bool(self.server.call(lambda: self.path_io().exists(self.real(name))))

    def read(self, name: str) -> bytes:
        async def read() -> bytes:
            async with self.path_io().open(self.real(name), "rb") as file:
                return await file.read()

        return bytes(self.server.call(read))

    def leftovers(self) -> list[str]:
        async def names() -> list[str]:
            path_io = self.path_io()
            found = await path_io.list(self.real(""))
            return [p.name for p in found if p.name.endswith(TEMPORARY_SUFFIX)]

        return list(self.server.call(names))


@pytest.fixture(params=["local", "memory"])
def faulty_server(
    request: pytest.FixtureRequest, make_server: Callable[..., ThreadedServer], tmp_path: Path
) -> Iterator[Faulty]:
    backend = str(request.param)
    plan = FaultPlan()
    server = make_server(path_io_factory=faulty(backend, plan), path_timeout=PATH_TIMEOUT)
    setup = Faulty(server, plan, backend, tmp_path)
    with setup.client() as client:  # a file and a directory to work on, made through FTP
        upload(client, "f.bin", OLD)
        assert client.command("MKD d").code == "257"
    plan.reset()
    yield setup


def upload(client: RawClient, name: str, data: bytes) -> str:
    """STOR *data*; the final reply code (the data connection may be cut early)."""
    sock = client.data_socket()
    reply = client.command(f"STOR {name}")
    if reply.code != "150":
        sock.close()
        return reply.code
    try:
        sock.sendall(data)
    except OSError:
        pass  # the server gave up and closed the data connection
    sock.close()
    return client.reply().code


def download(client: RawClient, name: str) -> tuple[str, bytes]:
    """RETR *name*; the final reply code and the bytes received."""
    sock = client.data_socket()
    reply = client.command(f"RETR {name}")
    if reply.code != "150":
        sock.close()
        return reply.code, b""
    received = bytearray()
    try:
        while chunk := sock.recv(1 << 16):
            received += chunk
    except OSError:
        pass
    sock.close()
    return client.reply().code, bytes(received)


def still_works(setup: Faulty, client: RawClient) -> None:
    """The session and the storage work again once the fault has passed."""
    assert client.command("NOOP").code == "200"
    assert client.command("SIZE f.bin").code == "213"


# --- path operations: one command each -----------------------------------------------------

CONTROL_CASES = [
    # (fault, commands before, the command hit, expected code)
    (Fault("exists"), [], "MKD new", "451"),
    (Fault("exists"), [], "RNFR f.bin", "451"),
    (Fault("is_dir"), [], "CWD d", "451"),
    (Fault("is_dir"), [], "DELE f.bin", "451"),
    (Fault("is_dir"), [], "RMD d", "451"),
    (Fault("is_file"), [], "MFMT 20200101000000 f.bin", "451"),
    (Fault("mkdir"), [], "MKD new", "451"),
    (Fault("mkdir", error=errno.ENOSPC), [], "MKD new", "452"),
    (Fault("mkdir", error=errno.EACCES), [], "MKD new", "550"),
    (Fault("rmdir"), [], "RMD d", "451"),
    (Fault("rmdir", error=errno.ENOTEMPTY), [], "RMD d", "550"),
    (Fault("unlink"), [], "DELE f.bin", "451"),
    (Fault("unlink", error=errno.EACCES), [], "DELE f.bin", "550"),
    (Fault("stat"), [], "SIZE f.bin", "451"),
    (Fault("stat"), [], "MDTM f.bin", "451"),
    (Fault("stat"), [], "MLST f.bin", "451"),
    (Fault("stat", error=errno.ENOENT), [], "SIZE f.bin", "550"),
    (Fault("stat", error=errno.EROFS), [], "SIZE f.bin", "451"),
    (Fault("stat", error=None, delay=5), [], "SIZE f.bin", "451"),
    (Fault("rename"), ["RNFR f.bin"], "RNTO g.bin", "451"),
    (Fault("rename", error=errno.EXDEV), ["RNFR f.bin"], "RNTO g.bin", "451"),
    (Fault("set_mtime"), [], "MFMT 20200101000000 f.bin", "451"),
    (Fault("chmod"), [], "SITE CHMOD 600 f.bin", "451"),
    (Fault("list_with_stats"), ["EPSV"], "LIST", "451"),
    (Fault("list_with_stats"), ["EPSV"], "MLSD", "451"),
    (Fault("list_with_stats", error=errno.EACCES), ["EPSV"], "NLST", "550"),
    (Fault("list_with_stats"), [], "STAT d", "451"),
    (Fault("open"), ["EPSV"], "RETR f.bin", "451"),
    (Fault("open", error=errno.EACCES), ["EPSV"], "RETR f.bin", "550"),
    (Fault("open", error=errno.EMFILE), ["EPSV"], "RETR f.bin", "451"),
    (Fault("seek"), ["EPSV", "REST 10"], "RETR f.bin", "451"),
]


def case_id(case: tuple[Fault, list[str], str, str]) -> str:
    fault, _, command, code = case
    error = fault.error
    what = (
        errno.errorcode[error]
        if isinstance(error, int)
        else ("slow" if error is None else type(error).__name__)
    )
    return f"{fault.method}-{what}-{command.split()[0]}-{code}"


@pytest.mark.parametrize("case", CONTROL_CASES, ids=[case_id(c) for c in CONTROL_CASES])
def test_storage_fault_gives_the_mapped_reply_and_the_session_goes_on(
    faulty_server: Faulty, case: tuple[Fault, list[str], str, str]
) -> None:
    fault, before, command, expected = case
    with faulty_server.client() as client:
        for line in before:
            assert client.command(line).code in ("229", "350"), line
        faulty_server.arm(fault)
        reply = client.command(command)
        assert reply.code == expected, reply
        assert faulty_server.plan.fired_on(fault.method) == 1
        if fault.delay:
            assert "timed out" in reply.text
        still_works(faulty_server, client)
    assert faulty_server.read("f.bin") == OLD  # nothing changed by a failed command


# --- downloads -----------------------------------------------------------------------------


def test_read_fault_mid_download_is_451_and_the_data_is_cut(faulty_server: Faulty) -> None:
    with faulty_server.client() as client:
        upload(client, "big.bin", CONTENT)
        if faulty_server.backend == "local":
            # The local disk sends with sendfile (no read calls) unless ASCII is asked for.
            assert client.command("TYPE A").code == "200"
        faulty_server.arm(Fault("read", on_call=2))
        code, received = download(client, "big.bin")
        assert code == "451"
        assert len(received) < len(CONTENT)
        assert faulty_server.plan.fired_on("read") == 1
        assert client.command("TYPE I").code == "200"
        faulty_server.plan.clear()
        assert download(client, "big.bin") == ("226", CONTENT)


def test_slow_read_mid_download_times_out_with_451(faulty_server: Faulty) -> None:
    with faulty_server.client() as client:
        upload(client, "big.bin", CONTENT)
        if faulty_server.backend == "local":
            assert client.command("TYPE A").code == "200"
        faulty_server.arm(Fault("read", on_call=2, error=None, delay=5))
        code, received = download(client, "big.bin")
        assert code == "451"
        assert len(received) < len(CONTENT)
        still_works(faulty_server, client)


def test_fileno_failure_falls_back_to_copying(
    make_server: Callable[..., ThreadedServer], tmp_path: Path
) -> None:
    (tmp_path / "big.bin").write_bytes(CONTENT)
    plan = FaultPlan(Fault("fileno", error=errno.EBADF))
    server = make_server(path_io_factory=faulty("local", plan))
    with RawClient(server.host, server.port) as client:
        client.welcome()
        client.login()
        assert download(client, "big.bin") == ("226", CONTENT)
    assert plan.fired_on("fileno") == 1


# --- uploads: never a 226 with a truncated file ------------------------------------------------

UPLOAD_CASES = [
    (Fault("open"), "451"),
    (Fault("open", error=errno.ENOSPC), "452"),
    (Fault("open", error=errno.EACCES), "550"),
    (Fault("write", on_call=2), "451"),
    (Fault("write", on_call=1, error=errno.ENOSPC, partial=100), "452"),
    (Fault("write", on_call=3, error=errno.EDQUOT, partial=1), "452"),
    (Fault("write", on_call=2, error=errno.EFBIG, partial=10), "552"),
    (Fault("write", on_call=2, error=None, delay=5), "451"),
    (Fault("close"), "451"),
    (Fault("close", error=errno.ENOSPC), "452"),
    (Fault("is_dir"), "451"),
]


@pytest.mark.parametrize(
    "case", UPLOAD_CASES, ids=[case_id((c[0], [], "STOR", c[1])) for c in UPLOAD_CASES]
)
def test_failed_upload_is_reported_and_leaves_no_file(
    faulty_server: Faulty, case: tuple[Fault, str]
) -> None:
    fault, expected = case
    with faulty_server.client() as client:
        faulty_server.arm(fault)
        assert upload(client, "new.bin", CONTENT) == expected
        assert faulty_server.plan.fired_on(fault.method) == 1
        still_works(faulty_server, client)
        assert client.command("SIZE new.bin").code == "550"
    assert not faulty_server.exists("new.bin")
    assert faulty_server.leftovers() == []


@pytest.mark.parametrize(
    "fault",
    [Fault("write", on_call=2), Fault("write", error=errno.ENOSPC, partial=7), Fault("close")],
    ids=["write", "partial-write", "close"],
)
def test_failed_overwrite_keeps_the_previous_content(faulty_server: Faulty, fault: Fault) -> None:
    with faulty_server.client() as client:
        faulty_server.arm(fault)
        assert upload(client, "f.bin", CONTENT) in ("451", "452")
        still_works(faulty_server, client)
    assert faulty_server.read("f.bin") == OLD
    assert faulty_server.leftovers() == []


def test_failed_rename_of_a_finished_upload_leaves_no_file(
    make_server: Callable[..., ThreadedServer], tmp_path: Path
) -> None:
    # The local disk uploads to a temporary name; the last step renames it into place.
    plan = FaultPlan()
    server = make_server(path_io_factory=faulty("local", plan))
    with RawClient(server.host, server.port) as client:
        client.welcome()
        client.login()
        plan.add(Fault("rename"))
        assert upload(client, "new.bin", CONTENT) == "451"
        assert plan.fired_on("rename") == 1
        assert client.command("NOOP").code == "200"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_failing_abort_after_a_failed_write_still_answers_and_cleans_up(
    faulty_server: Faulty,
) -> None:
    with faulty_server.client() as client:
        faulty_server.arm(Fault("write", on_call=2, error=errno.ENOSPC), Fault("abort"))
        assert upload(client, "new.bin", CONTENT) == "452"
        still_works(faulty_server, client)  # SIZE waits until the upload's task is done
        assert faulty_server.plan.fired_on("abort") == 1
    assert not faulty_server.exists("new.bin")
    assert faulty_server.leftovers() == []


def test_resumed_upload_failure_keeps_the_bytes_before_the_offset(faulty_server: Faulty) -> None:
    with faulty_server.client() as client:
        assert client.command("REST 4").code == "350"
        faulty_server.arm(Fault("write", error=errno.ENOSPC, partial=0))
        assert upload(client, "f.bin", b"tail") == "452"
        still_works(faulty_server, client)
    assert faulty_server.read("f.bin")[:4] == OLD[:4]


def test_every_fault_leaves_the_server_serving_other_sessions(faulty_server: Faulty) -> None:
    with faulty_server.client() as bystander, faulty_server.client() as client:
        faulty_server.arm(Fault("write", on_call=1, times=None))  # every write fails
        assert upload(client, "a.bin", CONTENT) == "451"
        assert upload(bystander, "b.bin", CONTENT) == "451"
        faulty_server.plan.clear()
        assert upload(bystander, "b.bin", CONTENT) == "226"
        assert client.command("NOOP").code == "200"
    assert faulty_server.read("b.bin") == CONTENT


# --- the wrapper itself ----------------------------------------------------------------------


async def test_list_fault_is_raised_as_path_io_error(tmp_path: Path) -> None:
    from anyftp.errors import PathIOError

    cls = faulty("local", [Fault("list")])
    path_io = cls(root=tmp_path)
    with pytest.raises(PathIOError) as caught:
        await path_io.list(tmp_path)
    assert isinstance(caught.value.cause, OSError)
    assert await path_io.list(tmp_path) == []  # times=1: the next call works


def test_fault_rejects_unknown_methods() -> None:
    with pytest.raises(ValueError, match="unknown method"):
        Fault("stat_all")
    with pytest.raises(ValueError, match="partial"):
        Fault("read", partial=3)


# --- a really full disk ------------------------------------------------------------------------


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (needs root and a kernel that lets the sandbox mount)."""
    mount = tmp_path / "small"
    mount.mkdir()
    result = os.system(f"mount -t tmpfs -o size=1m tmpfs {mount} 2>/dev/null")
    if result != 0:
        pytest.skip("can not mount a tmpfs here (needs root); see the RLIMIT_FSIZE test")
    try:
        yield mount
    finally:
        os.system(f"umount {mount}")


def test_disk_full_on_the_local_backend_is_452_and_frees_the_space(
    make_server: Callable[..., ThreadedServer], small_tmpfs: Path
) -> None:
    import anyftp

    user = anyftp.User(base_path=small_tmpfs)
    server = make_server(users=[user])
    with RawClient(server.host, server.port) as client:
        client.welcome()
        client.login()
        assert upload(client, "huge.bin", CONTENT * 2) == "452"
        assert client.command("SIZE huge.bin").code == "550"
        assert list(small_tmpfs.iterdir()) == []  # the partial upload was removed
        assert upload(client, "small.bin", b"fits") == "226"
    assert (small_tmpfs / "small.bin").read_bytes() == b"fits"


def test_file_size_limit_is_552_and_leaves_no_file(
    cli_server: Callable[..., Any], tmp_path: Path
) -> None:
    import resource
    import signal

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of a signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (512 * 1024, 512 * 1024))

    root = tmp_path / "root"
    root.mkdir()
    server = cli_server("--root", str(root), "--write", preexec=limit_file_size)
    with RawClient(server.host, server.port) as client:
        client.welcome()
        client.login()
        assert upload(client, "huge.bin", CONTENT) == "552"
        assert client.command("NOOP").code == "200"
        assert upload(client, "small.bin", b"fits") == "226"
    assert sorted(p.name for p in root.iterdir()) == ["small.bin"]
