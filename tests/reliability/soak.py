"""The soak run: the load test's workload, round after round, for a long time.

Run it by hand from the repository root (it starts its own ``anyftp serve`` process)::

    python -m tests.reliability.soak --duration 600 --backend local --sessions 100

Each round runs ``--sessions`` concurrent sessions (uploads, listing, a download, a rename),
then downloads every file they left and compares sha256, then waits until the server's open
descriptors are back to their level before any session. It fails (exit status 1) as soon
as a session gets an unexpected reply, a file differs, descriptors do not come back, the
server's resident memory grows past ``--rss-growth`` over its highest level in the
``--warmup`` rounds, or the server process dies; otherwise it prints a summary and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from .harness import CliServer, wait_for
from .workload import run_round, verify

MiB = 1024 * 1024


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.soak", description=__doc__)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds (default 600)")
    parser.add_argument("--backend", default="local", help="local, threadpool or memory")
    parser.add_argument("--sessions", type=int, default=100, help="concurrent sessions per round")
    parser.add_argument("--files", type=int, default=3, help="files each session uploads")
    parser.add_argument("--max-size", type=int, default=256 * 1024, help="largest file (bytes)")
    parser.add_argument(
        "--warmup", type=int, default=3, help="rounds that set the memory level (default 3)"
    )
    parser.add_argument(
        "--rss-growth",
        type=float,
        default=0.2,
        help="allowed growth of resident memory over the highest warm-up level (default 0.2)",
    )
    return parser.parse_args(argv)


def fail(message: str) -> int:
    print(f"soak: FAILED: {message}", flush=True)
    return 1


def soak(args: argparse.Namespace, workdir: Path) -> int:
    root = workdir / "root"
    root.mkdir()
    local = args.backend in ("local", "threadpool")
    server = CliServer(
        [
            "--backend",
            args.backend,
            "--root",
            str(root) if local else "/",
            "--write",
            "--max-connections",
            str(args.sessions * 4 + 64),
            "--max-connections-per-ip",
            str(args.sessions * 4 + 64),
            "--login-failure-delay",
            "0",
        ],
        workdir,
        workdir / "server.log",
    )
    try:
        descriptors = server.fds()
        print(
            f"soak: {args.backend} backend, {args.sessions} sessions per round, "
            f"{args.duration:.0f} s; server pid {server.pid}, {descriptors} descriptors",
            flush=True,
        )
        started = time.monotonic()
        warm_rss = 0
        rounds = sessions = files = 0
        while rounds == 0 or time.monotonic() - started < args.duration:
            result = asyncio.run(
                run_round(
                    server.host,
                    server.port,
                    args.sessions,
                    seed=rounds,
                    files=args.files,
                    max_size=args.max_size,
                    timeout=max(120.0, args.sessions * 2.0),
                )
            )
            if result.errors:
                return fail(
                    f"round {rounds}: {len(result.errors)} sessions failed: "
                    f"{[str(e) for e in result.errors[:3]]}"
                )
            wrong = asyncio.run(verify(server.host, server.port, result.files))
            if wrong:
                return fail(f"round {rounds}: {len(wrong)} files differ, e.g. {wrong[:3]}")
            try:
                wait_for(lambda: server.fds() == descriptors, timeout=15)
            except AssertionError:
                return fail(
                    f"round {rounds}: {server.fds()} descriptors open, {descriptors} before"
                )
            if server.proc.poll() is not None:
                return fail(f"the server exited with status {server.proc.returncode}")
            rss = server.rss()
            if rounds < args.warmup:
                warm_rss = max(warm_rss, rss)
            elif rss > warm_rss * (1 + args.rss_growth) + 8 * MiB:
                return fail(
                    f"round {rounds}: resident memory {rss / MiB:.1f} MiB, "
                    f"{warm_rss / MiB:.1f} MiB after the warm-up rounds"
                )
            rounds += 1
            sessions += args.sessions
            files += len(result.files)
            print(
                f"soak: round {rounds:4d}  {result.seconds:6.1f} s  rss {rss / MiB:7.1f} MiB  "
                f"fds {descriptors}  elapsed {time.monotonic() - started:7.0f} s",
                flush=True,
            )
        leftovers = [p for p in root.rglob("*.anyftp-part")] if local else []
        if leftovers:
            return fail(f"unfinished uploads left on disk: {leftovers[:3]}")
        print(f"soak: OK: {rounds} rounds, {sessions} sessions, {files} files verified", flush=True)
        return 0
    finally:
        server.close()
        if server.proc.returncode not in (0, None, -9):
            print(server.log(), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    with tempfile.TemporaryDirectory(prefix="anyftp-soak-") as workdir:
        return soak(args, Path(workdir))


if __name__ == "__main__":
    sys.exit(main())
