"""Control-connection framing: line splitting with a length bound, command parsing,
telnet codes, and refusal of NUL/CR/LF inside values."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anyftp.errors import InvalidCommand
from anyftp.protocol.framing import (
    MAX_LINE_LENGTH,
    LineBuffer,
    check_argument,
    parse_command,
    strip_telnet,
)

IAC, IP, DM, WILL, DONT = 0xFF, 0xF4, 0xF2, 0xFB, 0xFE


def test_lines_end_with_crlf_or_a_bare_lf() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b"USER a\r\nPASS b\nNOOP\r\n") == [b"USER a", b"PASS b", b"NOOP"]
    assert buffer.pending == 0


def test_a_line_split_across_reads_is_joined() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b"RE") == []
    assert buffer.feed(b"TR fi") == []
    assert buffer.pending == 7
    assert buffer.feed(b"le\r") == []
    assert buffer.feed(b"\nNO") == [b"RETR file"]
    assert buffer.feed(b"OP\r\n") == [b"NOOP"]


def test_a_line_of_exactly_the_limit_is_accepted() -> None:
    assert LineBuffer(max_length=10).feed(b"0123456789\r\n") == [b"0123456789"]
    buffer = LineBuffer(max_length=10)
    assert buffer.feed(b"0123456789\r") == []  # the CR alone does not count
    assert buffer.feed(b"\n") == [b"0123456789"]


def test_an_overlong_complete_line_is_refused() -> None:
    with pytest.raises(InvalidCommand):
        LineBuffer(max_length=10).feed(b"0123456789A\r\n")


def test_an_overlong_line_is_refused_before_its_end_arrives() -> None:
    buffer = LineBuffer(max_length=10)
    buffer.feed(b"0123456789")
    with pytest.raises(InvalidCommand):
        buffer.feed(b"A")  # memory stays bounded: no waiting for the LF


def test_the_default_limit_is_generous_but_bounded() -> None:
    buffer = LineBuffer()
    assert buffer.max_length == MAX_LINE_LENGTH
    assert buffer.feed(b"STOR " + b"x" * (MAX_LINE_LENGTH - 5) + b"\r\n")
    with pytest.raises(InvalidCommand):
        LineBuffer().feed(b"x" * (MAX_LINE_LENGTH + 1))


@settings(deadline=None)  # CI machines may be slow; examples are tiny
@given(
    st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=20),
    st.integers(min_value=1, max_value=50),
)
def test_any_chunking_of_a_stream_gives_the_same_lines(lines: list[bytes], step: int) -> None:
    stream = b"".join(line + b"\r\n" for line in lines)
    buffer = LineBuffer(max_length=100)
    got: list[bytes] = []
    for start in range(0, len(stream), step):
        got.extend(buffer.feed(stream[start : start + step]))
    assert got == lines  # only the CR of each CRLF is removed
    assert buffer.pending == 0


def test_commands_are_upper_cased_and_arguments_keep_their_spaces() -> None:
    assert parse_command(b"retr my  file.txt\r\n") == ("RETR", "my  file.txt")
    assert parse_command(b"Stor trailing space \r\n") == ("STOR", "trailing space ")
    assert parse_command(b"noop") == ("NOOP", "")
    assert parse_command(b"  pwd") == ("PWD", "")
    assert parse_command(b"") == ("", "")


def test_utf8_arguments_are_decoded() -> None:
    assert parse_command("MKD répertoire ü".encode()) == ("MKD", "répertoire ü")


def test_telnet_interrupt_and_sync_before_abor_are_removed() -> None:
    line = bytes([IAC, IP, IAC, DM]) + b"ABOR\r\n"
    assert parse_command(line) == ("ABOR", "")


def test_telnet_option_negotiation_is_removed() -> None:
    assert strip_telnet(bytes([IAC, WILL, 1]) + b"NOOP" + bytes([IAC, DONT, 3])) == b"NOOP"


def test_an_escaped_ff_byte_is_kept_as_data() -> None:
    assert strip_telnet(b"a" + bytes([IAC, IAC]) + b"b") == b"a\xffb"
    assert parse_command(b"STOR a" + bytes([IAC, IAC]), encoding="latin-1") == ("STOR", "a\xff")


def test_text_without_telnet_codes_is_returned_as_is() -> None:
    data = "naïve 😀".encode()
    assert strip_telnet(data) is data


@pytest.mark.parametrize("line", [b"RETR a\x00b", b"RETR a\rb", b"RETR a\nb\r\n", b"\x00"])
def test_nul_cr_or_lf_inside_a_command_line_is_refused(line: bytes) -> None:
    with pytest.raises(InvalidCommand):
        parse_command(line)


def test_undecodable_bytes_are_refused() -> None:
    with pytest.raises(InvalidCommand, match="utf-8"):
        parse_command(b"RETR \xc3\x28")


@pytest.mark.parametrize("value", ["a\rb", "a\nb", "a\x00b"])
def test_values_sent_back_may_not_hold_cr_lf_or_nul(value: str) -> None:
    with pytest.raises(InvalidCommand):
        check_argument(value)


def test_plain_values_pass_the_check() -> None:
    assert check_argument("/dir/file name.txt") == "/dir/file name.txt"
