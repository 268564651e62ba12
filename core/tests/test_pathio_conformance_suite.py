"""The conformance suite catches broken backends.

A test module with deliberately broken variants of the memory and local backends is
written to a temporary directory and run by pytest in a subprocess (strict asyncio
mode, bounded by a timeout). Each breakage must make its test fail; an unbroken control
class must pass everything; a class that does not override the abstract fixtures errors.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import pytest

BROKEN_BACKENDS = textwrap.dedent(
    """
    import io
    from pathlib import Path, PurePosixPath

    import pytest
    import pytest_asyncio

    from anyftp.pathio import AbstractPathIO, Capabilities
    from anyftp.testing import ConformanceSuite, SymlinkConformance
    from anyftp_local import PathIO
    from anyftp_memory import MemoryPathIO


    class MemoryFixtures:
        backend = MemoryPathIO

        @pytest.fixture
        def path_io(self):
            return self.backend()

        @pytest_asyncio.fixture
        async def base(self, path_io):
            await path_io.mkdir(PurePosixPath("/base"))
            return PurePosixPath("/base")


    class KeepsNoEmptinessRule(MemoryPathIO):
        async def rmdir(self, path):
            node = self.tree.find(self._parts(path), path)
            node.children.clear()
            await MemoryPathIO.rmdir(self, path)


    class IgnoresRoot(MemoryPathIO):
        def contain(self, path):
            pass


    class ClaimsMtime(MemoryPathIO):
        capabilities = Capabilities(set_mtime=True, chmod=True)

        async def set_mtime(self, path, mtime):
            pass


    class HidesChmod(MemoryPathIO):
        capabilities = Capabilities(set_mtime=True, chmod=False)


    class Truncates(MemoryPathIO):
        async def close(self, file):
            del file.buffer[1024 * 1024 :]
            await MemoryPathIO.close(self, file)


    class WrongError(MemoryPathIO):
        async def unlink(self, path):
            if await self.is_dir(path):
                raise PermissionError(path)
            await MemoryPathIO.unlink(self, path)


    class LexicalRoot(PathIO):
        contain = AbstractPathIO.contain


    class TestControl(MemoryFixtures, ConformanceSuite):
        pass


    class TestKeepsNoEmptinessRule(MemoryFixtures, ConformanceSuite):
        backend = KeepsNoEmptinessRule


    class TestIgnoresRoot(MemoryFixtures, ConformanceSuite):
        backend = IgnoresRoot


    class TestClaimsMtime(MemoryFixtures, ConformanceSuite):
        backend = ClaimsMtime


    class TestHidesChmod(MemoryFixtures, ConformanceSuite):
        backend = HidesChmod


    class TestTruncates(MemoryFixtures, ConformanceSuite):
        backend = Truncates
        large_file_size = 2 * 1024 * 1024


    class TestWrongError(MemoryFixtures, ConformanceSuite):
        backend = WrongError


    class TestLexicalRoot(SymlinkConformance):
        @pytest.fixture
        def path_io(self):
            return LexicalRoot()

        @pytest.fixture
        def base(self, tmp_path):
            return tmp_path


    class TestForgotTheFixtures(ConformanceSuite):
        pass
    """
)

PYTEST_INI = "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"

#: class -> tests that must fail because of its breakage
EXPECTED_FAILURES = {
    "TestKeepsNoEmptinessRule": {"test_rmdir_of_a_non_empty_directory_fails"},
    "TestIgnoresRoot": {"test_every_method_refuses_paths_outside_the_root"},
    "TestClaimsMtime": {"test_set_mtime_sets_the_time_or_is_refused"},
    "TestHidesChmod": {"test_chmod_sets_permission_bits_or_is_refused"},
    "TestTruncates": {"test_round_trip_of_several_mebibytes"},
    "TestWrongError": {"test_unlink_of_a_directory_fails"},
    "TestLexicalRoot": {"test_symlinks_leading_outside_are_refused"},
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """class name -> test name -> passed/failed/error/skipped."""
    work = tmp_path_factory.mktemp("broken-backends")
    (work / "test_broken_backends.py").write_text(BROKEN_BACKENDS)
    (work / "pytest.ini").write_text(PYTEST_INI)
    report = work / "report.xml"
    try:
        subprocess.run(
            [
                sys.executable, "-m", "pytest", str(work), "-q", "-p", "no:cacheprovider",
                "-c", str(work / "pytest.ini"), "--rootdir", str(work),
                f"--junitxml={report}",
            ],
            cwd=work, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("the broken-backend run did not finish in 600s")
    result: dict[str, dict[str, str]] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        cls = case.get("classname", "").rpartition(".")[2]
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            if case.find(tag) is not None:
                outcome = tag
        result.setdefault(cls, {})[case.get("name", "")] = outcome
    return result


def test_an_unbroken_backend_passes_every_test(outcomes: dict[str, dict[str, str]]) -> None:
    control = outcomes["TestControl"]
    assert len(control) >= 80
    assert {name for name, outcome in control.items() if outcome != "passed"} == set()


@pytest.mark.parametrize("cls", sorted(EXPECTED_FAILURES))
def test_each_breakage_fails_its_test(cls: str, outcomes: dict[str, dict[str, str]]) -> None:
    failed = {name for name, outcome in outcomes[cls].items() if outcome == "failure"}
    assert EXPECTED_FAILURES[cls] <= failed, (cls, failed)


def test_a_class_without_the_fixtures_errors_instead_of_passing(
    outcomes: dict[str, dict[str, str]],
) -> None:
    forgot = outcomes["TestForgotTheFixtures"]
    assert forgot
    assert set(forgot.values()) == {"error"}
