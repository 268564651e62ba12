"""Virtual paths of a session and their mapping to the backend's real paths.

Every session sees a virtual tree rooted at ``/``. A path a client sends is joined to the
current directory and normalised *lexically*: ``.`` is dropped and ``..`` removes the
previous component but never climbs above ``/``, so no argument can name anything outside
the user's root. The real path is ``base_path / virtual.relative_to("/")`` in the backend's
own path class, and the backend (created with ``root=base_path``) refuses anything that
still resolves outside, e.g. through a symlink on the local disk.

Characters are taken literally: percent-encoded forms are not decoded and a backslash is
an ordinary name character on POSIX namespaces. On a namespace where the backslash
separates components (a Windows ``pathlib.Path``) a name holding one is refused, as is a
NUL anywhere.
"""

from __future__ import annotations

import os
import pathlib
from pathlib import PurePath, PurePosixPath

__all__ = ("BadPath", "normalise", "real_path", "normalise_base", "backslash_separates")

ROOT = PurePosixPath("/")


class BadPath(ValueError):
    """A path argument that can not be used (NUL, or a separator the backend would split)."""


def normalise(
    current: PurePosixPath, argument: str | PurePosixPath, *, refuse_backslash: bool = False
) -> PurePosixPath:
    """The absolute, normalised virtual path of *argument* seen from *current*."""
    text = str(argument)
    if "\x00" in text:
        raise BadPath("NUL in path")
    if refuse_backslash and "\\" in text:
        raise BadPath("backslash in path")
    parts: list[str] = [] if text.startswith("/") else list(current.parts[1:])
    for part in text.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return ROOT.joinpath(*parts)


def real_path(base: PurePath, virtual: PurePosixPath) -> PurePath:
    """The backend path for *virtual* under *base*."""
    relative = virtual.relative_to(ROOT)
    if not relative.parts:
        return base
    return base.joinpath(*relative.parts)


def backslash_separates(path_class: type[PurePath]) -> bool:
    """Whether *path_class* treats ``\\`` as a separator (Windows paths)."""
    return len(path_class("a\\b").parts) > 1


def normalise_base(base: PurePath | str, path_class: type[PurePath]) -> PurePath:
    """*base* as an absolute path of *path_class*.

    A relative base of a concrete local path class is made absolute against the current
    directory; for pure namespaces (memory, object stores) it is taken from ``/``.
    """
    if issubclass(path_class, pathlib.Path):
        return path_class(os.path.abspath(os.fspath(base)))
    text = str(PurePosixPath(str(base)))
    joined = PurePosixPath("/") / text if not text.startswith("/") else PurePosixPath(text)
    return path_class(normalise(ROOT, str(joined)).as_posix())
