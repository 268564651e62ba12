"""The local backend passes the anyftp conformance suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from anyftp.testing import ConformanceSuite, SymlinkConformance
from anyftp_local import PathIO


class TestLocalPathIO(ConformanceSuite, SymlinkConformance):
    @pytest.fixture
    def path_io(self) -> PathIO:
        return PathIO()

    @pytest.fixture
    def base(self, tmp_path: Path) -> Path:
        path = tmp_path / "base"
        path.mkdir()
        return path
