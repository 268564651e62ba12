"""Sans-I/O FTP protocol: pure data in, data out. Nothing here imports asyncio.

* :mod:`.framing`   - bounded line splitting, command-line parsing (telnet codes, CR/LF/NUL)
* :mod:`.replies`   - reply codes, multi-line reply formatting and incremental parsing
* :mod:`.addresses` - PASV/EPSV/PORT/EPRT formatting and parsing
* :mod:`.mlsx`      - MLSx facts: formatting (server) and parsing (client)
"""
