"""Password guessing: failed logins are delayed, capped per connection, and repeated
failures from one address ban it (421 on connect) for a while."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

import anyftp
from anyftp.server.bans import LoginBans

from .harness import CliServer, ThreadedServer, wait_for
from .raw import RawClient

BANNED = "too many failed logins from your address"


def accounts(tmp_path: Path) -> list[anyftp.User]:
    return [anyftp.User("alice", "secret", base_path=tmp_path)]


def guess(client: RawClient, password: str = "wrong") -> str:
    reply = client.command("USER alice")
    assert reply.code == "331", reply
    return client.command(f"PASS {password}").code


def connect(server: ThreadedServer | CliServer) -> RawClient:
    client = RawClient(server.host, server.port)
    return client


def test_failed_login_answer_is_delayed(
    make_server: Callable[..., ThreadedServer], tmp_path: Path
) -> None:
    server = make_server(users=accounts(tmp_path), login_failure_delay=0.4)
    with connect(server) as client:
        assert client.welcome().code == "220"
        started = time.monotonic()
        assert guess(client) == "530"
        assert time.monotonic() - started >= 0.4


def test_connection_is_closed_after_max_login_attempts(
    make_server: Callable[..., ThreadedServer], tmp_path: Path
) -> None:
    server = make_server(users=accounts(tmp_path), max_login_attempts=3)
    with connect(server) as client:
        client.welcome()
        assert [guess(client) for _ in range(2)] == ["530", "530"]
        assert guess(client) == "421"
        assert client.closed_by_server()


def test_repeated_failures_ban_the_address(
    make_server: Callable[..., ThreadedServer], tmp_path: Path
) -> None:
    server = make_server(users=accounts(tmp_path), max_login_attempts=3, ban_after_failures=5)
    with connect(server) as first:
        first.welcome()
        assert [guess(first) for _ in range(3)] == ["530", "530", "421"]
    with connect(server) as second:
        second.welcome()
        assert guess(second) == "530"
        reply_code = guess(second)  # the fifth failure from this address
        assert reply_code == "421"
        assert second.closed_by_server()
    with connect(server) as third:  # banned: refused at once, even with the right password
        reply = third.welcome()
        assert reply.code == "421"
        assert BANNED in reply.text
        assert third.closed_by_server()


def test_a_failure_on_a_connection_opened_before_the_ban_closes_it(
    make_server: Callable[..., ThreadedServer], tmp_path: Path
) -> None:
    server = make_server(users=accounts(tmp_path), max_login_attempts=None, ban_after_failures=3)
    early = connect(server)
    early.welcome()
    with connect(server) as guesser:
        guesser.welcome()
        assert [guess(guesser) for _ in range(3)] == ["530", "530", "421"]
    assert guess(early) == "421"
    assert early.closed_by_server()
    early.close()


def test_ban_ends_after_the_ban_time(
    make_server: Callable[..., ThreadedServer], tmp_path: Path
) -> None:
    server = make_server(
        users=accounts(tmp_path), max_login_attempts=None, ban_after_failures=2, ban_time=0.5
    )
    with connect(server) as client:
        client.welcome()
        assert [guess(client), guess(client)] == ["530", "421"]

    def admitted() -> bool:
        with connect(server) as probe:
            return probe.welcome().code == "220"

    started = time.monotonic()
    wait_for(admitted, timeout=5, what="the ban to end")
    assert time.monotonic() - started >= 0.3
    with connect(server) as client:
        client.welcome()
        assert guess(client, "secret") == "230"


def test_bans_can_be_turned_off(make_server: Callable[..., ThreadedServer], tmp_path: Path) -> None:
    server = make_server(users=accounts(tmp_path), max_login_attempts=None, ban_after_failures=0)
    with connect(server) as client:
        client.welcome()
        assert {guess(client) for _ in range(30)} == {"530"}
        assert guess(client, "secret") == "230"


def test_successful_logins_do_not_reset_the_failure_count(
    make_server: Callable[..., ThreadedServer], tmp_path: Path
) -> None:
    users = [*accounts(tmp_path), anyftp.User(base_path=tmp_path)]  # plus anonymous
    server = make_server(users=users, max_login_attempts=None, ban_after_failures=3)
    with connect(server) as client:
        client.welcome()
        for _ in range(2):
            assert guess(client) == "530"
            assert client.command("USER anonymous").code == "230"
        assert guess(client) == "421"


def test_cli_ban_options_apply(cli_server: Callable[..., CliServer], tmp_path: Path) -> None:
    server = cli_server(
        "--root",
        str(tmp_path),
        "--user",
        "alice:secret",
        "--login-failure-delay",
        "0",
        "--ban-after",
        "2",
        "--ban-time",
        "600",
    )
    with connect(server) as client:
        client.welcome()
        assert [guess(client), guess(client)] == ["530", "421"]
    with connect(server) as client:
        assert client.welcome().code == "421"


# --- the ban book itself (a fake clock) -----------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_outside_the_window_do_not_count() -> None:
    clock = Clock()
    bans = LoginBans(3, window=10, duration=60, clock=clock)
    assert not bans.failed("192.0.2.1")
    assert not bans.failed("192.0.2.1")
    clock.now += 11
    assert not bans.failed("192.0.2.1")
    assert not bans.failed("192.0.2.1")
    assert bans.failed("192.0.2.1")
    assert bans.banned_for("192.0.2.1") == pytest.approx(60)
    clock.now += 61
    assert bans.banned_for("192.0.2.1") == 0


def test_bans_are_per_address() -> None:
    bans = LoginBans(2, clock=Clock())
    assert not bans.failed("192.0.2.1")
    assert bans.failed("192.0.2.1")
    assert bans.banned_for("192.0.2.1") > 0
    assert bans.banned_for("192.0.2.2") == 0
    assert bans.banned_for("2001:db8::1") == 0


def test_ban_book_memory_is_bounded() -> None:
    bans = LoginBans(2, max_addresses=100, clock=Clock())
    for n in range(10_000):
        address = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        bans.failed(address)
        bans.failed(address)
    assert len(bans) <= 200
