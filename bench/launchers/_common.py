"""Shared start-up of every benchmark server launcher.

A launcher is a tiny script that starts one server kind on loopback with a port chosen by
the OS, pins itself to the CPUs it is given, prints ``READY <port>`` on stdout once it
accepts connections, and serves until SIGTERM/SIGINT. Everything else a launcher prints
goes to stderr, which the runner sends to a log file.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import sys


def parse_args(
    description: str, extra: list[tuple[str, dict[str, object]]] | None = None
) -> argparse.Namespace:
    """Parse the options every launcher takes (plus *extra* ``(flag, kwargs)`` pairs)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--root", required=True, help="directory served to the user")
    parser.add_argument("--user", default="bench")
    parser.add_argument("--password", default="bench")
    parser.add_argument("--cpus", default="", help="comma separated CPU ids to pin to")
    parser.add_argument("--backlog", type=int, default=1024)
    for flag, kwargs in extra or []:
        parser.add_argument(flag, **kwargs)  # type: ignore[arg-type]
    return parser.parse_args()


def prepare_process(cpus: str) -> None:
    """Pin to *cpus*, lift the open-file limit and keep logging at WARNING.

    Every server runs with the same logging level, so the benchmark measures serving and
    not log formatting.
    """
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(cpu) for cpu in cpus.split(",")})
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)


def announce(port: int, **facts: object) -> None:
    """Tell the runner the server is ready, on which port, plus ``key=value`` *facts*."""
    extra = "".join(f" {key}={value}" for key, value in facts.items())
    sys.stdout.write(f"READY {port}{extra}\n")
    sys.stdout.flush()
