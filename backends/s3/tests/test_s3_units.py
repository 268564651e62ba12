"""The pure parts of the S3 backend: path -> key mapping, copy-range splitting, part sizes,
option parsing and the S3-error -> OSError table (no endpoint needed)."""

from __future__ import annotations

import errno
import io
import itertools

import aiohttp
import botocore.exceptions as boto
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyftp.errors import PathIOError, reply_for_path_error
from anyftp_s3.body import PartBody
from anyftp_s3.faults import BucketNotFoundError, is_transient, to_os_error
from anyftp_s3.keys import KeyMap
from anyftp_s3.options import GIB, MAX_PART_SIZE, MAX_PARTS, MIB, MIN_PART_SIZE, S3Options
from anyftp_s3.ranges import split_range

# --- keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/", "ftp/"),
        (".", "ftp/"),
        ("", "ftp/"),
        ("/a/b.txt", "ftp/a/b.txt"),
        ("a/b.txt", "ftp/a/b.txt"),
        ("./a//b.txt", "ftp/a/b.txt"),
        ("/a/../b", "ftp/b"),
        ("/home/alice/x", "ftp/home/alice/x"),
    ],
)
def test_paths_map_to_keys_under_the_prefix(path: str, key: str) -> None:
    assert KeyMap("ftp/").key(path) == key


def test_climbing_above_the_top_is_refused() -> None:
    with pytest.raises(PermissionError):
        KeyMap("ftp/").key("/../secret")
    with pytest.raises(PermissionError):
        KeyMap("").key("a/../../b")


def test_directory_prefixes_and_parents() -> None:
    keys = KeyMap("ftp/")
    assert keys.dir_prefix("/a/b") == "ftp/a/b/"
    assert keys.dir_prefix("/") == "ftp/"
    assert keys.parent_dir_prefix("/a/b") == "ftp/a/"
    assert keys.parent_dir_prefix("/a") == "ftp/"
    assert keys.parent_dir_prefix("/") is None
    assert KeyMap("").dir_prefix(".") == ""


def test_key_longer_than_s3_allows_is_a_name_too_long_error() -> None:
    with pytest.raises(OSError) as info:
        KeyMap("").key("/" + "x" * 1100)
    assert info.value.errno == errno.ENAMETOOLONG


# --- ranges and part sizes -----------------------------------------------------------------


@given(
    start=st.integers(0, 10 * GIB),
    length=st.integers(1, 6 * 1024 * GIB),
    chunk=st.sampled_from([MIN_PART_SIZE, 64 * MIB, 512 * MIB, MAX_PART_SIZE // 2]),
)
def test_split_range_covers_the_range_with_valid_copy_parts(
    start: int, length: int, chunk: int
) -> None:
    pieces = split_range(start, start + length, chunk)
    assert pieces[0][0] == start and pieces[-1][1] == start + length
    assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))
    sizes = [end - begin for begin, end in pieces]
    assert max(sizes) <= MAX_PART_SIZE
    if len(pieces) > 1:
        assert min(sizes) >= MIN_PART_SIZE
    if length <= MAX_PARTS * MAX_PART_SIZE // 2:
        assert len(pieces) <= MAX_PARTS


def test_part_size_doubles_so_ten_thousand_parts_cover_five_tib() -> None:
    options = S3Options(bucket="b")
    sizes = [options.part_size_for(n) for n in range(1, MAX_PARTS + 1)]
    assert sizes[0] == 8 * MIB and sizes[999] == 8 * MIB and sizes[1000] == 16 * MIB
    assert all(MIN_PART_SIZE <= s <= MAX_PART_SIZE for s in sizes)
    assert sum(sizes) >= 5 * 1024 * GIB


# --- options ----------------------------------------------------------------------------------


def test_options_from_the_command_line_are_typed() -> None:
    options = S3Options(
        bucket=123,
        prefix="/a/b",
        part_size="6291456",  # type: ignore[arg-type]
        retry_base_delay="0.2",
        endpoint_url="null",
    )
    assert options.bucket == "123"
    assert options.prefix == "a/b/"
    assert options.part_size == 6 * MIB
    assert options.retry_base_delay == 0.2
    assert options.endpoint_url is None


@pytest.mark.parametrize(
    "bad",
    [
        {"part_size": MIB},
        {"part_size": "big"},
        {"upload_concurrency": 0},
        {"list_page_size": 5000},
        {"addressing_style": "sideways"},
        {"bucket": ""},
    ],
)
def test_bad_options_are_refused_with_their_name(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad)).split("_")[0]):
        S3Options(**{"bucket": "b", **bad})  # type: ignore[arg-type]


# --- errors -----------------------------------------------------------------------------------


def client_error(code: str, status: int) -> boto.ClientError:
    return boto.ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} said S3"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "GetObject",
    )


@pytest.mark.parametrize(
    ("code", "status", "kind", "reply"),
    [
        ("NoSuchKey", 404, FileNotFoundError, "550"),
        ("404", 404, FileNotFoundError, "550"),
        ("NoSuchBucket", 404, BucketNotFoundError, "550"),
        ("AccessDenied", 403, PermissionError, "550"),
        ("InvalidAccessKeyId", 403, PermissionError, "550"),
        ("SlowDown", 503, TimeoutError, "451"),
        ("RequestTimeout", 400, TimeoutError, "451"),
        ("InternalError", 500, OSError, "451"),
        ("KeyTooLongError", 400, OSError, "553"),
        ("PreconditionFailed", 412, OSError, "451"),
    ],
)
def test_s3_error_codes_become_os_errors_and_ftp_replies(
    code: str, status: int, kind: type[OSError], reply: str
) -> None:
    error = to_os_error(client_error(code, status), "get_object", "k", "bucket", None)
    assert type(error) is kind or (kind is OSError and isinstance(error, OSError))
    assert code in str(error) or "bucket" in str(error)
    assert reply_for_path_error(PathIOError.from_exception(error))[0] == reply


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (client_error("SlowDown", 503), True),
        (client_error("InternalError", 500), True),
        (client_error("ServiceUnavailable", 503), True),
        (client_error("NoSuchKey", 404), False),
        (client_error("AccessDenied", 403), False),
        (boto.EndpointConnectionError(endpoint_url="http://x"), True),
        (aiohttp.ServerDisconnectedError(), True),
        (ConnectionResetError(), True),
        (ValueError("bug"), False),
    ],
)
def test_only_transient_failures_are_retried(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_unreachable_endpoint_names_the_endpoint() -> None:
    error = to_os_error(
        boto.EndpointConnectionError(endpoint_url="http://s3.local:9000"),
        "head_object",
        "k",
        "b",
        "http://s3.local:9000",
        attempts=3,
    )
    assert isinstance(error, ConnectionError)
    assert "http://s3.local:9000" in str(error) and "3 attempts" in str(error)
    assert reply_for_path_error(PathIOError.from_exception(error)) == ("451", "storage unreachable")


# --- part bodies --------------------------------------------------------------------------


def test_part_body_reads_seeks_and_rereads_without_copying_the_buffer() -> None:
    data = bytearray(b"0123456789")
    body = PartBody(data)
    assert body.read(4) == b"0123"
    buffer = bytearray(3)
    assert body.readinto(buffer) == 3 and buffer == b"456"
    assert body.read() == b"789"
    assert body.read() == b""
    assert body.seek(0, io.SEEK_END) == 10 and body.tell() == 10
    assert body.seek(0) == 0
    assert body.read() == b"0123456789"
