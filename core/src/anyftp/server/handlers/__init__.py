"""Command handlers by area; :func:`default_table` assembles the built-in command table.

* :mod:`.auth`       USER PASS QUIT
* :mod:`.navigation` PWD CWD CDUP MKD RMD DELE RNFR RNTO SIZE MDTM MFMT (+ X* aliases)
* :mod:`.listing`    LIST NLST MLSD MLST
* :mod:`.transfer`   RETR STOR APPE STOU
* :mod:`.datamode`   PASV EPSV PORT EPRT
* :mod:`.tls`        AUTH PBSZ PROT CCC
* :mod:`.info`       FEAT OPTS SYST NOOP HELP STAT TYPE MODE STRU ALLO REST ABOR
* :mod:`.site`       SITE CHMOD, SITE HELP
"""

from __future__ import annotations

from ..commands import CommandTable
from . import auth, datamode, info, listing, navigation, site, tls, transfer

__all__ = ("default_table",)


def default_table() -> CommandTable:
    """A fresh table holding every built-in command."""
    table = CommandTable()
    for module in (auth, navigation, listing, transfer, datamode, tls, info, site):
        module.register(table)
    return table
