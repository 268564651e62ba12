"""Reply formatting and incremental parsing (RFC 959 section 4.2), and 257 path quoting."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anyftp.errors import InvalidCommand
from anyftp.protocol.replies import Code, Reply, ReplyParser, format_reply, quote_path, unquote_path


def parse_all(text: str) -> list[Reply]:
    parser = ReplyParser()
    replies = []
    for line in text.split("\r\n")[:-1]:
        reply = parser.feed(line)
        if reply is not None:
            replies.append(reply)
    return replies


def test_a_one_line_reply() -> None:
    assert format_reply("200", "Command okay.") == "200 Command okay.\r\n"
    assert format_reply("200") == "200 \r\n"


def test_a_multi_line_reply_opens_with_a_dash_and_ends_with_a_space() -> None:
    text = format_reply("211", ["Features:", " MDTM", " SIZE", "End"])
    assert text == "211-Features:\r\n MDTM\r\n SIZE\r\n211 End\r\n"


def test_inner_lines_that_look_like_an_end_are_indented() -> None:
    text = format_reply("214", ["Help:", "214 not the end", "200 neither", "plain", "End"])
    lines = text.split("\r\n")
    assert lines[1:4] == [" 214 not the end", " 200 neither", " plain"]
    assert parse_all(text) == [
        Reply(Code("214"), ["Help:", "214 not the end", "200 neither", "plain", "End"])
    ]


def test_newlines_in_a_text_make_a_multi_line_reply() -> None:
    assert format_reply("220", "Welcome\nto anyftp") == "220-Welcome\r\n220 to anyftp\r\n"


@pytest.mark.parametrize("bad", ["a\rb", "nul\x00"])
def test_cr_or_nul_in_a_reply_is_refused(bad: str) -> None:
    with pytest.raises(InvalidCommand):
        format_reply("200", [bad])


def test_the_parser_returns_a_reply_only_when_complete() -> None:
    parser = ReplyParser()
    assert parser.feed("230-Welcome") is None
    assert parser.feed(" to the server") is None
    assert parser.feed("230-still going") is None  # same code with a dash: continuation
    reply = parser.feed("230 Logged in.")
    assert reply == Reply(
        Code("230"), ["Welcome", "to the server", "230-still going", "Logged in."]
    )
    assert reply.text == "Welcome\nto the server\n230-still going\nLogged in."
    assert parser.feed("200 next\r\n") == Reply(Code("200"), ["next"])


def test_a_bare_code_is_a_complete_reply() -> None:
    assert ReplyParser().feed("200") == Reply(Code("200"), [""])


@pytest.mark.parametrize("line", ["hello", "20 short", "2000 four digits", "200x", ""])
def test_a_first_line_without_a_code_is_refused(line: str) -> None:
    with pytest.raises(ValueError):
        ReplyParser().feed(line)


_text_line = st.text(
    st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)), max_size=30
).filter(lambda s: not s.startswith(" "))


@settings(deadline=None)  # CI machines may be slow; examples are tiny
@given(
    st.sampled_from(["150", "200", "211", "226", "550"]),
    st.lists(_text_line, min_size=1, max_size=6),
)
def test_formatting_then_parsing_gives_the_lines_back(code: str, lines: list[str]) -> None:
    replies = parse_all(format_reply(code, lines))
    assert replies == [Reply(Code(code), lines)]


def test_codes_match_masks() -> None:
    code = Code("226")
    assert code.matches("2xx") and code.matches("22x") and code.matches("226")
    assert not code.matches("1xx") and not code.matches("225")
    assert code == "226"


@pytest.mark.parametrize("path", ["/", "/a b", '/say "hi"', '""', "/ü/é"])
def test_quoted_paths_round_trip(path: str) -> None:
    quoted = quote_path(path)
    assert quoted.startswith('"') and quoted.endswith('"')
    assert unquote_path(f"257 {quoted} created.") == path


def test_unquote_takes_the_first_quoted_path() -> None:
    assert unquote_path('"/a""b" is current, not "/c"') == '/a"b'


@pytest.mark.parametrize("text", ["no quotes", '"unterminated', 'x "a""'])
def test_a_reply_without_a_complete_quoted_path_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        unquote_path(text)
