"""Limits: connections per server / address / user (421), idle timeout, failed logins."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

import anyftp

from .conftest import ServerThread
from .rawftp import RawControl

pytestmark = pytest.mark.timeout(60)


def greet(server: ServerThread) -> tuple[RawControl, str]:
    control = RawControl(server.host, server.port)
    return control, str(control.reply().code)


def test_maximum_connections_per_server(make_server: Callable[..., ServerThread]) -> None:
    server = make_server(maximum_connections=2)
    first, code1 = greet(server)
    second, code2 = greet(server)
    third, code3 = greet(server)
    assert (code1, code2, code3) == ("220", "220", "421")
    assert third.closed()
    first.command("QUIT")
    assert first.closed()
    fourth, code4 = greet(server)
    assert code4 == "220"
    for control in (first, second, third, fourth):
        control.close()


def test_maximum_connections_per_address(make_server: Callable[..., ServerThread]) -> None:
    server = make_server(maximum_connections_per_address=1)
    first, code1 = greet(server)
    second, code2 = greet(server)
    assert (code1, code2) == ("220", "421")
    first.close()
    second.close()


def test_maximum_connections_per_user(
    make_server: Callable[..., ServerThread], tmp_path: Path
) -> None:
    users = [
        anyftp.User("limited", "pw", base_path=tmp_path, maximum_connections=1),
        anyftp.User("other", "pw", base_path=tmp_path),
    ]
    server = make_server(users=users)
    first, _ = greet(server)
    first.login("limited", "pw")
    second, _ = greet(server)
    assert second.command("USER limited").code == "331"
    assert second.command("PASS pw").code == "421"
    assert second.closed()
    third, _ = greet(server)
    third.login("other", "pw")  # other users are not affected
    first.command("QUIT")
    assert first.closed()
    fourth, _ = greet(server)
    fourth.login("limited", "pw")  # the slot was released
    for control in (first, second, third, fourth):
        control.close()


def test_idle_timeout_closes_with_421(make_server: Callable[..., ServerThread]) -> None:
    server = make_server(idle_timeout=0.3)
    control, _ = greet(server)
    control.login()
    started = time.monotonic()
    assert control.reply().code == "421"
    assert control.closed()
    assert time.monotonic() - started < 5
    control.close()


def test_failed_logins_are_delayed_and_capped(
    make_server: Callable[..., ServerThread], tmp_path: Path
) -> None:
    server = make_server(
        users=[anyftp.User("u", "right", base_path=tmp_path)],
        login_failure_delay=0.2,
        max_login_attempts=3,
    )
    control, _ = greet(server)
    for attempt in range(2):
        control.command("USER u")
        started = time.monotonic()
        assert control.command("PASS wrong").code == "530"
        assert time.monotonic() - started >= 0.18, attempt
    control.command("USER u")
    assert control.command("PASS wrong").code == "421"
    assert control.closed()
    control.close()
    control, _ = greet(server)
    assert control.command("USER nobody").code == "530"  # unknown users count too
    control.login("u", "right")
    control.close()
