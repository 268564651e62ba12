"""``anyftp plugins``: installed backends and server plugins with name, version and kind
(blocked ones marked); a plugin's own sub-commands through the ``anyftp.cli`` group."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from anyftp.cli import main
from anyftp.cli.plugins import installed_plugins, kind_of
from anyftp.registry import BLOCK_ENV

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Distribution ``anyftp-kinds`` 2.0: plugins ``gatekeeper`` (auth + commands) and
    ``broken`` (fails to import), and an ``anyftp.cli`` command ``hello``."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "kinds_gatekeeper.py").write_text(
        "from anyftp.hookspecs import hookimpl\n"
        "class Gate:\n"
        "    @hookimpl\n"
        "    def anyftp_authenticate(self, login):\n"
        "        return None\n"
        "@hookimpl\n"
        "def anyftp_register_commands(table):\n"
        "    pass\n",
        encoding="utf-8",
    )
    (site / "kinds_broken.py").write_text("raise ImportError('missing dependency')\n")
    (site / "kinds_cli.py").write_text(
        "def register(subparsers):\n"
        "    parser = subparsers.add_parser('hello', help='say hello')\n"
        "    parser.set_defaults(handler=lambda args: print('hello from a plugin') or 0)\n",
        encoding="utf-8",
    )
    info = site / "anyftp_kinds-2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: anyftp-kinds\nVersion: 2.0\n")
    (info / "entry_points.txt").write_text(
        "[anyftp.plugins]\ngatekeeper = kinds_gatekeeper\nbroken = kinds_broken\n"
        "[anyftp.cli]\nhello = kinds_cli\n"
    )
    monkeypatch.syspath_prepend(str(site))
    for name in ("kinds_gatekeeper", "kinds_broken", "kinds_cli"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.delenv(BLOCK_ENV, raising=False)


def test_the_listing_shows_name_version_kind_and_status(
    installed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plugins"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()}
    assert rows["NAME"][:3] == ["NAME", "VERSION", "KIND"]
    assert rows["gatekeeper"][:4] == ["gatekeeper", "2.0", "auth,commands", "anyftp-kinds"]
    assert rows["broken"][4:6] == ["broken:", "ImportError:"]
    assert rows["local"][2] == "backend"


def test_blocked_plugins_are_listed_as_blocked_and_not_imported(
    installed: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(BLOCK_ENV, "gatekeeper")
    assert main(["plugins", "--json"]) == 0
    listed = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
    assert listed["gatekeeper"]["blocked"] is True
    assert listed["gatekeeper"]["kind"] == "plugin"  # not imported to find out
    assert "kinds_gatekeeper" not in sys.modules
    assert (
        listed["broken"]["blocked"] is False and "missing dependency" in listed["broken"]["error"]
    )


def test_a_plugin_adds_its_own_sub_command(
    installed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["hello"]) == 0
    assert capsys.readouterr().out == "hello from a plugin\n"


def test_a_blocked_plugin_adds_no_sub_command(
    installed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BLOCK_ENV, "hello")
    with pytest.raises(SystemExit):
        main(["hello"])


def test_kinds_come_from_the_hooks_implemented(installed: None) -> None:
    import kinds_gatekeeper  # type: ignore[import-not-found]

    assert kind_of(kinds_gatekeeper) == "auth,commands"
    found = {p.name: p for p in installed_plugins(inspect_modules=False)}
    assert found["gatekeeper"].kind == "plugin" and found["gatekeeper"].version == "2.0"
