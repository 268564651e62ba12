"""A backend published by a third party is found by name and passes the conformance suite.

The backend template (``backends/_template``, a small dict-backed backend) is copied out of
the repository and renamed to ``anyftp-extdemo`` the way its README tells a new author to.
It is built and installed (with pip, no build isolation, no index) into a fresh virtual
environment made from the running interpreter with ``--system-site-packages``. A ``.pth``
file makes the running environment's packages (anyftp, pytest, pytest-asyncio, hatchling)
visible there, but ``anyftp-extdemo`` exists only in the new environment. Then, in
subprocesses:

(a) ``anyftp.registry.get_backend("extdemo")`` returns the project's class;
(b) the project's own tests - a subclass of :class:`anyftp.testing.ConformanceSuite`,
    run in pytest-asyncio's strict mode - pass.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import site
import subprocess
import sys
import sysconfig
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
TEMPLATE = REPOSITORY / "backends" / "_template"

#: What the template's README says to replace, as (placeholder, this project's name).
RENAMES = (
    ("anyftp-example", "anyftp-extdemo"),
    ("anyftp_example", "anyftp_extdemo"),
    ("ExamplePathIO", "ExtDemoPathIO"),
    ("ExampleState", "ExtDemoState"),
    ("ExampleFile", "ExtDemoFile"),
    ('"example"', '"extdemo"'),
)

VENV_TIMEOUT = 120
INSTALL_TIMEOUT = 180
RUN_TIMEOUT = 60
PYTEST_TIMEOUT = 300


@dataclass(frozen=True)
class Installed:
    python: Path
    project: Path


def make_project_from_template(target: Path) -> None:
    """Copy the template to *target* and replace its placeholders, file names included."""
    shutil.copytree(TEMPLATE, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (target / "src" / "anyftp_example").rename(target / "src" / "anyftp_extdemo")
    tests = target / "tests"
    (tests / "test_example_conformance.py").rename(tests / "test_extdemo_conformance.py")
    for path in target.rglob("*"):
        if path.suffix not in (".py", ".toml", ".md"):
            continue
        lines = []
        for line in path.read_text().splitlines(keepends=True):
            for old, new in RENAMES:
                line = line.replace(old, new)
            if line.startswith("example = "):  # the entry point
                line = "extdemo = " + line.removeprefix("example = ")
            lines.append(line)
        path.write_text("".join(lines))


def run(args: list[str | Path], timeout: float, cwd: Path | None = None) -> str:
    """Run a command, fail the test with its output if it fails or times out."""
    try:
        done = subprocess.run(
            [str(a) for a in args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{args} did not finish in {timeout}s:\n{exc.stdout}\n{exc.stderr}")
    if done.returncode != 0:
        pytest.fail(f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    if importlib.util.find_spec("hatchling") is None:
        pytest.fail("the external-backend test needs 'hatchling' installed (a test dependency)")
    work = tmp_path_factory.mktemp("external-backend")
    assert REPOSITORY not in work.parents, "the demo project must be built outside the repo"
    project = work / "anyftp-extdemo"
    make_project_from_template(project)
    venv = work / "venv"
    run([sys.executable, "-m", "venv", "--system-site-packages", venv], VENV_TIMEOUT)
    python = venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    purelib = Path(
        run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            RUN_TIMEOUT,
        ).strip()
    )
    # The running environment (a virtualenv itself, usually) is not the "system" the new
    # one sees: add its site directories, .pth files included, after the new one's own.
    parents = [*site.getsitepackages(), sysconfig.get_paths()["purelib"]]
    lines = [f"import site; site.addsitedir({p!r})" for p in dict.fromkeys(parents)]
    (purelib / "_anyftp_parent_env.pth").write_text("\n".join(lines) + "\n")
    run(
        [
            python, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
            "--disable-pip-version-check", "--quiet", project,
        ],
        INSTALL_TIMEOUT,
        cwd=work,
    )  # fmt: skip
    yield Installed(python, project)
    shutil.rmtree(work, ignore_errors=True)


def test_the_template_rename_leaves_no_placeholder_behind(tmp_path: Path) -> None:
    project = tmp_path / "anyftp-extdemo"
    make_project_from_template(project)
    for path in project.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".toml"):
            text = path.read_text()
            for placeholder in ("anyftp_example", "anyftp-example", "Example", '"example"'):
                assert placeholder not in text, (path, placeholder)
    assert 'extdemo = "anyftp_extdemo"' in (project / "pyproject.toml").read_text()


def test_the_demo_is_not_installed_in_the_running_environment() -> None:
    names = {ep.name for ep in importlib.metadata.entry_points(group="anyftp.backends")}
    assert "extdemo" not in names


def test_get_backend_finds_a_third_party_backend_by_its_entry_point_name(
    installed: Installed,
) -> None:
    snippet = textwrap.dedent(
        """
        import importlib.metadata, sys
        from anyftp.registry import available_backends, get_backend
        assert "anyftp_extdemo" not in sys.modules, "imported before it was selected"
        assert "extdemo" in available_backends()
        cls = get_backend("extdemo")
        from anyftp_extdemo.pathio import ExtDemoPathIO
        assert cls is ExtDemoPathIO, cls
        dist = importlib.metadata.distribution("anyftp-extdemo")
        print(cls.__module__, cls.__qualname__, dist.locate_file(""))
        """
    )
    out = run([installed.python, "-c", snippet], RUN_TIMEOUT, cwd=installed.project.parent)
    module, name, location = out.split()
    assert (module, name) == ("anyftp_extdemo.pathio", "ExtDemoPathIO")
    assert REPOSITORY not in Path(location).resolve().parents


def test_the_third_party_conformance_tests_pass_in_strict_mode(installed: Installed) -> None:
    report = installed.project / "report.xml"
    tests = installed.project / "tests"
    run(
        [
            installed.python, "-m", "pytest", tests, "-p", "no:cacheprovider",
            "--rootdir", installed.project, f"--junitxml={report}", "-q",
        ],
        PYTEST_TIMEOUT,
        cwd=installed.project,
    )  # fmt: skip
    suite = ET.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    counts = {key: int(suite.get(key, "0")) for key in ("tests", "failures", "errors")}
    assert counts["failures"] == 0 and counts["errors"] == 0, counts
    cases = {case.get("name", "") for case in suite.iter("testcase")}
    assert counts["tests"] >= 80, counts
    # The capabilities the demo lacks were exercised as refusals, not skipped.
    for name in (
        "test_set_mtime_sets_the_time_or_is_refused",
        "test_chmod_sets_permission_bits_or_is_refused",
        "test_r_plus_b_overwrites_in_place_or_is_refused",
        "test_rename_moves_a_directory_with_its_contents",
        "test_fileno_is_a_real_descriptor_or_is_unsupported",
        "test_the_backend_is_found_by_its_entry_point_name",
        "test_the_state_is_made_by_create_state",
    ):
        assert name in cases
    skipped = [c.get("name") for c in suite.iter("testcase") if c.find("skipped") is not None]
    assert skipped == ["test_r_plus_b_write_past_the_end_fills_the_gap_with_zeros"], skipped
