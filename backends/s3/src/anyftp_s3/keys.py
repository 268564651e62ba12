"""How FTP paths map to S3 keys, and back.

The server hands the backend ``user.base_path / virtual_path`` (``base_path`` defaults
to ``.``). The backend reads every path as a POSIX path from the top of the bucket's
``prefix``:

* ``/``, ``.`` and empty components are dropped, ``..`` removes the previous component
  (climbing above the top is refused with ``PermissionError``);
* what is left is joined with ``/`` and appended to the prefix.

So with ``prefix="ftp/"`` both ``/a/b.txt`` and ``a/b.txt`` name the key ``ftp/a/b.txt``;
``/`` and ``.`` name the top itself (relative key ``""``), which always exists as a
directory. A directory ``a`` is the set of keys starting with ``ftp/a/``; its marker
object (written by MKD) is the zero-byte key ``ftp/a/``.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import PurePath, PurePosixPath

__all__ = ("KeyMap", "MAX_KEY_BYTES")

#: S3 refuses keys longer than this many bytes of UTF-8.
MAX_KEY_BYTES = 1024


@dataclass(frozen=True)
class KeyMap:
    """Turns paths into keys for one ``prefix`` (``""`` or ending in ``/``)."""

    prefix: str = ""

    def relative(self, path: PurePath | str) -> str:
        """The key of *path* relative to the prefix (``""`` for the top)."""
        parts: list[str] = []
        for part in PurePosixPath(path).parts:
            if part in ("/", ".", ""):
                continue
            if part == "..":
                if not parts:
                    raise PermissionError(
                        errno.EACCES, "path climbs above the top of the bucket prefix", str(path)
                    )
                parts.pop()
                continue
            parts.append(part)
        return "/".join(parts)

    def key(self, path: PurePath | str) -> str:
        """The full object key of *path* (the prefix itself for the top)."""
        full = self.prefix + self.relative(path)
        if len(full.encode("utf-8", "surrogateescape")) > MAX_KEY_BYTES - 1:
            raise OSError(errno.ENAMETOOLONG, "S3 key too long", str(path))
        return full

    def is_top(self, path: PurePath | str) -> bool:
        return self.relative(path) == ""

    def dir_prefix(self, path: PurePath | str) -> str:
        """The key prefix of the directory *path*; also the key of its marker object."""
        rel = self.relative(path)
        return self.prefix + rel + "/" if rel else self.prefix

    def parent_dir_prefix(self, path: PurePath | str) -> str | None:
        """The directory prefix of *path*'s parent, ``None`` when *path* is the top."""
        rel = self.relative(path)
        if not rel:
            return None
        head, _, _ = rel.rpartition("/")
        return self.prefix + head + "/" if head else self.prefix

    def marker_of_prefix(self, dir_prefix: str) -> str | None:
        """The marker key for a directory prefix (``None`` for the top, which has none)."""
        return None if dir_prefix == self.prefix else dir_prefix
