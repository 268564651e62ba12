"""ftp:// and ftps:// URLs as the command line reads them."""

from __future__ import annotations

import pytest

from anyftp.client.urls import parse_url


def test_plain_url_defaults() -> None:
    url = parse_url("ftp://example.com")
    assert (url.host, url.port, url.user, url.password, url.path, url.tls) == (
        "example.com",
        21,
        "anonymous",
        "anon@",
        "",
        None,
    )


def test_credentials_are_percent_decoded_and_path_is_relative_to_login() -> None:
    url = parse_url("ftp://us%40er:p%3Ass%2Fw@host:2121/pub/a%20b.txt")
    assert (url.user, url.password, url.port) == ("us@er", "p:ss/w", 2121)
    assert url.path == "pub/a b.txt"


@pytest.mark.parametrize("text", ["ftp://host//etc/motd", "ftp://host/%2Fetc/motd"])
def test_absolute_path_forms(text: str) -> None:
    assert parse_url(text).path == "/etc/motd"


def test_ftps_is_explicit_on_21_and_implicit_on_990() -> None:
    assert (parse_url("ftps://h").tls, parse_url("ftps://h").port) == ("explicit", 21)
    assert (parse_url("ftps://h:990").tls, parse_url("ftps://h:990").port) == ("implicit", 990)
    implicit = parse_url("ftps://h", implicit_tls=True)
    assert (implicit.tls, implicit.port) == ("implicit", 990)


def test_ipv6_host() -> None:
    url = parse_url("ftp://[::1]:2121/x")
    assert (url.host, url.port, url.path) == ("::1", 2121, "x")
    assert url.display() == "ftp://[::1]:2121/x"


def test_display_hides_the_password() -> None:
    assert "secret" not in parse_url("ftp://u:secret@h/p").display()


@pytest.mark.parametrize(
    "text", ["http://host/", "ftp:///nohost", "ftp://host:99999/", "ftp://h/a%0Db"]
)
def test_bad_urls_raise_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_url(text)
