"""The idle timeout is a deadline per session checked by one periodic sweep of the server:
these tests hold it to the behaviour of a fresh timeout per command.

A client that keeps talking stays connected well past the idle time; a transfer that
lasts longer than the idle time is not cut, and the idle time counts again from its end.
The pauses below are the behaviour under test (a client that is slow on purpose), not
synchronisation; each is well inside or well outside the idle time.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import anyftp

from .conftest import TIMEOUT, ServerThread
from .rawftp import RawControl

pytestmark = pytest.mark.timeout(60)

IDLE = 1.0


def logged_in(server: ServerThread) -> RawControl:
    control = RawControl(server.host, server.port)
    assert control.reply().code == "220"
    control.login()
    return control


def test_commands_within_the_idle_time_keep_the_session_open_past_it(
    make_server: Callable[..., ServerThread],
) -> None:
    server = make_server(idle_timeout=IDLE)
    with logged_in(server) as control:
        started = time.monotonic()
        while True:
            assert control.command("NOOP").code == "200"
            silent = time.monotonic()
            if silent - started > IDLE * 2:
                break
            time.sleep(IDLE / 4)
        assert control.reply().code == "421"
        assert IDLE * 0.9 <= time.monotonic() - silent < IDLE + TIMEOUT / 2
        assert control.closed()


def test_a_transfer_longer_than_the_idle_time_is_not_cut_and_idle_counts_from_its_end(
    make_server: Callable[..., ServerThread], tmp_path: Path
) -> None:
    server = make_server(idle_timeout=IDLE, users=[anyftp.User(base_path=tmp_path)])
    with logged_in(server) as control:
        host, port = control.pasv()
        control.send("STOR slow.bin")
        with socket.create_connection((host, port), timeout=TIMEOUT) as data:
            assert control.reply().code == "150"
            started = time.monotonic()
            pieces = 0
            while time.monotonic() - started < IDLE * 2:
                data.sendall(b"x" * 1000)
                pieces += 1
                time.sleep(IDLE / 4)
        assert control.reply().code == "226"
        assert (tmp_path / "slow.bin").stat().st_size == 1000 * pieces
        ended = time.monotonic()
        assert control.command("NOOP").code == "200"
        assert control.reply().code == "421"
        assert IDLE * 0.9 <= time.monotonic() - ended < IDLE + TIMEOUT / 2


def test_sessions_without_an_idle_timeout_are_never_cut(
    make_server: Callable[..., ServerThread],
) -> None:
    server = make_server(idle_timeout=None)
    with logged_in(server) as control:
        control.sock.settimeout(IDLE)
        with pytest.raises(TimeoutError):
            control.reply()
        control.sock.settimeout(TIMEOUT)
        assert control.command("NOOP").code == "200"
