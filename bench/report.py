"""Turn one run's results into the Markdown table, ratios, verdicts and machine facts.

Ratios are always *anyftp ÷ peer*: on throughput lines anyftp wins at >= 1.0, on time and
memory lines at <= 1.0; each ratio is marked ✓ (anyftp wins or ties) or ✗. Throughput
cells also show the fraction of the measured loopback limit in parentheses.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from config import Line

__all__ = ("machine_info", "ratio", "render_markdown", "verdicts", "primary_server")


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def machine_info() -> dict[str, Any]:
    """The facts a reader needs to compare runs."""
    return {
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": {name: _version(name) for name in ("anyftp", "pyftpdlib", "aioftp", "uvloop")},
        "commit": _git_commit(),
        "load_average": _load_average(),
    }


def _load_average() -> list[float] | None:
    """1/5/15-minute load average: other work on the machine makes figures noisy."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def ratio(ours: float | None, peer: float | None) -> float | None:
    if ours is None or peer is None or peer == 0:
        return None
    return ours / peer


def wins(line: Line, value: float | None) -> bool | None:
    if value is None:
        return None
    return value >= 1.0 if line.higher_is_better else value <= 1.0


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "MiB/s":
        return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
    if unit == "CPU s":
        return f"{value:.3f}" if value < 1 else f"{value:.2f}"
    if unit == "s":
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    return f"{value:.1f}"


def _cell(line: Line, value: float | None, limit: dict[str, float]) -> str:
    text = _number(value, line.unit)
    if value is not None and line.limit and limit.get(line.limit):
        text += f" ({value / limit[line.limit]:.0%})"
    return text


def _ratio_cell(line: Line, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f} {'✓' if wins(line, value) else '✗'}"


def primary_server(servers: dict[str, dict[str, Any]], ours: set[str]) -> str | None:
    """The anyftp server the ratios are computed for (local backend first)."""
    for name in ("anyftp-local", *sorted(ours)):
        if name in servers and servers[name].get("median"):
            return name
    return None


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["--:"] * (len(header) - 1)) + "|",
    ]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def _value_table(
    lines: list[Line],
    columns: list[str],
    medians: dict[str, dict[str, float]],
    primary: str | None,
    peers: list[str],
    limit: dict[str, float] | None,
) -> list[str]:
    """One table; without *limit* (None) there is no loopback-limit column."""
    header = [
        "line",
        *(["loopback limit"] if limit is not None else []),
        *columns,
        *[f"{primary} ÷ {peer}" for peer in peers if primary],
    ]
    rows = []
    for line in lines:
        if all(medians.get(column, {}).get(line.key) is None for column in columns):
            continue  # not measured in this run (--lines)
        row = [f"{line.label} ({line.unit})"]
        if limit is not None:
            row.append(_number(limit.get(line.limit), line.unit) if line.limit else "")
        row += [
            _cell(line, medians.get(column, {}).get(line.key), limit or {}) for column in columns
        ]
        if primary:
            ours = medians.get(primary, {}).get(line.key)
            row += [
                _ratio_cell(line, ratio(ours, medians.get(peer, {}).get(line.key)))
                for peer in peers
            ]
        rows.append(row)
    return _table(header, rows)


def verdicts(
    result: dict[str, Any], server_lines: list[Line], client_lines: list[Line]
) -> list[str]:
    """The issue's done-when checks, each stated as met or not met with the numbers."""
    out: list[str] = []
    servers = result["servers"]
    primary = result.get("primary")
    limit = result.get("limit", {}).get("median", {})
    ours = servers.get(primary, {}).get("median", {}) if primary else {}
    if not ours:
        return ["no anyftp result: nothing to judge"]

    def mark(ok: bool) -> str:
        return "met" if ok else "NOT met"

    peer = servers.get("pyftpdlib", {}).get("median", {})
    if peer:
        judged = [
            line
            for line in server_lines
            if line.ftpbench and ours.get(line.key) is not None and line.key in peer
        ]
        lost = [
            line.label
            for line in judged
            if not wins(line, ratio(ours.get(line.key), peer.get(line.key)))
        ]
        total = len(judged)
        out.append(
            f"{primary} beats pyftpdlib on {total - len(lost)}/{total} ftpbench lines: "
            f"{mark(not lost)}" + (f" (loses: {'; '.join(lost)})" if lost else "")
        )
    aio = servers.get("aioftp", {}).get("median", {})
    if aio:
        factors = {key: ratio(ours.get(key), aio.get(key)) for key in ("stor", "retr")}
        ok = all(value is not None and value >= 3 for value in factors.values())
        shown = ", ".join(
            f"{key.upper()} {value:.1f}x" for key, value in factors.items() if value is not None
        )
        out.append(f"{primary} >= 3x aioftp on STOR/RETR throughput ({shown}): {mark(ok)}")
    if limit.get("download") and ours.get("retr"):
        fraction = ours["retr"] / limit["download"]
        out.append(
            f"{primary} RETR reaches {fraction:.0%} of the loopback limit "
            f"(>= 50%): {mark(fraction >= 0.5)}"
        )
    clients = result.get("clients", {}).get("median", {})
    ours_client = clients.get("anyftp", {}).get("download")
    ftplib_client = clients.get("ftplib", {}).get("download")
    if ours_client and ftplib_client:
        out.append(
            f"anyftp Client downloads at {ours_client / ftplib_client:.2f}x ftplib "
            f"(>= 1.0): {mark(ours_client >= ftplib_client)}"
        )
    return out


def render_markdown(
    result: dict[str, Any], server_lines: list[Line], client_lines: list[Line]
) -> str:
    """The whole report: machine, command, server table, client table, verdicts."""
    machine = result["machine"]
    config = result["config"]
    limit = result.get("limit", {}).get("median", {})
    servers: dict[str, dict[str, Any]] = result["servers"]
    columns = [name for name in servers if servers[name].get("median")]
    primary = result.get("primary")
    peers = [name for name in columns if not servers[name].get("ours")]
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items() if v)
    out = [
        f"Machine: {machine['cpu']}, {machine['cpus']} CPUs, {machine['memory_gib']} GiB, "
        f"{machine['system']}, Python {machine['python']} ({versions}); "
        f"commit {machine['commit']}, {result['date']}; load average at start "
        f"{machine.get('load_average')}.",
        "",
        f"Command: `{result['command']}` — medians of {config['repeat']} rounds "
        f"(connect + login and QUIT: of {config.get('short_repeat', 1)} samples a round; "
        f"client lines: of {config.get('client_repeat', config['repeat'])} rounds); "
        f"server pinned to CPU {result['pinning']['server'] or '-'}, "
        f"load generator to CPU {result['pinning']['generator'] or '-'}.",
        "",
    ]
    if limit:
        samples = result["limit"]["samples"]
        spread = "; ".join(
            f"{direction} {min(values):,.0f}-{max(values):,.0f} MiB/s"
            for direction, values in samples.items()
        )
        out += [
            "Loopback limit: plain-socket transfers of the same file with sendfile "
            "(download: a server to the load generator; upload: the reverse), median of the "
            f"rounds (range: {spread}); percentages in throughput cells are fractions of it.",
            "",
        ]
    loops = [
        f"{name}: {servers[name].get('facts', {}).get('loop')}"
        for name in columns
        if servers[name].get("facts", {}).get("loop")
    ]
    if loops:
        out += [f"Event loop: {', '.join(loops)} (others: their own default).", ""]
    if columns:
        out += _value_table(
            server_lines, columns, {n: servers[n]["median"] for n in columns}, primary, peers, limit
        )
    if any(line.key.startswith("rss_") for line in server_lines):
        note = (
            "Peak RSS is the server process's resident memory while the line runs, so memory "
            "the process kept from earlier lines and rounds (allocator caches) counts too."
        )
        if "anyftp-memory" in columns:
            note += (
                " anyftp-memory's also holds the files themselves (the large file and the "
                "files the clients stored)."
            )
        out += ["", note]
    cpu_lines = [
        Line(f"cpu_{line.key}", line.label, "CPU s", False)
        for line in server_lines
        if not line.key.startswith("rss_")
    ]
    if any(servers[n]["median"].get(line.key) is not None for n in columns for line in cpu_lines):
        out += [
            "",
            "Server CPU time per line (user + system seconds, all threads; less work is better, "
            "and it is steadier than wall time on a busy machine):",
            "",
        ]
        out += _value_table(
            cpu_lines, columns, {n: servers[n]["median"] for n in columns}, primary, peers, None
        )
    problems = [f"{name}: {info['error']}" for name, info in servers.items() if info.get("error")]
    clients = result.get("clients")
    if clients and clients.get("median"):
        client_columns = [name for name in clients["median"] if clients["median"][name]]
        client_primary = "anyftp" if "anyftp" in client_columns else None
        out += [
            "",
            f"Clients against {clients['server']} (same file, block size "
            f"{config['block_size'] // 1024} KiB, standard asyncio loop):",
            "",
        ]
        out += _value_table(
            client_lines,
            client_columns,
            clients["median"],
            client_primary,
            [c for c in client_columns if c != "anyftp"],
            limit,
        )
        problems += [
            f"client {name}: {error}" for name, error in clients.get("errors", {}).items() if error
        ]
    busiest = max(
        (
            (value, key.removeprefix("generator_busy_"), name)
            for name in columns
            for key, value in servers[name]["median"].items()
            if key.startswith("generator_busy_")
        ),
        default=None,
    )
    if busiest is not None:
        out += [
            "",
            f"Load generator: at most {busiest[0]:.0%} of one CPU busy (line `{busiest[1]}` "
            f"against {busiest[2]}; process CPU time, which leaves out kernel network work "
            "done in softirq context).",
        ]
    s3 = result.get("s3")
    if s3 and s3.get("markdown"):
        out += ["", str(s3["markdown"])]
    elif s3 and s3.get("error"):
        problems.append(f"S3 (bench/s3_bench.py): {s3['error']}")
    checks = verdicts(result, server_lines, client_lines)
    if checks:
        out += ["", *[f"- {check}" for check in checks]]
    if problems:
        out += ["", "Not measured:", "", *[f"- {problem}" for problem in problems]]
    return "\n".join(out) + "\n"
