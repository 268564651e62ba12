"""Count the instructions each server runs per FTP session, under valgrind.

``python bench/instructions.py [--servers anyftp-local,pyftpdlib] [--clients 200]``

Wall and CPU time of the short lines (200 logins, 200 QUITs) move by 10-30 % from one
run to the next on a shared machine, more than the differences worth chasing there.
The number of user-space instructions a server executes for the same work does not:
run under valgrind's cachegrind (``--cache-sim=no``: counting only), a server gives the
same count within about half a percent, run after run, whatever else the machine does.

Each server kind of the benchmark is started by its own launcher, as in ``run.py``, but
under valgrind. The load generator opens ``--clients`` sessions at once and takes each
through the steps of a phase (see :data:`PHASES`), then QUIT; that is one round. The
server runs ``--rounds`` A and then B rounds in two processes, and the difference of the
two totals, divided by the extra sessions, is the count per session without start-up
and shut-down. Kernel work (system calls, TCP) is not counted: this shows what the
interpreter does for a server, not what the machine does.

Phases: ``login`` (connect, USER, PASS, QUIT: the login and QUIT lines of the
benchmark), ``connect`` (connect and QUIT only), ``command`` (a logged-in session's
TYPE I, counted as ``login`` + TYPE minus ``login``). Needs ``valgrind`` on the PATH;
valgrind slows the server about fifty times, so each count takes a minute or so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ftpload import FtpSession
from servers import KINDS, ServerKind, ServerProcess

#: The commands a session sends after connecting, by phase (then QUIT).
PHASES: dict[str, tuple[tuple[str, str], ...]] = {
    "connect": (),
    "login": (("USER bench", "3"), ("PASS bench", "2")),
    "login+type": (("USER bench", "3"), ("PASS bench", "2"), ("TYPE I", "2")),
}
#: Phases reported as the difference of two others.
DIFFERENCES = {"command": ("login+type", "login")}

_TOTAL = re.compile(rb"^summary:\s+(\d+)", re.MULTILINE)


async def drive(port: int, clients: int, rounds: int, steps: tuple[tuple[str, str], ...]) -> None:
    """*rounds* times: *clients* sessions connect at once, send *steps*, then QUIT."""
    for _ in range(rounds):
        async with asyncio.timeout(600):
            sessions = await asyncio.gather(
                *[FtpSession.connect("127.0.0.1", port) for _ in range(clients)]
            )
            try:
                for line, accepted in steps:
                    await asyncio.gather(*[session.command(line, accepted) for session in sessions])
                await asyncio.gather(*[session.quit() for session in sessions])
            finally:
                for session in sessions:
                    session.close()


def count(kind: ServerKind, work: Path, phase: str, clients: int, rounds: int) -> int:
    """Instructions the server ran in total for *rounds* rounds of *phase* (tried twice:
    a server that does not end on SIGTERM within the bound leaves no count)."""
    try:
        return _count_once(kind, work, phase, clients, rounds)
    except RuntimeError as exc:
        print(f"{exc}\ntrying once more", file=sys.stderr)
        return _count_once(kind, work, phase, clients, rounds)


def _count_once(kind: ServerKind, work: Path, phase: str, clients: int, rounds: int) -> int:
    root = work / f"root-{kind.name}"
    root.mkdir(exist_ok=True)
    out = work / f"{kind.name}-{phase}-{rounds}.cachegrind"
    prefix = ("valgrind", "--tool=cachegrind", "--cache-sim=no", f"--cachegrind-out-file={out}")
    server = ServerProcess(
        kind, root, work / f"{kind.name}.log", start_timeout=300.0, prefix=prefix
    )
    with server:
        asyncio.run(drive(server.port, clients, rounds, PHASES[phase]))
        end(server)
    found = _TOTAL.search(out.read_bytes()) if out.exists() else None
    if found is None:
        raise RuntimeError(f"{kind.name}: no instruction count in {out}\n{server.log_tail()}")
    return int(found.group(1))


def end(server: ServerProcess, bound: float = 300.0) -> None:
    """SIGTERM, and wait (bounded) until the server has exited and valgrind has written
    its count. Under valgrind a signal does not always interrupt a server's wait in
    ``epoll_wait``: a connection opened and closed now and then wakes it up."""
    process = server.process
    assert process is not None
    process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + bound
    while process.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(0.5)
    server.stop(timeout=5)  # kills it if it is still there


def per_session(
    kind: ServerKind, work: Path, phase: str, clients: int, rounds: tuple[int, int]
) -> float:
    few, many = (count(kind, work, phase, clients, n) for n in rounds)
    return (many - few) / ((rounds[1] - rounds[0]) * clients)


def measure_phases(
    kind: ServerKind, work: Path, phases: list[str], clients: int, rounds: tuple[int, int]
) -> dict[str, float]:
    """Instructions per session of *kind* for each of *phases* (and of the phases a
    difference needs), each phase counted once."""
    measured: dict[str, float] = {}

    def measure(phase: str) -> float:
        if phase not in measured:
            if phase in DIFFERENCES:
                first, second = DIFFERENCES[phase]
                measured[phase] = measure(first) - measure(second)
            else:
                measured[phase] = per_session(kind, work, phase, clients, rounds)
        return measured[phase]

    for phase in phases:
        measure(phase)
    return measured


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default="anyftp-local,pyftpdlib")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rounds", default="2,6", help="the two round counts A,B (default 2,6)")
    parser.add_argument(
        "--phases", default="connect,login,command", help="from: connect, login, command"
    )
    args = parser.parse_args(argv)
    try:
        few, many = (int(n) for n in args.rounds.split(","))
    except ValueError:
        few = many = 0
    if not 0 < few < many:
        parser.error("--rounds needs two counts, the first smaller, e.g. 2,6")
    unknown = [name for name in args.servers.split(",") if name not in KINDS]
    if unknown:
        parser.error(f"unknown servers {unknown}; from: {', '.join(KINDS)}")
    kinds = [KINDS[name] for name in args.servers.split(",")]
    phases = args.phases.split(",")
    for phase in phases:
        if phase not in PHASES and phase not in DIFFERENCES:
            parser.error(f"unknown phase {phase!r}")
    if args.clients < 1:
        parser.error("--clients must be at least 1")
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="anyftp-instructions-") as scratch:
        work = Path(scratch)
        for kind in kinds:
            measured = measure_phases(kind, work, phases, args.clients, (few, many))
            results[kind.name] = measured
            print(
                f"{kind.name}: " + ", ".join(f"{phase} {measured[phase]:,.0f}" for phase in phases),
                file=sys.stderr,
            )
    names = list(results)
    # Ratios against the last server named (pyftpdlib by default).
    headers = ["phase", *names, *(f"{name} ÷ {names[-1]}" for name in names[:-1])]
    print(f"Instructions per session (valgrind, {args.clients} concurrent, user space)\n")
    print("| " + " | ".join(headers) + " |")
    print("|---|" + "--:|" * (len(headers) - 1))
    for phase in phases:
        values = [results[name][phase] for name in names]
        cells = [f"{value:,.0f}" for value in values]
        cells += [f"{value / values[-1]:.2f}" if values[-1] else "-" for value in values[:-1]]
        print(f"| {phase} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
