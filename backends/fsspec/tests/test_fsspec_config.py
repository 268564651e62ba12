"""Configuring the fsspec backend: URLs, options, and errors that say what to install."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

import anyftp
from anyftp.errors import BackendError
from anyftp_fsspec import FsspecPathIO
from anyftp_fsspec.errors import MissingImplementation, UnknownProtocol
from anyftp_fsspec.options import parse_options
from anyftp_fsspec.pathio import BASELINE_CAPABILITIES
from anyftp_fsspec.stats import to_timestamp


def test_an_unknown_protocol_names_it_and_says_to_install_its_package() -> None:
    with pytest.raises(UnknownProtocol) as info:
        FsspecPathIO.create_state(url="nosuchfs://bucket/x")
    message = str(info.value)
    assert "'nosuchfs'" in message
    assert "pip install" in message
    assert isinstance(info.value, BackendError)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("url", "package"),
    [("gcs://bucket/prefix", "gcsfs"), ("sftp://host/srv", "paramiko")],
)
def test_a_missing_implementation_names_the_package_to_install(url: str, package: str) -> None:
    with pytest.raises(MissingImplementation) as info:
        FsspecPathIO.create_state(url=url)
    assert f"pip install {package}" in str(info.value)
    assert info.value.package == package
    assert isinstance(info.value, BackendError)


def test_every_protocol_of_a_chained_url_is_checked() -> None:
    with pytest.raises(MissingImplementation, match="gcsfs"):
        FsspecPathIO.create_state(url="zip://::gcs://bucket/archive.zip")


def test_the_server_refuses_a_bad_url_when_it_is_made() -> None:
    with pytest.raises(MissingImplementation, match="pip install gcsfs"):
        anyftp.Server(path_io_factory="fsspec", path_io_options={"url": "gcs://b"})


def test_anyftp_serve_reports_the_missing_package_and_exits_2() -> None:
    command = [
        sys.executable,
        "-m",
        "anyftp",
        "serve",
        "--port",
        "0",
        "--backend",
        "fsspec",
        "--backend-option",
        "url=gcs://bucket/ftp",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "pip install gcsfs" in done.stderr


def test_create_state_needs_a_url_and_refuses_unknown_options() -> None:
    with pytest.raises(TypeError, match="url"):
        FsspecPathIO.create_state()
    with pytest.raises(TypeError, match="endpoint_url"):
        FsspecPathIO.create_state(url="memory://", endpoint_url="http://x")


def test_tuning_options_are_checked_and_read_from_text() -> None:
    state = FsspecPathIO.create_state(
        url="memory://tuning", max_workers="3", read_chunk_size="65536"
    )
    assert state.storage.settings.max_workers == 3
    assert state.storage.settings.read_chunk_size == 65536
    with pytest.raises(ValueError, match="max_workers"):
        FsspecPathIO.create_state(url="memory://", max_workers=0)
    with pytest.raises(TypeError, match="write_block_size"):
        FsspecPathIO.create_state(url="memory://", write_block_size="lots")
    with pytest.raises(ValueError, match="5 MiB"):
        FsspecPathIO.create_state(url="s3://bucket/x", write_block_size=1024 * 1024)


@pytest.mark.parametrize(
    "given",
    [
        {"storage_options": {"skip_instance_cache": True, "client_kwargs": {"region": "x"}}},
        {
            "storage_options": json.dumps(
                {"skip_instance_cache": True, "client_kwargs": {"region": "x"}}
            )
        },
        {"storage_options": ["skip_instance_cache=true", "client_kwargs.region=x"]},
        {"storage_options.skip_instance_cache": True, "storage_options.client_kwargs.region": "x"},
    ],
    ids=["mapping", "json", "key=value texts", "dotted options"],
)
def test_storage_options_reach_the_filesystem_in_every_form(given: dict[str, Any]) -> None:
    state = FsspecPathIO.create_state(url="memory://forms", **given)
    assert state.target.storage_options == {
        "skip_instance_cache": True,
        "client_kwargs": {"region": "x"},
    }


def test_dotted_storage_options_carry_any_python_object() -> None:
    marker = object()
    state = FsspecPathIO.create_state(url="memory://objects", **{"storage_options.thing": marker})
    assert state.target.storage_options["thing"] is marker


def test_options_embedded_in_the_url_are_kept_and_explicit_ones_win() -> None:
    state = FsspecPathIO.create_state(
        url="ftp://user:secret@127.0.0.1:2121/srv/x", storage_options={"password": "explicit"}
    )
    assert state.target.root == "/srv/x"
    assert state.target.storage_options == {
        "host": "127.0.0.1",
        "port": 2121,
        "username": "user",
        "password": "explicit",
    }


def test_key_value_texts_parse_json_values_and_dotted_keys() -> None:
    parsed = parse_options(["anon=true", "n=3", "name=plain text", "a.b.c=[1, 2]", "empty="])
    assert parsed == {
        "anon": True,
        "n": 3,
        "name": "plain text",
        "a": {"b": {"c": [1, 2]}},
        "empty": "",
    }
    with pytest.raises(ValueError, match="key=value"):
        parse_options(["novalue"])


@pytest.mark.parametrize(
    ("url", "append", "seek_write", "set_mtime", "file_descriptor"),
    [
        ("memory://caps", True, True, False, False),
        ("file:///tmp", True, True, True, True),
        ("s3://bucket/prefix", False, False, False, False),
        ("zip://::memory://caps.zip", False, False, False, False),
    ],
)
def test_capabilities_are_decided_per_filesystem(
    url: str, append: bool, seek_write: bool, set_mtime: bool, file_descriptor: bool
) -> None:
    path_io = FsspecPathIO(state=FsspecPathIO.create_state(url=url))
    caps = path_io.capabilities
    assert (caps.append, caps.seek_write, caps.set_mtime, caps.file_descriptor) == (
        append,
        seek_write,
        set_mtime,
        file_descriptor,
    )
    assert caps.chmod == set_mtime  # only the local disk has permission bits
    assert caps.empty_directories and caps.rename_directories


def test_the_class_alone_promises_only_what_every_filesystem_can_do() -> None:
    assert FsspecPathIO.capabilities == BASELINE_CAPABILITIES
    assert not FsspecPathIO.capabilities.append
    with pytest.raises(TypeError, match="create_state"):
        FsspecPathIO()


def test_times_are_read_in_every_form_filesystems_give() -> None:
    moment = datetime(2001, 9, 9, 1, 46, 40, tzinfo=UTC)
    assert to_timestamp(moment) == 1_000_000_000
    assert to_timestamp(moment.replace(tzinfo=None)) == 1_000_000_000
    assert to_timestamp(moment.astimezone(timezone(timedelta(hours=2)))) == 1_000_000_000
    assert to_timestamp("2001-09-09T01:46:40Z") == 1_000_000_000
    assert to_timestamp("2001-09-09T01:46:40.000+00:00") == 1_000_000_000
    assert to_timestamp(1_000_000_000) == 1_000_000_000
    assert to_timestamp(1_000_000_000_000_000_000) == 1_000_000_000  # nanoseconds
    assert to_timestamp("not a time") is None
    assert to_timestamp(None) is None
