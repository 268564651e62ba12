"""plugins/_template is a complete third-party plugin: renamed as its README says, given
its entry point, its own test passes against this checkout (in a subprocess), and
``anyftp plugins`` lists it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

TEMPLATE = Path(__file__).resolve().parents[2] / "plugins" / "_template"


def renamed_copy(tmp_path: Path, name: str) -> Path:
    """The template copied to *tmp_path* with the README's renames applied."""
    project = tmp_path / f"anyftp-{name}"
    shutil.copytree(TEMPLATE, project, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    (project / "src" / "anyftp_example_plugin").rename(project / "src" / f"anyftp_{name}")
    (project / "tests" / "test_example_plugin.py").rename(project / "tests" / f"test_{name}.py")
    for path in project.rglob("*"):
        if path.is_file() and path.suffix in {".py", ".toml", ".md"}:
            text = path.read_text(encoding="utf-8")
            text = text.replace("anyftp-example-plugin", f"anyftp-{name}")
            text = text.replace("anyftp_example_plugin", f"anyftp_{name}")
            text = text.replace('"example"', f'"{name}"')
            text = text.replace("anyftp.example", f"anyftp.{name}")
            text = re.sub(r"(?m)^example = ", f"{name} = ", text)
            path.write_text(text, encoding="utf-8")
    return project


def installed_metadata(tmp_path: Path, project: Path, name: str) -> Path:
    """A directory that, on ``sys.path``, makes the project look installed: its
    distribution metadata with the entry point from its pyproject.toml."""
    import tomllib

    meta = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    site = tmp_path / "site"
    info = site / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n",
        encoding="utf-8",
    )
    points = meta["entry-points"]["anyftp.plugins"]
    (info / "entry_points.txt").write_text(
        "[anyftp.plugins]\n" + "".join(f"{k} = {v}\n" for k, v in points.items()),
        encoding="utf-8",
    )
    assert points == {name: f"anyftp_{name}"}
    return site


def test_the_template_renamed_passes_its_own_test(tmp_path: Path) -> None:
    project = renamed_copy(tmp_path, "yourplugin")
    site = installed_metadata(tmp_path, project, "yourplugin")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), str(project / "src")]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("ANYFTP_BLOCK_PLUGINS", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    listing = subprocess.run(
        [sys.executable, "-m", "anyftp", "plugins"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    (row,) = [line.split() for line in listing.splitlines() if line.startswith("yourplugin ")]
    assert row[:4] == ["yourplugin", "0.1.0", "events", "anyftp-yourplugin"]


def test_the_template_marks_every_place_to_adapt() -> None:
    marked = [
        path.relative_to(TEMPLATE).as_posix()
        for path in TEMPLATE.rglob("*")
        if path.is_file()
        and not any(
            p.startswith(".") or p == "__pycache__" for p in path.relative_to(TEMPLATE).parts
        )
        and "TEMPLATE" in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert sorted(marked) == [
        "README.md",
        "pyproject.toml",
        "src/anyftp_example_plugin/__init__.py",
        "tests/test_example_plugin.py",
    ]
