"""Smoke run of bench/instructions.py (instructions per session under valgrind).

A small configuration (ten sessions, one and three rounds, the connect phase, anyftp only)
so CI keeps the tool working; the count itself is not judged beyond being a positive
number of instructions. Smaller is not steady: the count is the difference of two runs,
and the connections that wake a server under valgrind for its shutdown add a few
sessions' worth to either run, so with three sessions and one and two rounds the figure
came out anywhere from -48,421 to 416,087. With twenty sessions of difference it was
163,804-200,334 in four runs. Needs valgrind (``.ci/run`` installs it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "bench" / "instructions.py"

pytestmark = pytest.mark.timeout(300)


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_counts_instructions_per_session_of_a_server() -> None:
    pytest.importorskip("anyftp_local")
    result = subprocess.run(
        [
            sys.executable,
            str(TOOL),
            "--servers",
            "anyftp-local",
            "--clients",
            "10",
            "--rounds",
            "1,3",
            "--phases",
            "connect",
        ],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    row = re.search(r"^\| connect \| ([\d,]+) \|$", result.stdout, re.MULTILINE)
    assert row is not None, result.stdout
    assert int(row.group(1).replace(",", "")) > 1000


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--rounds", "3,2", "--rounds"),
        ("--rounds", "two", "--rounds"),
        ("--servers", "vsftpd", "unknown servers"),
        ("--phases", "retr", "unknown phase"),
    ],
)
def test_refuses_bad_options_with_a_message(option: str, value: str, said: str) -> None:
    result = subprocess.run(
        [sys.executable, str(TOOL), option, value],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert said in result.stderr
