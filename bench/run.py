"""Run the anyftp benchmark suite: ``python bench/run.py [--smoke] [options]``.

Starts every selected server kind on loopback, each in its own subprocess pinned to the
server CPU, plus a plain-socket reference for the loopback limit. This process is the
load generator (pinned to the other CPUs): round by round, interleaved across servers,
it runs the same ftpbench-like workload against each, then measures the client libraries
against one server. It prints medians with anyftp ÷ peer ratios as Markdown, keeps the
latest run in ``bench/results/`` and writes ``--json``/``--markdown`` files on request.
Exit status 0 when every selected server and client was measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import importlib.util
import inspect
import json
import os
import resource
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TypeVar

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import limit  # noqa: E402
from clients import CLIENTS, available_clients, measure_client  # noqa: E402
from config import BenchConfig, MiB, client_lines, lines  # noqa: E402
from profiling import LineProfiler, py_spy_available, summarize  # noqa: E402
from report import machine_info, primary_server, render_markdown  # noqa: E402
from servers import (  # noqa: E402
    KINDS,
    PLAIN,
    CpuProbe,
    RssProbe,
    ServerKind,
    ServerProcess,
    ServerStartError,
    split_cpus,
)
from workload import (  # noqa: E402
    BIG_NAME,
    LineProbe,
    SourceFiles,
    Target,
    make_sources,
    median,
    prepare_disk_root,
    prepare_over_ftp,
    round_steps,
    settle,
)

T = TypeVar("T")
RESULTS = HERE / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--servers",
        default=",".join(KINDS),
        help=f"comma separated, from: {', '.join(KINDS)} (default: all)",
    )
    parser.add_argument("--repeat", type=int, help="rounds per server (default 5)")
    parser.add_argument(
        "--client-repeat",
        type=int,
        help="rounds of the client lines (default 9; --repeat sets it too unless given)",
    )
    parser.add_argument("--size", type=int, help="large file size in MiB (default 512)")
    parser.add_argument("--small-size", type=float, help="per-client file size in MiB (default 10)")
    parser.add_argument("--clients", type=int, help="concurrent clients (default 200)")
    parser.add_argument(
        "--listing-files", type=int, help="files in the MLSD directory (default 10000)"
    )
    parser.add_argument("--timeout", type=float, help="bound on one measurement, seconds")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny configuration that runs every line in seconds"
    )
    parser.add_argument(
        "--lines",
        default="",
        help="comma separated line keys to measure (default: all), e.g. stor_many,mlsd",
    )
    parser.add_argument("--markdown", type=Path, help="write the table to this file")
    parser.add_argument("--json", type=Path, help="write all samples and medians here")
    parser.add_argument(
        "--client-server",
        default=None,
        help="server the client libraries are measured against "
        "(default: anyftp-local when selected, else pyftpdlib)",
    )
    parser.add_argument(
        "--client-libraries",
        default=",".join(CLIENTS),
        help="comma separated, from: anyftp, ftplib, aioftp; empty to skip the client lines",
    )
    parser.add_argument(
        "--no-limit", action="store_true", help="skip the loopback-limit measurement"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin CPUs")
    parser.add_argument(
        "--anyftp-loop",
        default="asyncio",
        choices=["asyncio", "uvloop", "auto"],
        help="event loop of the anyftp servers (default asyncio, as `anyftp serve` runs; "
        "auto: uvloop when installed)",
    )
    parser.add_argument(
        "--anyftp-option",
        action="append",
        default=[],
        metavar="KEY=LITERAL",
        help="extra anyftp.Server keyword for the anyftp servers (repeatable), "
        "e.g. block_size=65536",
    )
    parser.add_argument(
        "--s3",
        choices=["auto", "yes", "no"],
        default="auto",
        help="run bench/s3_bench.py too (auto: when it exists, in a full run)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="record each line of each server with py-spy into DIR "
        "and write DIR/SUMMARY.txt (slows them: not for the table)",
    )
    parser.add_argument("--workdir", type=Path, help="scratch directory (default: a temp dir)")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> BenchConfig:
    base = BenchConfig.smoke() if args.smoke else BenchConfig()
    changes: dict[str, Any] = {}
    if args.repeat is not None:
        changes["repeat"] = changes["client_repeat"] = args.repeat
    if args.client_repeat is not None:
        changes["client_repeat"] = args.client_repeat
    if args.size is not None:
        changes["big_size"] = args.size * MiB
    if args.small_size is not None:
        changes["small_size"] = int(args.small_size * MiB)
    if args.clients is not None:
        changes["clients"] = args.clients
    if args.listing_files is not None:
        changes["listing_files"] = args.listing_files
    if args.timeout is not None:
        changes["line_timeout"] = args.timeout
    return BenchConfig(**{**base.as_dict(), **changes})


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


class Contender:
    """One server kind under test during the run: its process, root and results."""

    def __init__(self, kind: ServerKind, work: Path) -> None:
        self.kind = kind
        self.root = work / kind.name
        self.log = work / f"{kind.name}.log"
        self.server: ServerProcess | None = None
        self.info: dict[str, Any] = {"ours": kind.ours, "samples": {}, "error": None, "facts": {}}

    @property
    def alive(self) -> bool:
        return self.server is not None and self.info["error"] is None

    def target(self) -> Target:
        assert self.server is not None
        return Target("127.0.0.1", self.server.port)

    def start(
        self,
        stack: contextlib.ExitStack,
        sources: SourceFiles,
        config: BenchConfig,
        cpus: set[int],
        anyftp_arguments: tuple[str, ...],
    ) -> None:
        """Start the server and put the fixtures in its root; record why if it can not."""
        if self.kind.disk_root:
            prepare_disk_root(self.root, sources, config)
        else:
            self.root.mkdir(parents=True, exist_ok=True)
        stack.callback(shutil.rmtree, self.root, True)
        extra = anyftp_arguments if self.kind.launcher == "anyftp_server.py" else ()
        try:
            self.server = stack.enter_context(
                ServerProcess(self.kind, self.root, self.log, cpus, extra)
            )
        except ServerStartError as exc:
            self.info["error"] = f"did not start: {str(exc).splitlines()[0]}"
            progress(str(exc))
            return
        self.info["facts"] = self.server.facts
        if not self.kind.disk_root:
            progress(f"{self.kind.name}: uploading fixtures over FTP")
            self.attempt("fixtures", prepare_over_ftp(self.target(), sources, config))

    def attempt(self, what: str, coroutine: Any) -> Any:
        """Run *coroutine*; on failure record the error (the run goes on) and return None."""
        try:
            return asyncio.run(coroutine)
        except Exception as exc:
            self.fail(what, exc)
            return None

    def probes(self, index: int, profile: Path | None) -> LineProbe:
        """What watches this server during round *index*: memory, CPU, generator, py-spy."""
        assert self.server is not None
        probes: list[LineProbe] = [
            RssProbe(self.server.pid),
            CpuProbe(self.server.pid),
            GeneratorProbe(),
        ]
        if profile is not None:
            profiler = LineProfiler(self.server.pid, profile, self.kind.name)
            profiler.round = index + 1
            probes.append(profiler)
        return Probes(probes)

    def fail(self, what: str, exc: BaseException) -> None:
        self.info["error"] = f"{what}: {type(exc).__name__}: {exc}"
        tail = self.server.log_tail(10) if self.server else ""
        progress(f"{self.kind.name}: FAILED {self.info['error']}\n{tail}")

    def record(self, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.info["samples"].setdefault(key, []).append(value)

    def finish(self) -> dict[str, Any]:
        self.info["median"] = {k: median(v) for k, v in self.info["samples"].items()}
        return self.info


class GeneratorProbe:
    """How busy the load generator (this process) was during a line: CPU ÷ wall time.

    Near 1.0 would mean the generator, not the server, set the pace of that line.
    """

    def __init__(self) -> None:
        self._cpu = self._wall = 0.0

    def begin(self, key: str) -> None:
        self._cpu, self._wall = time.process_time(), time.perf_counter()

    def end(self, key: str) -> dict[str, float]:
        wall = time.perf_counter() - self._wall
        if wall < 0.2:  # too short for the process clock to say anything
            return {}
        return {f"generator_busy_{key}": (time.process_time() - self._cpu) / wall}


class Probes:
    """Several line probes as one."""

    def __init__(self, probes: list[LineProbe]) -> None:
        self.probes = probes

    def begin(self, key: str) -> None:
        for probe in self.probes:
            probe.begin(key)

    def end(self, key: str) -> dict[str, float]:
        values: dict[str, float] = {}
        for probe in self.probes:
            values.update(probe.end(key))
        return values


def write_profile_summary(directory: Path) -> None:
    summary = [summarize(path) for path in sorted(directory.glob("*-r*.txt"))]
    (directory / "SUMMARY.txt").write_text("\n".join(summary))
    progress(f"profiles and summary in {directory}")


def rotated(items: list[T], index: int) -> list[T]:
    """*items* in the order of round *index*: each round starts one further along."""
    shift = index % len(items) if items else 0
    return items[shift:] + items[:shift]


async def lockstep_round(
    contenders: list[Contender],
    index: int,
    sources: SourceFiles,
    config: BenchConfig,
    profile: Path | None,
    only: frozenset[str] | None,
) -> None:
    """One round, line by line: each line is measured on every server before the next.

    Servers take turns in an order rotated every round, so a burst of other work on the
    machine lands on one line of every server rather than on one server's whole round.
    """
    alive = [c for c in contenders if c.alive]
    order = rotated(alive, index)
    results: dict[str, dict[str, float]] = {c.kind.name: {} for c in order}
    steps = {
        c.kind.name: round_steps(
            c.target(), sources, config, results[c.kind.name], c.probes(index, profile), only
        )
        for c in order
    }
    active = list(order)
    try:
        while active:
            for contender in list(active):
                try:
                    async with asyncio.timeout(config.line_timeout * 2):
                        line = await anext(steps[contender.kind.name])
                    progress(f"round {index + 1}/{config.repeat}: {contender.kind.name} {line}")
                except StopAsyncIteration:
                    active.remove(contender)
                except Exception as exc:
                    contender.fail(f"round {index + 1}", exc)
                    active.remove(contender)
    finally:
        for step in steps.values():
            with contextlib.suppress(Exception):
                await step.aclose()
    for contender in order:
        if contender.alive:
            contender.record(results[contender.kind.name])


def measure_limit_round(
    port: int, sources: SourceFiles, config: BenchConfig, samples: dict[str, list[float]]
) -> None:
    async def both() -> None:
        samples["download"].append(
            await limit.measure_download("127.0.0.1", port, sources, config.line_timeout)
        )
        samples["upload"].append(
            await limit.measure_upload("127.0.0.1", port, sources, config.line_timeout)
        )

    asyncio.run(both())


def measure_clients(
    kind: ServerKind,
    target: Target,
    sources: SourceFiles,
    config: BenchConfig,
    libraries: list[str],
    profile: Path | None = None,
) -> dict[str, Any]:
    """Each client library downloads and uploads the large file, rounds interleaved."""
    status = available_clients()
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in libraries}
    errors: dict[str, str] = {name: status.get(name, "unknown client") for name in libraries}

    async def upload_fixture() -> None:
        session = await target.session()
        await session.stor(BIG_NAME, sources.big)
        await session.quit()

    asyncio.run(upload_fixture())
    rounds = config.client_repeat
    orders: list[list[str]] = []
    for index in range(rounds):
        # Rotated every round, as the servers are: no client always follows the same one.
        order = rotated(libraries, index)
        orders.append(order)
        for name in order:
            if errors[name]:
                continue
            progress(f"clients against {kind.name}: {name}, round {index + 1}/{rounds}")
            try:
                for direction in ("download", "upload"):
                    # Untimed: as before every server line (see workload.settle).
                    settle(sources.big, config.big_size if direction == "upload" else 0)
                    # The client runs in this process: profile ourselves.
                    profiler = (
                        LineProfiler(os.getpid(), profile, f"client-{name}")
                        if profile is not None
                        else None
                    )
                    if profiler is not None:
                        profiler.round = index + 1
                        profiler.begin(direction)
                    try:
                        value = measure_client(
                            name, direction, target, BIG_NAME, sources.big, config
                        )
                    finally:
                        if profiler is not None:
                            profiler.end(direction)
                    samples[name].setdefault(direction, []).append(value)
            except Exception as exc:
                errors[name] = f"{type(exc).__name__}: {exc}"
                progress(f"client {name}: FAILED {errors[name]}")
    return {
        "server": kind.name,
        "order": orders,
        "samples": samples,
        "median": {
            name: {d: median(v) for d, v in s.items()}
            for name, s in samples.items()
            if not errors[name]
        },
        "errors": {name: error for name, error in errors.items() if error},
    }


def run_s3(args: argparse.Namespace, config: BenchConfig) -> dict[str, Any] | None:
    """Call ``bench/s3_bench.py``'s ``run()`` when it exists (written with the S3 backend)."""
    path = HERE / "s3_bench.py"
    full_run = not args.smoke and not args.lines and args.servers == ",".join(KINDS)
    wanted = args.s3 == "yes" or (args.s3 == "auto" and full_run)
    if not wanted or not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("s3_bench", path)
    if spec is None or spec.loader is None:
        return {"error": "s3_bench.py could not be loaded"}
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        options = {
            "smoke": args.smoke,
            "repeat": config.repeat,
            "timeout": config.line_timeout,
        }
        parameters = inspect.signature(module.run).parameters
        result = module.run(**{k: v for k, v in options.items() if k in parameters})
        if inspect.isawaitable(result):
            result = asyncio.run(result)  # type: ignore[arg-type]
        return dict(result)
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = build_config(args)
    names = [name.strip() for name in args.servers.split(",") if name.strip()]
    unknown = [name for name in names if name not in KINDS]
    if unknown:
        print(f"unknown servers: {', '.join(unknown)}; known: {', '.join(KINDS)}", file=sys.stderr)
        return 2
    if args.profile is not None and not py_spy_available():
        print("--profile needs py-spy (pip install py-spy)", file=sys.stderr)
        return 2
    only = frozenset(key.strip() for key in args.lines.split(",") if key.strip()) or None
    known = {line.key for line in lines(config)}
    if only is not None and not only <= known:
        print(
            f"unknown lines: {', '.join(sorted(only - known))}; known: {', '.join(known)}",
            file=sys.stderr,
        )
        return 2
    libraries = [c.strip() for c in args.client_libraries.split(",") if c.strip()]
    client_server = args.client_server or (
        "anyftp-local" if "anyftp-local" in names else "pyftpdlib"
    )
    server_cpus, generator_cpus = split_cpus(not args.no_pin)
    if generator_cpus:
        os.sched_setaffinity(0, generator_cpus)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    work = args.workdir or Path(tempfile.mkdtemp(prefix="anyftp-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python", "bench/run.py", *(argv or sys.argv[1:])]),
        "machine": machine_info(),
        "config": config.as_dict(),
        "pinning": {
            "server": ",".join(map(str, sorted(server_cpus))),
            "generator": ",".join(map(str, sorted(generator_cpus))),
        },
        "servers": {},
    }
    anyftp_arguments: tuple[str, ...] = ("--loop", args.anyftp_loop)
    for option in args.anyftp_option:
        anyftp_arguments += ("--option", option)
    contenders = [Contender(KINDS[name], work) for name in names]
    limit_samples: dict[str, list[float]] = {"download": [], "upload": []}
    try:
        with contextlib.ExitStack() as stack:
            progress(f"writing source files in {work}")
            sources = make_sources(work / "src", config)
            plain = None
            if not args.no_limit:
                plain = stack.enter_context(
                    ServerProcess(PLAIN, sources.big.parent, work / "plain.log", server_cpus)
                )
            for contender in contenders:
                progress(f"{contender.kind.name}: starting")
                contender.start(stack, sources, config, server_cpus, anyftp_arguments)
            for index in range(config.repeat):
                if plain is not None:
                    progress(f"loopback limit: round {index + 1}/{config.repeat}")
                    measure_limit_round(plain.port, sources, config, limit_samples)
                asyncio.run(lockstep_round(contenders, index, sources, config, args.profile, only))
            for contender in contenders:
                if contender.kind.name == client_server and contender.alive and libraries:
                    result["clients"] = measure_clients(
                        contender.kind,
                        contender.target(),
                        sources,
                        config,
                        libraries,
                        args.profile,
                    )
        s3 = run_s3(args, config)
        if s3 is not None:
            result["s3"] = s3
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.profile is not None:
        write_profile_summary(args.profile)
    if limit_samples["download"]:
        result["limit"] = {
            "samples": limit_samples,
            "median": {k: median(v) for k, v in limit_samples.items()},
            "best": {k: max(v) for k, v in limit_samples.items()},
        }
    for contender in contenders:
        result["servers"][contender.kind.name] = contender.finish()

    result["primary"] = primary_server(result["servers"], {n for n in names if KINDS[n].ours})
    server_lines, the_client_lines = lines(config), client_lines(config)
    markdown = render_markdown(result, server_lines, the_client_lines)
    print(markdown)
    RESULTS.mkdir(exist_ok=True)
    outputs = [
        (RESULTS / "latest.md", markdown),
        (RESULTS / "latest.json", json.dumps(result, indent=2)),
    ]
    if args.markdown:
        outputs.append((args.markdown, markdown))
    if args.json:
        outputs.append((args.json, json.dumps(result, indent=2)))
    for path, text in outputs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    failed = [n for n, info in result["servers"].items() if info.get("error")]
    if libraries and client_server in names:
        failed += list(result.get("clients", {}).get("errors", {}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
