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


async def test_each_line_starts_after_earlier_writes_are_settled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before every timed line the machine is settled (untimed), with the previous line's
    result already in; before a line that writes, with the bytes it is about to write."""
    import workload

    config = BenchConfig.smoke()
    sources = make_sources(tmp_path / "sources", config)
    root = tmp_path / "root"
    prepare_disk_root(root, sources, config)
    results: dict[str, float] = {}
    settled: list[tuple[set[str], int]] = []
    real_settle = workload.settle

    def recording_settle(scratch: Path, write_bytes: int = 0) -> None:
        settled.append((set(results), write_bytes))
        real_settle(scratch, write_bytes)

    monkeypatch.setattr(workload, "settle", recording_settle)
    server = anyftp.Server([anyftp.User("bench", "bench", base_path=root)], socket_timeout=30)
    await server.start("127.0.0.1", 0)
    try:
        target = Target("127.0.0.1", server.server_port)
        lines = [line async for line in round_steps(target, sources, config, results)]
    finally:
        server.close()
        await server.wait_closed()
    assert len(settled) >= len(lines)
    assert settled[0] == (set(), config.big_size)  # the first STOR
    writes = {
        after: size
        for before, after in (
            ("stor", "retr"),
            ("stor_idle", "retr_idle"),
            ("retr_many", "stor_many"),
        )
        for done, size in settled
        if before in done and after not in done
    }
    assert writes == {"retr": 0, "retr_idle": 0, "stor_many": config.clients * config.small_size}
    assert sorted(p.name for p in sources.big.parent.iterdir()) == sorted(
        p.name for p in (sources.big, sources.small, sources.empty)
    )


def test_settle_writes_its_scratch_file_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import workload

    sizes: list[int] = []
    real_unlink = Path.unlink

    def measuring_unlink(path: Path, missing_ok: bool = False) -> None:
        sizes.append(path.stat().st_size)
        real_unlink(path, missing_ok)

    monkeypatch.setattr(Path, "unlink", measuring_unlink)
    wanted = 3 * 1024 * 1024 + 5
    workload.settle(tmp_path / "big.bin", wanted)
    workload.settle(tmp_path / "big.bin")  # nothing to write: sync only
    assert sizes == [wanted + wanted // 8]
    assert list(tmp_path.iterdir()) == []
