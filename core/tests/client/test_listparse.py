"""LIST line parsing on a corpus of real-world lines (data/list_lines.txt)."""

from __future__ import annotations

import datetime
from pathlib import Path, PurePosixPath

import pytest

import anyftp
from anyftp.errors import ListingParseError
from anyftp.protocol.listparse import (
    is_noise_line,
    parse_list_line,
    parse_unix_line,
    parse_unix_mode,
    parse_windows_line,
)

NOW = datetime.datetime(2024, 6, 15, 12, 0)
CORPUS = Path(__file__).parent / "data" / "list_lines.txt"


def load_corpus() -> tuple[list[tuple[str, list[str]]], list[str]]:
    good: list[tuple[str, list[str]]] = []
    bad: list[str] = []
    lines = CORPUS.read_text(encoding="utf-8").split("\n")
    in_bad = False
    pending: str | None = None
    for raw in lines:
        if raw.startswith("!! unparseable"):
            in_bad = True
            continue
        if not raw or raw.startswith("#"):
            continue
        if in_bad:
            bad.append(raw)
        elif raw.startswith("=> "):
            assert pending is not None, raw
            good.append((pending, raw[3:].split(" | ")))
            pending = None
        else:
            assert pending is None, f"no expectation for {pending!r}"
            pending = raw
    assert pending is None
    return good, bad


GOOD, BAD = load_corpus()


def test_corpus_is_large() -> None:
    assert len(GOOD) >= 45
    assert len(BAD) >= 5


@pytest.mark.parametrize(("line", "expected"), GOOD, ids=[g[0][:40] for g in GOOD])
def test_corpus_line_parses_to_expected_entry(line: str, expected: list[str]) -> None:
    name, info = parse_list_line(line, now=NOW)
    assert name == expected[0]
    assert info["type"] == expected[1]
    assert info["size"] == expected[2]
    assert info["modify"] == expected[3]
    if len(expected) > 4:
        assert info["link_dst"] == expected[4]
    else:
        assert "link_dst" not in info


@pytest.mark.parametrize("line", BAD)
def test_unparseable_corpus_line_raises_error_naming_the_line(line: str) -> None:
    with pytest.raises(ListingParseError) as error:
        parse_list_line(line, now=NOW)
    assert error.value.line == line
    assert repr(line) in str(error.value)


def test_unix_entry_carries_aioftp_and_plain_owner_keys() -> None:
    _, info = parse_unix_line("-rwxr-x--- 3 alice staff 10 Jun 10 10:00 run.sh", now=NOW)
    assert info["unix.mode"] == 0o750
    assert info["unix.links"] == "3"
    assert info["unix.owner"] == "alice"
    assert info["unix.group"] == "staff"
    assert info["permissions"] == "rwxr-x---"
    assert info["links"] == 3
    assert (info["owner"], info["group"]) == ("alice", "staff")


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("rwxr-xr-x", 0o755),
        ("rw-r--r--", 0o644),
        ("rwsr-xr-x", 0o4755),
        ("rwxr-sr-x", 0o2755),
        ("rwxrwxrwt", 0o1777),
        ("rwSr--r--", 0o4644),
        ("---------", 0),
        ("drwxr-xr-x", 0o755),
    ],
)
def test_unix_mode_letters_give_permission_bits(text: str, mode: int) -> None:
    assert parse_unix_mode(text) == mode


def test_unix_mode_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_unix_mode("rwxrwxrwz")
    with pytest.raises(ValueError):
        parse_unix_mode("rwx")


def test_windows_parser_refuses_unix_lines_and_the_other_way_round() -> None:
    with pytest.raises(ValueError):
        parse_windows_line("-rw-r--r-- 1 a b 1 Jun 10 10:00 x")
    with pytest.raises(ValueError):
        parse_unix_line("01-05-20  12:34PM       <DIR>          folder")


@pytest.mark.parametrize("line", ["", "   ", "total 12", "TOTAL 0"])
def test_noise_lines_are_recognised(line: str) -> None:
    assert is_noise_line(line)


def test_entry_is_not_noise() -> None:
    assert not is_noise_line(GOOD[0][0])


def test_year_less_date_defaults_to_current_time() -> None:
    today = datetime.datetime.now(datetime.UTC)
    _, info = parse_unix_line(f"-rw-r--r-- 1 a b 1 {today:%b} {today.day} 00:00 x")
    assert info["modify"].startswith(f"{today.year:04d}{today.month:02d}")


def test_client_parse_list_line_uses_custom_parser_first_or_last() -> None:
    seen: list[bytes] = []

    def custom(line: bytes) -> tuple[PurePosixPath, dict[str, str]]:
        seen.append(line)
        if not line.startswith(b"CUSTOM "):
            raise ValueError("not mine")
        return PurePosixPath(line[7:].decode()), {"type": "file", "size": "1", "modify": ""}

    client = anyftp.Client(parse_list_line_custom=custom)
    path, info = client.parse_list_line(b"CUSTOM thing")
    assert path == PurePosixPath("thing") and info["size"] == "1"
    path, info = client.parse_list_line(b"-rw-r--r-- 1 a b 7 Jun 10 10:00 unix")
    assert path == PurePosixPath("unix") and info["size"] == "7"
    assert seen[-1].endswith(b"unix")  # custom was asked first

    last = anyftp.Client(parse_list_line_custom=custom, parse_list_line_custom_first=False)
    seen.clear()
    last.parse_list_line(b"-rw-r--r-- 1 a b 7 Jun 10 10:00 unix")
    assert seen == []  # the built-in parser answered first
    with pytest.raises(ListingParseError):
        last.parse_list_line(b"neither")
