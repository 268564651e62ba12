"""MLSx facts (RFC 3659 section 7): formatting, parsing and time values."""

from __future__ import annotations

import stat as stat_module

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anyftp.pathio import PathStat
from anyftp.protocol.mlsx import (
    facts_for_stat,
    format_facts,
    format_time,
    parse_facts_line,
    parse_time,
)


def test_a_facts_line_ends_with_one_space_and_the_name() -> None:
    facts = {"type": "file", "size": "12", "modify": "20240101120000"}
    assert format_facts(facts, "a.txt") == "type=file;size=12;modify=20240101120000; a.txt"


def test_names_keep_spaces_and_semicolons() -> None:
    line = format_facts({"type": "file"}, " odd; name=x ")
    assert parse_facts_line(line) == (" odd; name=x ", {"type": "file"})


def test_fact_names_are_case_insensitive_when_parsed() -> None:
    assert parse_facts_line("Type=dir;UNIX.mode=0755; d\r\n") == (
        "d",
        {"type": "dir", "unix.mode": "0755"},
    )


def test_a_line_with_no_facts_is_only_a_name() -> None:
    assert parse_facts_line(" name") == ("name", {})


@pytest.mark.parametrize("line", ["type=file;name-without-space", "type=file;oops; x"])
def test_malformed_lines_are_refused(line: str) -> None:
    with pytest.raises(ValueError):
        parse_facts_line(line)


_fact_value = st.text(
    st.characters(blacklist_characters=" ;=\r\n\x00", blacklist_categories=("Cs",)), max_size=12
)
_fact_key = st.from_regex(r"[a-z][a-z.]{0,8}", fullmatch=True)
_name = st.text(
    st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=20,
)


@settings(deadline=None)  # CI machines may be slow; examples are tiny
@given(st.dictionaries(_fact_key, _fact_value, max_size=5), _name)
def test_facts_round_trip(facts: dict[str, str], name: str) -> None:
    assert parse_facts_line(format_facts(facts, name)) == (name, facts)


def test_time_values_are_utc() -> None:
    assert format_time(0) == "19700101000000"
    assert format_time(1_000_000_000) == "20010909014640"
    assert parse_time("20010909014640") == 1_000_000_000.0
    assert parse_time("20010909014640.25") == 1_000_000_000.25


@settings(deadline=None)  # CI machines may be slow; examples are tiny
@given(st.integers(min_value=0, max_value=4_000_000_000))
def test_times_round_trip_to_the_second(seconds: int) -> None:
    assert parse_time(format_time(seconds)) == seconds


@pytest.mark.parametrize(
    "value", ["2001090901464", "2001O909014640", "20010909014640.x", "", "20011309014640"]
)
def test_malformed_time_values_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        parse_time(value)


def test_facts_for_a_file_and_a_directory() -> None:
    file_facts = facts_for_stat(
        PathStat(5, 0.0, 0.0, 1, stat_module.S_IFREG | 0o640, st_ino=0x1F, st_dev=2), perm="radfw"
    )
    assert file_facts == {
        "type": "file",
        "size": "5",
        "modify": "19700101000000",
        "perm": "radfw",
        "unix.mode": "0640",
        "unique": "2g1f",
    }
    dir_facts = facts_for_stat(PathStat.for_dir(1_000_000_000.0))
    assert dir_facts["type"] == "dir"
    assert dir_facts["unix.mode"] == "0755"
    assert "unique" not in dir_facts  # no inode: no unique fact
    assert facts_for_stat(PathStat.for_dir(0.0), kind="cdir")["type"] == "cdir"
