"""The lexical root check of AbstractPathIO (backends without symlinks use it)."""

from __future__ import annotations

import pytest

from anyftp.pathio import is_inside_lexically


@pytest.mark.parametrize(
    ("path", "root"),
    [
        ("x", "."),
        ("./x/y", "."),
        ("a/../b", "."),
        (".", "."),
        ("/srv/ftp", "/srv/ftp"),
        ("/srv/ftp/a/b", "/srv/ftp"),
        ("/srv/ftp/a/../b", "/srv/ftp"),
        ("/anything", "/"),
        ("data/user/x", "data/user"),
    ],
)
def test_paths_inside_the_root_are_accepted(path: str, root: str) -> None:
    assert is_inside_lexically(path, root)


@pytest.mark.parametrize(
    ("path", "root"),
    [
        ("..", "."),
        ("../x", "."),
        ("a/../../x", "."),
        ("/etc/passwd", "."),
        ("/srv/ftpx", "/srv/ftp"),
        ("/srv/ftp/../other", "/srv/ftp"),
        ("/srv", "/srv/ftp"),
        ("relative", "/srv/ftp"),
        ("data/userx", "data/user"),
    ],
)
def test_paths_outside_the_root_are_refused(path: str, root: str) -> None:
    assert not is_inside_lexically(path, root)
