"""Every command the server implements, driven by Python's ftplib, on each backend."""

from __future__ import annotations

import ftplib
import hashlib
import io
import os
import socket
import time
from collections.abc import Callable

import pytest

import anyftp
from anyftp.protocol.listing import split_list_options
from anyftp.protocol.mlsx import parse_time

from .conftest import TIMEOUT, ServerThread, base_for

pytestmark = pytest.mark.timeout(60)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload(ftp: ftplib.FTP, name: str, data: bytes, command: str = "STOR") -> str:
    return ftp.storbinary(f"{command} {name}", io.BytesIO(data))


def download(ftp: ftplib.FTP, name: str, rest: int | None = None) -> bytes:
    out = io.BytesIO()
    ftp.retrbinary(f"RETR {name}", out.write, rest=rest)
    return out.getvalue()


def test_login_and_greeting(server: ServerThread) -> None:
    ftp = ftplib.FTP()
    assert ftp.connect(server.host, server.port, timeout=TIMEOUT).startswith("220")
    assert ftp.login().startswith("230")
    assert ftp.quit().startswith("221")


def test_pwd_cwd_cdup_and_mkd_rmd(ftp: ftplib.FTP) -> None:
    assert ftp.pwd() == "/"
    assert ftp.mkd("alpha") == "/alpha"
    assert ftp.mkd("/alpha/beta") == "/alpha/beta"
    ftp.cwd("alpha/beta")
    assert ftp.pwd() == "/alpha/beta"
    assert ftp.sendcmd("CDUP").startswith("250")
    assert ftp.pwd() == "/alpha"
    ftp.cwd("..")
    ftp.cwd("..")  # cannot climb above the root
    assert ftp.pwd() == "/"
    with pytest.raises(ftplib.error_perm, match=r"^550"):
        ftp.cwd("missing")
    with pytest.raises(ftplib.error_perm, match=r"^550"):
        ftp.mkd("alpha")  # exists
    with pytest.raises(ftplib.error_perm, match=r"^550"):
        ftp.rmd("alpha")  # not empty
    ftp.rmd("alpha/beta")
    ftp.rmd("alpha")
    assert "alpha" not in ftp.nlst()


def test_pwd_quotes_embedded_double_quotes(ftp: ftplib.FTP) -> None:
    assert ftp.sendcmd('MKD say "hi"') == '257 "/say ""hi""" created'
    ftp.cwd('say "hi"')
    assert ftp.sendcmd("PWD").startswith('257 "/say ""hi"""')
    assert ftp.pwd() == '/say "hi"'


def test_x_aliases(ftp: ftplib.FTP) -> None:
    assert ftp.sendcmd("XMKD x").startswith("257")
    assert ftp.sendcmd("XCWD x").startswith("250")
    assert ftp.sendcmd("XPWD").startswith('257 "/x"')
    assert ftp.sendcmd("XCUP").startswith("250")
    assert ftp.sendcmd("XRMD x").startswith("250")


def test_store_and_retrieve_binary_sha256(ftp: ftplib.FTP) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    assert upload(ftp, "big.bin", data).startswith("226")
    assert sha256(download(ftp, "big.bin")) == sha256(data)
    assert ftp.size("big.bin") == len(data)


def test_empty_file_round_trip(ftp: ftplib.FTP) -> None:
    upload(ftp, "empty", b"")
    assert download(ftp, "empty") == b""
    assert ftp.size("empty") == 0


def test_ascii_type_converts_line_ends(ftp: ftplib.FTP) -> None:
    ftp.storlines("STOR text.txt", io.BytesIO(b"one\ntwo\r\nthree\n"))
    assert download(ftp, "text.txt") == b"one\ntwo\nthree\n"  # stored with LF
    lines: list[str] = []
    ftp.retrlines("RETR text.txt", lines.append)
    assert lines == ["one", "two", "three"]
    raw = io.BytesIO()
    ftp.sendcmd("TYPE A")
    with ftp.transfercmd("RETR text.txt") as conn:
        while chunk := conn.recv(65536):
            raw.write(chunk)
    ftp.voidresp()
    assert raw.getvalue() == b"one\r\ntwo\r\nthree\r\n"


def test_retrieve_resumes_after_rest(ftp: ftplib.FTP) -> None:
    data = os.urandom(500_000)
    upload(ftp, "resume.bin", data)
    assert download(ftp, "resume.bin", rest=123_456) == data[123_456:]
    assert ftp.sendcmd("REST 10").startswith("350")
    with pytest.raises(ftplib.error_perm, match=r"^501"):
        ftp.sendcmd("REST -5")


def test_store_after_rest_overwrites_from_offset(ftp: ftplib.FTP) -> None:
    upload(ftp, "part.bin", b"A" * 100)
    ftp.storbinary("STOR part.bin", io.BytesIO(b"B" * 50), rest=80)
    assert download(ftp, "part.bin") == b"A" * 80 + b"B" * 50


def test_rest_is_forgotten_after_another_command(ftp: ftplib.FTP) -> None:
    data = b"0123456789"
    upload(ftp, "digits", data)
    ftp.sendcmd("REST 5")
    ftp.sendcmd("NOOP")
    assert download(ftp, "digits") == data


def test_append(ftp: ftplib.FTP) -> None:
    upload(ftp, "log", b"first\n")
    assert upload(ftp, "log", b"second\n", command="APPE").startswith("226")
    assert upload(ftp, "new", b"created\n", command="APPE").startswith("226")
    assert download(ftp, "log") == b"first\nsecond\n"
    assert download(ftp, "new") == b"created\n"


def test_store_unique(ftp: ftplib.FTP) -> None:
    upload(ftp, "report", b"original")
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("STOU report")
    preliminary = ftp.lastresp
    conn.sendall(b"unique content")
    conn.close()
    final = ftp.voidresp()
    assert preliminary == "150"
    assert "unique file name: report.1" in final
    assert download(ftp, "report") == b"original"
    assert download(ftp, "report.1") == b"unique content"
    conn = ftp.transfercmd("STOU")
    conn.close()
    assert "unique file name: file" in ftp.voidresp()


def test_delete_and_rename(ftp: ftplib.FTP) -> None:
    upload(ftp, "a.txt", b"a")
    ftp.mkd("dir")
    assert ftp.rename("a.txt", "dir/b.txt").startswith("250")
    assert ftp.nlst("dir") == ["dir/b.txt"]
    assert ftp.rename("dir", "moved").startswith("250")
    assert download(ftp, "moved/b.txt") == b"a"
    assert ftp.delete("moved/b.txt").startswith("250")
    with pytest.raises(ftplib.error_perm, match=r"^550"):
        ftp.delete("moved/b.txt")
    with pytest.raises(ftplib.error_perm, match=r"^550"):
        ftp.delete("moved")  # a directory
    with pytest.raises(ftplib.error_perm, match=r"^550"):
        ftp.sendcmd("RNFR nothing-here")
    with pytest.raises(ftplib.error_perm, match=r"^503"):
        ftp.sendcmd("RNTO somewhere")


def test_rnto_must_follow_rnfr(ftp: ftplib.FTP) -> None:
    upload(ftp, "x", b"x")
    ftp.sendcmd("RNFR x")
    ftp.sendcmd("NOOP")
    with pytest.raises(ftplib.error_perm, match=r"^503"):
        ftp.sendcmd("RNTO y")


def test_size_and_mdtm_and_mfmt(ftp: ftplib.FTP) -> None:
    upload(ftp, "f", b"12345")
    assert ftp.sendcmd("SIZE f") == "213 5"
    before = parse_time(ftp.sendcmd("MDTM f")[4:])
    assert abs(before - time.time()) < 3600
    assert ftp.sendcmd("MFMT 20200102030405 f") == "213 Modify=20200102030405; f"
    assert ftp.sendcmd("MDTM f") == "213 20200102030405"
    ftp.mkd("d")
    with pytest.raises(ftplib.error_perm, match=r"^550"):
        ftp.sendcmd("SIZE d")
    with pytest.raises(ftplib.error_perm, match=r"^550"):
        ftp.sendcmd("SIZE missing")
    with pytest.raises(ftplib.error_perm, match=r"^501"):
        ftp.sendcmd("MFMT yesterday f")


def _parse_list_line(line: str) -> tuple[str, int, str]:
    parts = line.split(None, 8)
    return parts[0], int(parts[4]), parts[8]


def test_list_formats_like_ls(ftp: ftplib.FTP) -> None:
    upload(ftp, "file with spaces.txt", b"x" * 42)
    ftp.mkd("sub")
    for command in ("LIST", "LIST -la", "LIST -a /", "LIST -l ."):
        lines: list[str] = []
        ftp.retrlines(command, lines.append)
        entries = {name: (mode, size) for mode, size, name in map(_parse_list_line, lines)}
        mode, size = entries["file with spaces.txt"]
        assert mode.startswith("-rw") and size == 42
        assert entries["sub"][0].startswith("d")
    single: list[str] = []
    ftp.retrlines("LIST file with spaces.txt", single.append)
    assert [_parse_list_line(line)[2] for line in single] == ["file with spaces.txt"]
    with pytest.raises(ftplib.error_perm, match=r"^550"):
        ftp.retrlines("LIST missing", single.append)


def test_nlst_names(ftp: ftplib.FTP) -> None:
    upload(ftp, "one", b"1")
    ftp.mkd("two")
    upload(ftp, "two/three", b"3")
    assert sorted(ftp.nlst()) == ["one", "two"]
    assert ftp.nlst("two") == ["two/three"]
    assert ftp.nlst("-a") == ["one", "two"]


def test_mlsd_and_mlst_facts(ftp: ftplib.FTP) -> None:
    upload(ftp, "data.bin", b"z" * 1000)
    ftp.mkd("folder")
    facts = dict(ftp.mlsd())
    assert facts["data.bin"]["type"] == "file"
    assert facts["data.bin"]["size"] == "1000"
    assert "r" in facts["data.bin"]["perm"] and "w" in facts["data.bin"]["perm"]
    assert facts["folder"]["type"] == "dir"
    assert "e" in facts["folder"]["perm"] and "l" in facts["folder"]["perm"]
    assert len(facts["data.bin"]["modify"]) == 14
    reply = ftp.sendcmd("MLST data.bin")
    lines = reply.splitlines()
    assert lines[0].startswith("250-") and lines[-1].startswith("250 ")
    assert lines[1].startswith(" type=file;size=1000;")
    assert lines[1].endswith("; /data.bin")
    with pytest.raises(ftplib.error_perm, match=r"^501"):
        list(ftp.mlsd("data.bin"))
    assert ftp.sendcmd("OPTS MLST size;type;").startswith("200 MLST OPTS type;size;")
    assert dict(ftp.mlsd())["data.bin"] == {"type": "file", "size": "1000"}


def test_feat_lists_what_works(ftp: ftplib.FTP) -> None:
    features = [line.strip() for line in ftp.sendcmd("FEAT").splitlines()[1:-1]]
    for feature in ("EPRT", "EPSV", "MDTM", "REST STREAM", "SIZE", "UTF8"):
        assert feature in features
    assert any(f.startswith("MLST type*;size*;modify*;perm*;") for f in features)
    assert "AUTH TLS" not in features  # no TLS configured


def test_syst_noop_help_allo_mode_stru_type_opts(ftp: ftplib.FTP) -> None:
    assert ftp.sendcmd("SYST") == "215 UNIX Type: L8"
    assert ftp.sendcmd("NOOP").startswith("200")
    help_text = ftp.sendcmd("HELP")
    assert help_text.startswith("214-") and "RETR" in help_text and "MLSD" in help_text
    assert ftp.sendcmd("HELP RETR").startswith("214 syntax: RETR <path>")
    assert ftp.sendcmd("ALLO 1000").startswith("202")
    assert ftp.sendcmd("MODE S").startswith("200")
    assert ftp.sendcmd("STRU F").startswith("200")
    assert ftp.sendcmd("TYPE A").startswith("200")
    assert ftp.sendcmd("TYPE L 8").startswith("200")
    assert ftp.sendcmd("TYPE I").startswith("200")
    assert ftp.sendcmd("OPTS UTF8 ON").startswith("200")
    for command, code in (
        ("MODE B", "504"),
        ("STRU R", "504"),
        ("TYPE E", "504"),
        ("TYPE X", "501"),
        ("MODE Q", "501"),
        ("OPTS NOPE", "501"),
    ):
        with pytest.raises(ftplib.error_perm, match=rf"^{code}"):
            ftp.sendcmd(command)


def test_stat_without_and_with_path(ftp: ftplib.FTP) -> None:
    upload(ftp, "s.txt", b"abc")
    status = ftp.sendcmd("STAT")
    assert status.startswith("211-") and "logged in as anonymous" in status
    listing = ftp.sendcmd("STAT /")
    assert listing.startswith("213-") and "s.txt" in listing


def test_site_chmod_and_help(ftp: ftplib.FTP, backend: str) -> None:
    upload(ftp, "mode.txt", b"m")
    assert ftp.sendcmd("SITE HELP").startswith("214")
    assert ftp.sendcmd("SITE CHMOD 600 mode.txt").startswith("200")
    facts = dict(ftp.mlsd())
    assert facts["mode.txt"]["unix.mode"] == "0600"
    with pytest.raises(ftplib.error_perm, match=r"^501"):
        ftp.sendcmd("SITE CHMOD 99x mode.txt")
    with pytest.raises(ftplib.error_perm, match=r"^500"):
        ftp.sendcmd("SITE EXEC rm")


def test_epsv_and_active_modes_transfer(ftp: ftplib.FTP) -> None:
    data = os.urandom(200_000)
    ftp.set_pasv(True)
    ftp.sendcmd("TYPE I")
    upload(ftp, "m.bin", data)
    # EPSV (ftplib uses it when af is IPv6; force it here)
    reply = ftp.sendcmd("EPSV")
    assert reply.startswith("229") and "(|||" in reply
    port = int(reply.split("|||")[1].split("|")[0])
    with socket.create_connection((ftp.host, port), timeout=TIMEOUT) as conn:
        ftp.sendcmd("RETR m.bin")
        got = b""
        while chunk := conn.recv(65536):
            got += chunk
    assert ftp.voidresp().startswith("226")
    assert got == data
    assert ftp.sendcmd("EPSV 1").startswith("229")
    ftp.sendcmd("ABOR")
    with pytest.raises(ftplib.error_perm, match=r"^522"):
        ftp.sendcmd("EPSV 2")
    # active mode: PORT, then EPRT
    ftp.set_pasv(False)
    assert download(ftp, "m.bin") == data
    sock = socket.create_server(("127.0.0.1", 0))
    with sock:
        port = sock.getsockname()[1]
        assert ftp.sendcmd(f"EPRT |1|127.0.0.1|{port}|").startswith("200")
        ftp.sendcmd("RETR m.bin")
        conn, _ = sock.accept()
        with conn:
            got = b""
            while chunk := conn.recv(65536):
                got += chunk
    assert ftp.voidresp().startswith("226")
    assert got == data


def test_epsv_all_refuses_other_data_commands(ftp: ftplib.FTP) -> None:
    assert ftp.sendcmd("EPSV ALL").startswith("200")
    for command in ("PASV", "PORT 127,0,0,1,4,1", "EPRT |1|127.0.0.1|1025|"):
        with pytest.raises(ftplib.error_perm, match=r"^503"):
            ftp.sendcmd(command)
    assert ftp.sendcmd("EPSV").startswith("229")


def test_transfer_without_data_setup_is_425(ftp: ftplib.FTP) -> None:
    upload(ftp, "x", b"x")
    with pytest.raises(ftplib.error_temp, match=r"^425"):
        ftp.sendcmd("RETR x")


def test_works_with_named_user_and_password(
    make_server: Callable[..., ServerThread], backend: str, tmp_path: object
) -> None:
    user = anyftp.User("alice", "s3cret", base_path=base_for(backend, tmp_path))  # type: ignore[arg-type]
    server = make_server(users=[user], path_io_factory=backend)
    ftp = ftplib.FTP()
    ftp.connect(server.host, server.port, timeout=TIMEOUT)
    with pytest.raises(ftplib.error_perm, match=r"^530"):
        ftp.login("alice", "wrong")
    with pytest.raises(ftplib.error_perm, match=r"^530"):
        ftp.login("bob", "s3cret")
    assert ftp.login("alice", "s3cret").startswith("230")
    with pytest.raises(ftplib.error_perm, match=r"^503"):
        ftp.sendcmd("PASS again")
    ftp.quit()


def test_relogin_as_another_user(
    make_server: Callable[..., ServerThread], tmp_path: object
) -> None:
    users = [
        anyftp.User("a", "1", base_path=tmp_path),
        anyftp.User(
            "b",
            "2",  # type: ignore[arg-type]
            base_path=tmp_path,
        ),
    ]  # type: ignore[arg-type]
    server = make_server(users=users)
    ftp = ftplib.FTP()
    ftp.connect(server.host, server.port, timeout=TIMEOUT)
    ftp.login("a", "1")
    ftp.login("b", "2")
    assert "logged in as b" in ftp.sendcmd("STAT")
    ftp.quit()


def test_split_list_options() -> None:
    assert split_list_options("-la /x y") == ("la", "/x y")
    assert split_list_options("") == ("", "")
    assert split_list_options("-a") == ("a", "")
