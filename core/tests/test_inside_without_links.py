"""``inside_without_links``: the cheap containment proof the local backends try before
resolving symlinks. It may only say True when full resolution would agree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from anyftp.pathio import inside_without_links, is_inside_resolved

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the proof is POSIX-only")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "dir" / "deeper").mkdir(parents=True)
    (root / "dir" / "file").write_bytes(b"x")
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "escape").symlink_to(outside)
    (root / "dir" / "inner-link").symlink_to(root / "dir" / "deeper")
    return root


@pytest.mark.parametrize(
    "relative",
    ["", "dir", "dir/file", "dir/deeper", "dir/missing", "dir/missing/below", "new-file"],
)
def test_plain_paths_below_the_root_are_proven_inside(tree: Path, relative: str) -> None:
    path = tree / relative if relative else tree
    assert inside_without_links(path, tree)
    assert is_inside_resolved(path, tree)


@pytest.mark.parametrize(
    "relative", ["escape", "escape/anything", "dir/inner-link", "dir/inner-link/x"]
)
def test_paths_through_a_symlink_are_not_proven(tree: Path, relative: str) -> None:
    assert not inside_without_links(tree / relative, tree)


def test_dotdot_and_paths_outside_the_root_text_are_not_proven(tree: Path) -> None:
    assert not inside_without_links(f"{tree}/dir/../dir/file", tree)
    assert not inside_without_links(f"{tree}/./dir", tree)
    assert not inside_without_links(f"{tree}-sibling/file", tree)
    assert not inside_without_links(tree.parent / "outside", tree)
    assert not inside_without_links("/etc/passwd", tree)


def test_filesystem_root_as_root(tree: Path) -> None:
    assert inside_without_links("/", "/")
    assert inside_without_links(tree / "dir" / "file", "/") == (
        not any(p.is_symlink() for p in (tree / "dir" / "file").parents)
    )


def test_a_file_in_the_middle_ends_the_proof_as_not_existing(tree: Path) -> None:
    # Below a regular file nothing can exist (ENOTDIR): the operation will fail anyway.
    assert inside_without_links(tree / "dir" / "file" / "below", tree)
