"""``anyftp serve --loop``: which event loop serves, and what the banner says."""

from __future__ import annotations

import io
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from anyftp.cli.serve import loop_factory
from anyftp.testing.servers import ServeProcess

from .conftest import TIMEOUT

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., ServeProcess]]:
    processes: list[ServeProcess] = []

    def start(*args: str) -> ServeProcess:
        served = ServeProcess(["--login-failure-delay", "0", "--write", *args], tmp_path)
        processes.append(served)
        if not served.port:
            served.close()
            raise AssertionError(f"no banner: {served.banner!r} {served.stderr()!r}")
        return served

    yield start
    for served in processes:
        served.close()


def transfer_round_trip(served: ServeProcess) -> None:
    ftp = served.ftp()
    payload = bytes(range(256)) * 4096
    ftp.storbinary("STOR loop.bin", io.BytesIO(payload))
    out = io.BytesIO()
    ftp.retrbinary("RETR loop.bin", out.write)
    assert out.getvalue() == payload
    ftp.quit()


@pytest.mark.parametrize("choice", ["asyncio", "uvloop"])
def test_serve_runs_on_the_loop_asked_for(serve: Callable[..., ServeProcess], choice: str) -> None:
    if choice == "uvloop":
        pytest.importorskip("uvloop")
    served = serve("--loop", choice)
    assert f"loop {choice})" in served.banner
    transfer_round_trip(served)
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(TIMEOUT) == 0


def test_auto_takes_uvloop_when_installed(serve: Callable[..., ServeProcess]) -> None:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        expected = "asyncio"
    else:
        expected = "uvloop"
    served = serve("--loop", "auto")
    assert f"loop {expected})" in served.banner


def test_default_loop_is_asyncio(serve: Callable[..., ServeProcess]) -> None:
    # asyncio's own loop, even with uvloop installed: the server's own control transport
    # (server/control.py) only runs there, and measured faster (bench/PROFILE.md).
    served = serve()
    assert "loop asyncio)" in served.banner


def test_loop_factory_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now fails
    assert loop_factory("auto") == ("asyncio", None)
    assert loop_factory("asyncio") == ("asyncio", None)
    with pytest.raises(ValueError, match="uvloop is not installed"):
        loop_factory("uvloop")
