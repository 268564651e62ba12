"""Data-connection addresses: PASV (227), EPSV (229), PORT and EPRT, including malformed
input, which must raise ValueError and never a wrong address."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anyftp.protocol.addresses import (
    format_eprt,
    format_epsv,
    format_pasv,
    format_port,
    is_unroutable,
    parse_eprt,
    parse_epsv,
    parse_pasv,
    parse_port,
)

ports = st.integers(min_value=1, max_value=65535)
ipv4 = st.ip_addresses(v=4).map(str)


def test_pasv_reply_text() -> None:
    assert format_pasv("127.0.0.1", 1025) == "Entering Passive Mode (127,0,0,1,4,1)."
    assert format_pasv("::ffff:10.0.0.2", 65535) == "Entering Passive Mode (10,0,0,2,255,255)."


def test_pasv_over_ipv6_is_refused() -> None:
    with pytest.raises(ValueError, match="EPSV"):
        format_pasv("::1", 2000)


@settings(deadline=None)  # CI machines may be slow; examples are tiny
@given(ipv4, ports)
def test_pasv_round_trips(host: str, port: int) -> None:
    assert parse_pasv("227 " + format_pasv(host, port)) == (host, port)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Entering Passive Mode (192,168,1,2,19,137).", ("192.168.1.2", 5001)),
        ("=192,168,1,2,19,137", ("192.168.1.2", 5001)),  # servers that drop the parens
        ("Entering Passive Mode 10,0,0,1,0,21", ("10.0.0.1", 21)),
    ],
)
def test_pasv_replies_in_the_wild_are_understood(text: str, expected: tuple[str, int]) -> None:
    assert parse_pasv(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Entering Passive Mode",
        "(1234,0,0,1,4,1)",  # a number with four digits is not read as its last three
        "(127,0,0,1,4,1000)",
        "(256,0,0,1,4,1)",
        "(127,0,0,1,0,0)",  # port 0
        "(127,0,0,1,4)",
    ],
)
def test_malformed_pasv_replies_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_pasv(text)


def test_epsv_reply_text_and_parsing() -> None:
    assert format_epsv(6446) == "Entering Extended Passive Mode (|||6446|)"
    assert parse_epsv("229 Entering Extended Passive Mode (|||6446|)") == 6446
    assert parse_epsv("(!!!21!)") == 21  # any delimiter, used consistently


@pytest.mark.parametrize(
    "text", ["(||6446|)", "(|||6446)", "(|!|6446|)", "(|||0|)", "(|||70000|)", "(|||abc|)", ""]
)
def test_malformed_epsv_replies_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_epsv(text)


def test_format_epsv_refuses_a_port_out_of_range() -> None:
    for port in (0, 65536):
        with pytest.raises(ValueError):
            format_epsv(port)


@settings(deadline=None)  # CI machines may be slow; examples are tiny
@given(ipv4, ports)
def test_port_round_trips(host: str, port: int) -> None:
    assert parse_port(format_port(host, port)) == (host, port)


def test_port_arguments_may_have_spaces_around_numbers() -> None:
    assert parse_port("127, 0, 0, 1, 4, 1") == ("127.0.0.1", 1025)


@pytest.mark.parametrize(
    "argument",
    [
        "127,0,0,1,4",
        "127,0,0,1,4,1,1",
        "127,0,0,x,4,1",
        "300,0,0,1,4,1",
        "127,0,0,1,0,0",
        "-1,0,0,1,4,1",
        "",
        "127.0.0.1:1025",
        "127,0,0,1,4,²",
    ],
)
def test_malformed_port_arguments_are_refused(argument: str) -> None:
    with pytest.raises(ValueError):
        parse_port(argument)


def test_format_port_needs_ipv4() -> None:
    with pytest.raises(ValueError):
        format_port("::1", 21)


@settings(deadline=None)  # CI machines may be slow; examples are tiny
@given(st.ip_addresses().map(str), ports)
def test_eprt_round_trips_for_both_families(host: str, port: int) -> None:
    family, parsed_host, parsed_port = parse_eprt(format_eprt(host, port))
    assert (parsed_host, parsed_port) == (host, port)
    assert family == (2 if ":" in host else 1)


def test_eprt_examples_from_rfc_2428() -> None:
    assert parse_eprt("|1|132.235.1.2|6275|") == (1, "132.235.1.2", 6275)
    assert parse_eprt("|2|1080::8:800:200C:417A|5282|") == (2, "1080::8:800:200c:417a", 5282)
    assert parse_eprt("!1!10.0.0.1!21!") == (1, "10.0.0.1", 21)


@pytest.mark.parametrize(
    "argument",
    [
        "|3|10.0.0.1|21|",  # unknown network protocol
        "|1|::1|21|",  # family does not match the address
        "|2|10.0.0.1|21|",
        "|1|10.0.0.1|0|",
        "|1|10.0.0.1|65536|",
        "|1|10.0.0.1|x|",
        "|1|10.0.0.1|21",
        "1|10.0.0.1|21|",
        "|1|not-an-ip|21|",
        "|1|",
        "",
    ],
)
def test_malformed_eprt_arguments_are_refused(argument: str) -> None:
    with pytest.raises(ValueError):
        parse_eprt(argument)


@pytest.mark.parametrize(
    ("host", "unroutable"),
    [
        ("0.0.0.0", True),
        ("::", True),
        ("224.0.0.1", True),
        ("240.0.0.1", True),
        ("not an address", True),
        ("127.0.0.1", False),
        ("192.168.1.1", False),
        ("8.8.8.8", False),
        ("::1", False),
    ],
)
def test_unroutable_addresses(host: str, unroutable: bool) -> None:
    assert is_unroutable(host) is unroutable
