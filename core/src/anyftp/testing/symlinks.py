"""Conformance tests for backends whose namespace is a real filesystem with symlinks.

Not part of :class:`~anyftp.testing.ConformanceSuite` (object stores have no symlinks):
a disk backend inherits :class:`SymlinkConformance` as well. ``base`` must then be a real
directory where ``os.symlink`` works. With ``root=`` set, a symlink may lead anywhere
inside the root, but nothing reaches outside through one: not by opening, listing,
making, renaming or following ``..`` after it.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePath
from typing import Any

import pytest

from ..errors import PathIOError, PathOutsideRootError
from ..pathio import AbstractPathIO
from .fixtures import BackendFixtures, MakePathIO, names_of, read_bytes, write_bytes

__all__ = ("SymlinkConformance",)


class SymlinkConformance(BackendFixtures):
    """Symlinks that escape the root are refused and not listed."""

    pytestmark = [pytest.mark.asyncio]

    @pytest.fixture
    def layout(self, base: PurePath) -> tuple[Path, Path]:
        """``base/root`` (the root) and ``base/outside`` (a secret next to it), with links:

        root/in-link -> root/real (inside), root/out-file -> outside/secret,
        root/out-dir -> outside, root/dangling -> outside/missing.
        """
        top = Path(base)
        root, outside = top / "root", top / "outside"
        (root / "real").mkdir(parents=True)
        (root / "real" / "data").write_bytes(b"inside")
        outside.mkdir()
        (outside / "secret").write_bytes(b"secret")
        (outside / "sub").mkdir()
        os.symlink(root / "real", root / "in-link")
        os.symlink(outside / "secret", root / "out-file")
        os.symlink(outside, root / "out-dir")
        os.symlink(outside / "sub", root / "out-sub")
        os.symlink(outside / "missing", root / "dangling")
        return root, outside

    async def test_symlinks_inside_the_root_are_followed(
        self, make_path_io: MakePathIO, layout: tuple[Path, Path]
    ) -> None:
        root, _ = layout
        rooted = make_path_io(root=root)
        assert await read_bytes(rooted, root / "in-link" / "data") == b"inside"
        assert await rooted.is_dir(root / "in-link")
        assert names_of(await rooted.list(root / "in-link")) == {"data"}

    async def test_symlinks_leading_outside_are_refused(
        self, make_path_io: MakePathIO, layout: tuple[Path, Path]
    ) -> None:
        root, outside = layout
        rooted = make_path_io(root=root)
        attempts: dict[str, Callable[[], Awaitable[Any]]] = {
            "read a linked file": lambda: read_bytes(rooted, root / "out-file"),
            "overwrite a linked file": lambda: write_bytes(rooted, root / "out-file", b"x"),
            "stat a linked file": lambda: rooted.stat(root / "out-file"),
            "list a linked directory": lambda: rooted.list(root / "out-dir"),
            "read through a linked directory": lambda: read_bytes(
                rooted, root / "out-dir" / "secret"
            ),
            "write through a linked directory": lambda: write_bytes(
                rooted, root / "out-dir" / "new", b"x"
            ),
            "mkdir through a linked directory": lambda: rooted.mkdir(root / "out-dir" / "new"),
            "dotdot after a link": lambda: read_bytes(rooted, root / "out-sub" / ".." / "secret"),
            "rename onto a linked path": lambda: rooted.rename(
                root / "real" / "data", root / "out-dir" / "stolen"
            ),
            "write through a dangling link": lambda: write_bytes(rooted, root / "dangling", b"x"),
            "chmod a linked file": lambda: rooted.chmod(root / "out-file", 0o600),
            "set_mtime of a linked file": lambda: rooted.set_mtime(root / "out-file", 1.0),
        }
        for what, attempt in attempts.items():
            with pytest.raises(PathIOError) as info:
                await attempt()
            assert isinstance(info.value, PathOutsideRootError), what
        assert (outside / "secret").read_bytes() == b"secret"
        assert sorted(p.name for p in outside.iterdir()) == ["secret", "sub"]
        assert not (outside / "missing").exists()
        assert (root / "real" / "data").read_bytes() == b"inside"

    async def test_listings_with_a_root_hide_symlinks_leading_outside(
        self, path_io: AbstractPathIO, make_path_io: MakePathIO, layout: tuple[Path, Path]
    ) -> None:
        root, _ = layout
        rooted = make_path_io(root=root)
        visible = {"real", "in-link"}
        assert names_of(await rooted.list(root)) == visible
        assert names_of(p for p, _ in await rooted.list_with_stats(root)) == visible
        assert {name for name, _ in await rooted.list_names_with_stats(root)} == visible
        everything = names_of(await path_io.list(root))  # no root: the links are shown
        assert everything >= visible | {"out-file", "out-dir", "out-sub", "dangling"}

    async def test_a_root_that_is_itself_a_symlink_works(
        self, make_path_io: MakePathIO, layout: tuple[Path, Path], base: PurePath
    ) -> None:
        root, _ = layout
        alias = Path(base) / "alias"
        os.symlink(root, alias)
        rooted = make_path_io(root=alias)
        assert await read_bytes(rooted, alias / "real" / "data") == b"inside"
        await write_bytes(rooted, alias / "real" / "more", b"more")
        assert (root / "real" / "more").read_bytes() == b"more"
        with pytest.raises(PathOutsideRootError):
            await rooted.stat(alias / "out-file")
