"""Property tests of the server's command handling with a live session.

The protocol parsers have their own property tests (``core/tests/test_protocol_*.py``);
these send generated command lines and raw byte streams to a running server and check
that every line gets a well-formed reply, that a NOOP afterwards is answered ``200`` (or
the connection was closed *with* a reply saying why), and that no session is left behind.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anyftp.server.handlers import default_table

from .harness import ThreadedServer
from .raw import Closed, RawClient, Reply

CODE = re.compile(r"^[1-5][0-5]\d$")
CLOSING = {"221", "421"}

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

KNOWN = sorted(default_table().names())
names = st.one_of(
    st.sampled_from(KNOWN),
    st.sampled_from(KNOWN).map(str.lower),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=6),
)
# Arguments: anything a line may hold (no CR, LF or NUL: those end or break the line and
# have their own tests), including paths made of dots, slashes and backslashes.
arguments = st.one_of(
    st.text(
        st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n\x00"), max_size=60
    ),
    st.lists(st.sampled_from(["..", ".", "/", "\\", "a", "%2e", "~", "*", " "]), max_size=12).map(
        "".join
    ),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
lines = st.tuples(names, arguments).map(lambda pair: f"{pair[0]} {pair[1]}".rstrip())


@pytest.fixture
def fuzz_server(make_server: Callable[..., ThreadedServer], tmp_path: Path) -> ThreadedServer:
    (tmp_path / "file.txt").write_bytes(b"content\n")
    (tmp_path / "dir").mkdir()
    return make_server(wait_future_timeout=0.2, socket_timeout=2, idle_timeout=5)


def final_reply(client: RawClient) -> Reply:
    """The next reply that is not preliminary (1xx)."""
    reply = client.reply()
    while reply.code.startswith("1"):
        reply = client.reply()
    return reply


def noop_answered_or_closed_with_reason(client: RawClient, last: Reply | None) -> None:
    try:
        client.send("NOOP")
        while True:
            reply = client.reply()
            assert CODE.match(reply.code), reply
            if reply.code == "200" and reply.text == "200 ok":
                return
            last = reply
    except (Closed, BrokenPipeError, ConnectionResetError):
        assert last is not None and last.code in CLOSING | {"500"}, last


@FUZZ
@given(st.lists(lines, min_size=1, max_size=6))
def test_generated_command_lines_get_replies_and_noop_still_works(
    fuzz_server: ThreadedServer, commands: list[str]
) -> None:
    with RawClient(fuzz_server.host, fuzz_server.port) as client:
        assert client.welcome().code == "220"
        client.login()
        last: Reply | None = None
        for line in commands:
            try:
                client.send(line)
                last = final_reply(client)
            except Closed:
                assert last is not None and last.code in CLOSING, (line, last)
                return
            assert CODE.match(last.code), (line, last)
            if last.code in CLOSING:
                assert client.closed_by_server()
                return
        noop_answered_or_closed_with_reason(client, last)


@FUZZ
@given(st.lists(lines, min_size=1, max_size=4))
def test_generated_command_lines_before_login_are_refused_or_answered(
    fuzz_server: ThreadedServer, commands: list[str]
) -> None:
    with RawClient(fuzz_server.host, fuzz_server.port) as client:
        assert client.welcome().code == "220"
        last: Reply | None = None
        for line in commands:
            if line.split()[0].upper() in ("USER", "PASS"):
                continue  # logging in is the other test's business
            try:
                client.send(line)
                last = final_reply(client)
            except Closed:
                assert last is not None and last.code in CLOSING, (line, last)
                return
            assert CODE.match(last.code), (line, last)
            if last.code in CLOSING:
                return
        noop_answered_or_closed_with_reason(client, last)


raw_streams = st.lists(
    st.one_of(
        st.binary(max_size=200),
        st.sampled_from(
            [b"\r\n", b"\n", b"\r", b"\x00", b"\xff\xf4\xff\xf2", b"\xff\xff", b"\xc0\xaf", b" "]
        ),
        lines.map(lambda line: line.encode("utf-8", "surrogatepass")),
    ),
    max_size=20,
).map(b"".join)


@FUZZ
@given(raw_streams)
def test_raw_byte_streams_never_break_the_session_silently(
    fuzz_server: ThreadedServer, stream: bytes
) -> None:
    with RawClient(fuzz_server.host, fuzz_server.port) as client:
        assert client.welcome().code == "220"
        client.login()
        client.send_raw(stream + b"\r\n")
        noop_answered_or_closed_with_reason(client, None)


def test_sessions_left_in_any_state_are_all_released(fuzz_server: ThreadedServer) -> None:
    for line in ("RETR", "STOR x", "EPSV", "RETR file.txt", "ABOR", "QUIT"):
        with RawClient(fuzz_server.host, fuzz_server.port) as client:
            client.welcome()
            client.login()
            client.send(line)
    fuzz_server.wait_no_sessions()
