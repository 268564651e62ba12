"""Profile a benchmarked server line by line with py-spy, and summarise the samples.

With ``python bench/run.py --profile DIR``, each anyftp server gets a :class:`LineProfiler`
probe: ``py-spy record`` attaches to the server process when a line starts and is
stopped (SIGINT) when it ends, leaving ``DIR/<server>-<line>-r<round>.txt`` in py-spy's
raw (collapsed stack) format. :func:`summarize` turns one such file into the busy share,
the functions with the most self time and the most inclusive time. Profiling slows the
server down: figures from a profiled run are not for the table.
"""

from __future__ import annotations

import collections
import queue
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from typing import IO

__all__ = ("LineProfiler", "summarize", "py_spy_available")

#: Leaf functions that mean "waiting", not work (py-spy ``--function`` names are
#: qualified, e.g. ``EpollSelector.select (selectors.py)``; compared without the class).
IDLE_LEAVES = (
    "select (selectors.py)",
    "poll (selectors.py)",
    "run_forever (uvloop",
    "wait (threading.py)",
    "accept (socket.py)",
)

#: Frames every stack has (the loop and the launcher): left out of the inclusive list.
PLUMBING = (
    "(asyncio/runners.py)",
    "(asyncio/base_events.py)",
    "(asyncio/events.py)",
    "_server.py)",
    "<module>",
)


def py_spy_available() -> bool:
    return shutil.which("py-spy") is not None


class LineProfiler:
    """A :class:`workload.LineProbe` that records each line of one server with py-spy."""

    def __init__(self, pid: int, directory: Path, name: str, rate: int = 250) -> None:
        self.pid = pid
        self.directory = directory
        self.name = name
        self.rate = rate
        self.round = 0
        self._process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.directory / f"{self.name}-{key}-r{self.round}.txt"

    def begin(self, key: str) -> None:
        command = [
            "py-spy",
            "record",
            "--pid",
            str(self.pid),
            "--format",
            "raw",
            "--rate",
            str(self.rate),
            "--idle",
            "--function",
            "--nonblocking",
            "--output",
            str(self.path(key)),
        ]
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        # py-spy says "Sampling process ..." on stdout once attached; wait (bounded).
        started: queue.Queue[bytes] = queue.Queue()
        threading.Thread(
            target=self._first_line, args=(self._process.stdout, started), daemon=True
        ).start()
        try:
            started.get(timeout=10)
        except queue.Empty:
            pass

    @staticmethod
    def _first_line(stream: IO[bytes] | None, started: queue.Queue[bytes]) -> None:
        if stream is None:
            return
        for line in stream:
            if b"Sampling" in line or b"Error" in line:
                started.put(line)
        started.put(b"")

    def end(self, key: str) -> dict[str, float]:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        return {}


def _function(frame: str) -> str:
    """``name (path:line)`` -> ``name (path)``."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})" if where else name


def summarize(path: Path, top: int = 15) -> str:
    """Busy share, top self-time and top inclusive-time functions of one raw profile."""
    self_time: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = idle = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(frame) for frame in stack.split(";") if frame]
        if not frames:
            continue
        total += count
        name, _, where = frames[-1].partition(" (")
        if f"{name.rpartition('.')[2]} ({where}".startswith(IDLE_LEAVES):
            idle += count
            continue
        self_time[frames[-1]] += count
        for frame in set(frames):
            if not frame.endswith(PLUMBING):
                inclusive[frame] += count
    if not total:
        return f"{path.name}: no samples\n"
    busy = total - idle
    out = [
        f"{path.name}: {total} samples, busy {busy / total:.0%} (idle {idle / total:.0%})",
        "  self time (share of busy samples):",
    ]
    out += [
        f"    {count / max(busy, 1):6.1%}  {name}" for name, count in self_time.most_common(top)
    ]
    out.append("  inclusive time (share of busy samples):")
    out += [
        f"    {count / max(busy, 1):6.1%}  {name}" for name, count in inclusive.most_common(top)
    ]
    return "\n".join(out) + "\n"
