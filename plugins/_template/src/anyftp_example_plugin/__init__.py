"""anyftp-example-plugin: TEMPLATE - say what the plugin does.

This one implements a single hook, ``anyftp_event``: it logs every file a client
uploads, to the ``anyftp.example`` logger. Enable it with ``Server(plugins=["example"])``
or ``anyftp serve --plugin example``.

Hooks are plain module functions marked with ``hookimpl``; the names and arguments are
those of :mod:`anyftp.hookspecs` (a function may take fewer arguments than the spec).
A plain function runs in a thread of the plugin's own; ``async def`` runs on the server's
event loop. Either way a slow or failing hook never stalls a session.
"""

from __future__ import annotations

import logging

from anyftp.events import Event, FileReceived
from anyftp.hookspecs import hookimpl

__all__ = ("anyftp_event",)

logger = logging.getLogger("anyftp.example")  # TEMPLATE: your logger's name


# TEMPLATE: replace with the hook(s) your plugin needs: anyftp_configure (options and
# per-server state), anyftp_authenticate, anyftp_register_commands, anyftp_server_started,
# anyftp_server_stopped, anyftp_command_done. See docs/plugins.md.
@hookimpl
def anyftp_event(event: Event) -> None:
    if isinstance(event, FileReceived):
        logger.info("%s uploaded %s (%d bytes)", event.user, event.path, event.bytes)
