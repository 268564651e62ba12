"""Profile a benchmarked server (or client) line by line with py-spy; summarise samples.

With ``python bench/run.py --profile DIR``, every server gets a :class:`LineProfiler`
probe: ``py-spy record`` attaches to the server process when a line starts and is
stopped (SIGINT) when it ends, leaving ``DIR/<server>-<line>-r<round>.txt`` in py-spy's
raw (collapsed stack) format; the client lines are recorded the same way in the load
generator's own process. Threads py-spy sees as idle (waiting in a system call) are
not sampled, so the number of samples over the line's duration is the share of time the
process was active. :func:`summarize` turns one file into that share, the functions with
the most self time and the most inclusive time. Profiling slows the process down:
figures from a profiled run are not for the table.
"""

from __future__ import annotations

import collections
import json
import queue
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO

__all__ = ("LineProfiler", "summarize", "py_spy_available")

#: Frames every stack has (the loop, the launcher, thread bootstrap): left out of the
#: inclusive list.
PLUMBING = (
    "(asyncio/runners.py)",
    "(asyncio/base_events.py)",
    "(asyncio/events.py)",
    "(threading.py)",
    "_server.py)",
    "<module>",
)


def py_spy_available() -> bool:
    return shutil.which("py-spy") is not None


class LineProfiler:
    """A :class:`workload.LineProbe` that records each line of one process with py-spy."""

    def __init__(self, pid: int, directory: Path, name: str, rate: int = 250) -> None:
        self.pid = pid
        self.directory = directory
        self.name = name
        self.rate = rate
        self.round = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._started = 0.0
        directory.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.directory / f"{self.name}-{key}-r{self.round}.txt"

    def begin(self, key: str) -> None:
        command = [
            "py-spy", "record", "--pid", str(self.pid), "--format", "raw",
            "--rate", str(self.rate), "--function", "--nonblocking",
            "--output", str(self.path(key)),
        ]  # fmt: skip
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        # py-spy says "Sampling process ..." on stdout once attached; wait (bounded).
        started: queue.Queue[bytes] = queue.Queue()
        threading.Thread(
            target=self._watch, args=(self._process.stdout, started), daemon=True
        ).start()
        try:
            started.get(timeout=10)
        except queue.Empty:
            pass
        self._started = time.perf_counter()

    @staticmethod
    def _watch(stream: IO[bytes] | None, started: queue.Queue[bytes]) -> None:
        if stream is None:
            return
        for line in stream:
            if b"Sampling" in line or b"Error" in line:
                started.put(line)
        started.put(b"")

    def end(self, key: str) -> dict[str, float]:
        process, self._process = self._process, None
        elapsed = time.perf_counter() - self._started
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        meta = self.path(key).with_suffix(".json")
        meta.write_text(json.dumps({"seconds": elapsed, "rate": self.rate}))
        return {}


def _function(frame: str) -> str:
    """``name (path:line)`` -> ``name (path)``."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})" if where else name


def summarize(path: Path, top: int = 15) -> str:
    """CPU share, top self-time and top inclusive-time functions of one raw profile."""
    self_time: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(frame) for frame in stack.split(";") if frame]
        if not frames:
            continue
        total += count
        self_time[frames[-1]] += count
        for frame in set(frames):
            if not frame.endswith(PLUMBING):
                inclusive[frame] += count
    header = f"{path.name}: {total} samples"
    meta = path.with_suffix(".json")
    if meta.exists():
        info = json.loads(meta.read_text())
        expected = info["seconds"] * info["rate"]
        header += f" in {info['seconds']:.2f} s, active {total / max(expected, 1):.0%} of the time"
    if not total:
        return header + "\n"
    out = [header, "  self time (share of samples):"]
    out += [f"    {count / total:6.1%}  {name}" for name, count in self_time.most_common(top)]
    out.append("  inclusive time (share of samples):")
    out += [f"    {count / total:6.1%}  {name}" for name, count in inclusive.most_common(top)]
    return "\n".join(out) + "\n"
