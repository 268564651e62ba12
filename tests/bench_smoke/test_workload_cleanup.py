"""The benchmark's round leaves the server root as it found it, and removes the 200
uploads as soon as their line is measured (untimed), so their dirty pages are dropped
rather than written back to disk while the other servers' lines run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import anyftp

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from config import BenchConfig
from workload import Target, make_sources, prepare_disk_root, round_steps

pytestmark = pytest.mark.timeout(60)


async def test_uploads_are_gone_once_their_line_is_measured(tmp_path: Path) -> None:
    config = BenchConfig.smoke()
    sources = make_sources(tmp_path / "sources", config)
    root = tmp_path / "root"
    prepare_disk_root(root, sources, config)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    server = anyftp.Server([anyftp.User("bench", "bench", base_path=root)], socket_timeout=30)
    await server.start("127.0.0.1", 0)
    try:
        results: dict[str, float] = {}
        seen = []
        steps = round_steps(Target("127.0.0.1", server.server_port), sources, config, results)
        async for line in steps:
            seen.append(line)
            if line == "stor_many":
                assert results["stor_many"] > 0
                assert not list(root.glob("up-*.bin"))
    finally:
        server.close()
        await server.wait_closed()
    assert "stor_many" in seen and "quit" in seen
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
