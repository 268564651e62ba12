"""Smoke run of the benchmark suite (bench/run.py --smoke), so CI keeps it working.

This is not a timed assertion: it checks that every line is measured for every server
that can run here, that the loopback limit and the client lines are there, and that the
report carries the ratios. The figures themselves are not judged.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "bench" / "run.py"
SERVER_LINES = (
    "stor",
    "retr",
    "login",
    "stor_idle",
    "retr_idle",
    "retr_many",
    "stor_many",
    "quit",
    "mlsd",
    "rss_retr_many",
    "rss_stor_many",
)
pytestmark = pytest.mark.timeout(180)


def _importable(module: str, attribute: str | None = None) -> bool:
    try:
        loaded = importlib.import_module(module)
        if attribute is not None:
            getattr(loaded, attribute)
    except Exception:
        return False
    return True


def _anyftp_server_ready() -> bool:
    return _importable("anyftp.server", "Server") and _importable("anyftp_local")


def _servers() -> list[str]:
    servers = []
    if _anyftp_server_ready():
        servers += ["anyftp-local", "anyftp-memory"]
    if importlib.util.find_spec("pyftpdlib") is not None:
        servers.append("pyftpdlib")
    if importlib.util.find_spec("aioftp") is not None:
        servers.append("aioftp")
    return servers


def _clients() -> list[str]:
    clients = ["ftplib"]
    if _importable("anyftp.client", "Client"):
        clients.append("anyftp")
    if importlib.util.find_spec("aioftp") is not None:
        clients.append("aioftp")
    return clients


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    servers = _servers()
    if not servers:
        pytest.skip("no FTP server to benchmark is installed (pyftpdlib, aioftp, anyftp)")
    out = tmp_path_factory.mktemp("bench")
    command = [
        sys.executable,
        str(RUN),
        "--smoke",
        "--servers",
        ",".join(servers),
        "--client-libraries",
        ",".join(_clients()),
        "--client-server",
        servers[0],
        "--client-repeat",
        "2",
        "--json",
        str(out / "result.json"),
        "--markdown",
        str(out / "result.md"),
        "--workdir",
        str(out / "work"),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=150, cwd=REPO)
    return {
        "servers": servers,
        "returncode": completed.returncode,
        "stderr": completed.stderr,
        "stdout": completed.stdout,
        "json": json.loads((out / "result.json").read_text())
        if (out / "result.json").exists()
        else None,
        "markdown": (out / "result.md").read_text() if (out / "result.md").exists() else "",
    }


def test_smoke_run_exits_cleanly(smoke_run: dict[str, Any]) -> None:
    assert smoke_run["returncode"] == 0, smoke_run["stderr"][-3000:]


def test_every_line_is_measured_for_every_server(smoke_run: dict[str, Any]) -> None:
    result = smoke_run["json"]
    assert result is not None, smoke_run["stderr"][-3000:]
    for server in smoke_run["servers"]:
        info = result["servers"][server]
        assert info["error"] is None, f"{server}: {info['error']}"
        missing = [key for key in SERVER_LINES if key not in info["median"]]
        assert not missing, f"{server} lacks {missing}"
        assert all(info["median"][key] > 0 for key in SERVER_LINES), info["median"]
        cpu = [key for key in info["median"] if key.startswith("cpu_")]
        assert len(cpu) == len(SERVER_LINES) - 2, cpu  # every timed line, not the RSS ones


def test_loopback_limit_is_measured_both_ways(smoke_run: dict[str, Any]) -> None:
    limit = smoke_run["json"]["limit"]["median"]
    assert limit["download"] > 0
    assert limit["upload"] > 0


def test_client_lines_cover_each_client_library(smoke_run: dict[str, Any]) -> None:
    clients = smoke_run["json"]["clients"]
    assert clients["errors"] == {}
    for name in _clients():
        assert clients["median"][name]["download"] > 0
        assert clients["median"][name]["upload"] > 0


def test_client_rounds_rotate_the_order_of_the_libraries(smoke_run: dict[str, Any]) -> None:
    clients = smoke_run["json"]["clients"]
    names = _clients()
    assert clients["order"] == [names, names[1:] + names[:1]]
    for name in names:
        assert len(clients["samples"][name]["download"]) == 2
        assert len(clients["samples"][name]["upload"]) == 2


def test_repeat_options_set_the_rounds_of_each_kind_of_line() -> None:
    spec = importlib.util.spec_from_file_location("bench_run", RUN)
    assert spec is not None and spec.loader is not None
    sys.path.insert(0, str(RUN.parent))
    try:
        run = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(run)
        default = run.build_config(run.parse_args([]))
        assert (default.repeat, default.short_repeat, default.client_repeat) == (5, 9, 9)
        both = run.build_config(run.parse_args(["--repeat", "3"]))
        assert (both.repeat, both.client_repeat) == (3, 3)
        own = run.build_config(run.parse_args(["--repeat", "3", "--client-repeat", "7"]))
        assert (own.repeat, own.client_repeat) == (3, 7)
        smoke = run.build_config(run.parse_args(["--smoke"]))
        assert (smoke.repeat, smoke.short_repeat, smoke.client_repeat) == (1, 2, 1)
    finally:
        sys.path.remove(str(RUN.parent))


def test_markdown_report_shows_machine_and_table(smoke_run: dict[str, Any]) -> None:
    markdown = smoke_run["markdown"]
    assert markdown.startswith("Machine: ")
    assert "| line | loopback limit |" in markdown
    for server in smoke_run["servers"]:
        assert server in markdown
    assert markdown == smoke_run["stdout"].strip() + "\n"


@pytest.mark.skipif(not _anyftp_server_ready(), reason="anyftp.Server is not written yet")
def test_report_gives_anyftp_to_peer_ratios(smoke_run: dict[str, Any]) -> None:
    result = smoke_run["json"]
    assert result["primary"] == "anyftp-local"
    header = smoke_run["markdown"].split("| line |", 1)[1].splitlines()[0]
    for peer in ("pyftpdlib", "aioftp"):
        if peer in smoke_run["servers"]:
            assert f"anyftp-local ÷ {peer}" in header
