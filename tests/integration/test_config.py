"""Configuration: redis.conf syntax (comments, quotes, include), startup errors with file name
and line number, command-line flags, unix socket, bind / protected-mode, keepalive,
pidfile/logfile, and CONFIG GET/SET taking effect."""
import os
import re
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from itest_util import (AGAINST_REDIS, NOAUTH, PONG, SUB_PONG, Client, free_port,
                        run_server_expecting_failure, server_argv, wait_until)

DENIED = (b"-DENIED Redis is running in protected mode because protected mode is enabled and no "
          b"password is set for the default user. In this mode connections are only accepted from "
          b"the loopback interface. If you want to connect from external computers to Redis you may "
          b"adopt one of the following solutions: 1) Just disable protected mode sending the command "
          b"'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from "
          b"the same host the server is running, however MAKE SURE Redis is not publicly accessible "
          b"from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) "
          b"Alternatively you can just disable the protected mode by editing the Redis configuration "
          b"file, and setting the protected mode option to 'no', and then restarting the server. 3) "
          b"If you started the server manually just for testing, restart it with the "
          b"'--protected-mode no' option. 4) Setup a an authentication password for the default "
          b"user. NOTE: You only need to do one of the above things in order for the server to start "
          b"accepting connections from the outside.\r\n")


def config_get(client, name):
    reply = client.call("CONFIG", "GET", name)
    m = re.fullmatch(rb"\*2\r\n\$\d+\r\n[^\r]*\r\n\$\d+\r\n(.*)\r\n", reply, re.S)
    assert m, reply
    return m.group(1).decode()


@pytest.fixture
def confdir():
    # short path: unix socket paths are limited to 108 bytes
    with tempfile.TemporaryDirectory(prefix="bpconf") as d:
        yield Path(d)


def test_config_file_comments_quotes_include_and_flag_override(start, confdir):
    port = free_port()
    extra = confdir / "extra.conf"
    extra.write_text("# included file\nmaxclients 77\ntcp-keepalive '120'\n")
    main = confdir / "main.conf"
    main.write_text(
        "# Backplane test configuration\n"
        "   # an indented comment\n"
        "\n"
        f"port {port}\n"
        "bind 127.0.0.1\n"
        'requirepass "pa ss\\x21"\n'
        "timeout 17\n"
        "\t\n"
        f"include {extra}\n"
        "loglevel warning\n"
        "client-output-buffer-limit pubsub 2mb 1mb 30\n")
    server = start(main, port=None, bind=None, ready_port=port, timeout=5)
    with Client(port) as c:
        assert c.call("PING") == NOAUTH
        assert c.call("AUTH", "pa ss!") == b"+OK\r\n"
        assert config_get(c, "requirepass") == "pa ss!"
        assert config_get(c, "timeout") == "5"          # the flag overrides the file
        assert config_get(c, "maxclients") == "77"      # from the included file
        assert config_get(c, "tcp-keepalive") == "120"
        assert config_get(c, "loglevel") == "warning"
        assert config_get(c, "client-output-buffer-limit").endswith("pubsub 2097152 1048576 30")
    assert server.alive()


@pytest.mark.parametrize("lines,bad_line", [
    (["# comment", "port 0", "", "nosuchdirective yes"], 4),
    (["timeout 1", "maxclients abc"], 2),
    (["# a", "# b", "# c", "# d", "# e", "# f", 'requirepass "unbalanced'], 7),
    (["port 1 2"], 1),
    (["timeout"], 1),
    (["loglevel loud"], 1),
    (["protected-mode maybe"], 1),
    (["client-output-buffer-limit pubsub 1mb"], 1),
    (["proto-max-bulk-len 12xb"], 1),
], ids=["unknown-directive", "bad-integer", "unbalanced-quotes", "too-many-args", "no-value",
        "bad-enum", "bad-bool", "bad-obuf-limit", "bad-memory"])
def test_bad_config_line_fails_startup_with_file_and_line(confdir, lines, bad_line):
    conf = confdir / "bad.conf"
    conf.write_text("\n".join(lines) + "\n")
    code, output = run_server_expecting_failure(server_argv(conf, port=free_port()))
    assert code != 0
    assert re.search(rf"\bline {bad_line}\b", output), output
    if not AGAINST_REDIS:  # Redis does not print the file name; we do
        assert str(conf) in output, output


def test_bad_line_in_included_file_names_that_file(confdir):
    inc = confdir / "inc.conf"
    inc.write_text("timeout 3\n\nbogus-directive 1\n")
    conf = confdir / "main.conf"
    conf.write_text(f"# main\ninclude {inc}\n")
    code, output = run_server_expecting_failure(server_argv(conf, port=free_port()))
    assert code != 0
    assert re.search(r"\bline 3\b", output), output
    if not AGAINST_REDIS:
        assert str(inc) in output, output


def test_missing_config_file_fails(confdir):
    code, output = run_server_expecting_failure(server_argv(confdir / "missing.conf", port=free_port()))
    assert code != 0
    assert "missing.conf" in output


def test_bad_flag_fails_startup():
    code, output = run_server_expecting_failure(server_argv(port=free_port(), nosuchflag="1"))
    assert code != 0
    assert "nosuchflag" in output


def test_port_and_requirepass_flags(start):
    port = free_port()
    server = start(port=port, requirepass="flagpass")
    assert server.port == port
    with Client(port) as c:
        assert c.call("PING") == NOAUTH
        assert c.call("AUTH", "flagpass") == b"+OK\r\n"
        assert c.call("PING") == PONG
        assert config_get(c, "port") == str(port)


def test_unixsocket_only(start, confdir):
    path = str(confdir / "bp.sock")
    server = start(port=0, unixsocket=path, unixsocketperm=700)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    with Client(unix=path) as s, Client(unix=path) as p:
        assert s.call("PING") == PONG
        assert s.call("SUBSCRIBE", "u") == b"*3\r\n$9\r\nsubscribe\r\n$1\r\nu\r\n:1\r\n"
        assert p.call("PUBLISH", "u", "over unix") == b":1\r\n"
        assert s.read_reply() == b"*3\r\n$7\r\nmessage\r\n$1\r\nu\r\n$9\r\nover unix\r\n"
        assert s.call("PING") == SUB_PONG
        assert config_get(p, "unixsocket") == path
        assert config_get(p, "unixsocketperm") == "700"
    assert server.alive()


def test_unixsocket_and_tcp_together(start, confdir):
    path = str(confdir / "both.sock")
    server = start(unixsocket=path, unixsocketperm=777, requirepass="pw")
    with Client(unix=path) as s, Client(server.port) as p:
        assert s.call("PING") == NOAUTH  # a unix socket client needs AUTH too
        assert s.call("AUTH", "pw") == b"+OK\r\n"
        s.call("SUBSCRIBE", "mixed")
        assert p.call("AUTH", "pw") == b"+OK\r\n"
        assert p.call("PUBLISH", "mixed", "tcp->unix") == b":1\r\n"
        assert s.read_reply() == b"*3\r\n$7\r\nmessage\r\n$5\r\nmixed\r\n$9\r\ntcp->unix\r\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o777


def _non_loopback_ipv4():
    out = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    for m in re.finditer(r"inet (\d+\.\d+\.\d+\.\d+)/", out):
        if not m.group(1).startswith("127."):
            return m.group(1)
    raise AssertionError("this machine has no non-loopback IPv4 address for the bind tests")


def test_bind_limits_listening_addresses(start):
    ip = _non_loopback_ipv4()
    server = start()  # --bind 127.0.0.1
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((ip, server.port), timeout=2).close()
    with Client(server.port) as c:
        assert c.call("PING") == PONG


def test_protected_mode_denies_non_loopback_without_password(start):
    ip = _non_loopback_ipv4()
    server = start(bind=f"127.0.0.1 {ip}")
    with Client(server.port, host=ip) as c:
        # the reply comes on accept, before anything is sent
        data, closed = c.wait_closed(timeout=3)
        assert (data, closed) == (DENIED, True)
    with Client(server.port) as local:
        assert local.call("PING") == PONG
        assert local.call("CONFIG", "SET", "protected-mode", "no") == b"+OK\r\n"
    with Client(server.port, host=ip) as c:
        assert c.call("PING") == PONG


def test_protected_mode_allows_non_loopback_with_password(start):
    ip = _non_loopback_ipv4()
    server = start(bind=f"127.0.0.1 {ip}", requirepass="pw")
    with Client(server.port, host=ip) as c:
        assert c.call("PING") == NOAUTH
        assert c.call("AUTH", "pw") == b"+OK\r\n"
        assert c.call("PING") == PONG


def _keepalive_timer(port):
    out = subprocess.run(["ss", "-tnoH", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True).stdout
    m = re.search(r"timer:\(keepalive,(?:(\d+)min)?(?:(\d+)sec)?(?:(\d+)ms)?,", out)
    assert m and any(m.groups()), f"no keepalive timer on the server side: {out!r}"
    return int(m.group(1) or 0) * 60 + int(m.group(2) or 0) + int(m.group(3) or 0) / 1000


@pytest.mark.parametrize("keepalive,low,high", [(None, 290, 300), (60, 50, 60)], ids=["default", "60"])
def test_tcp_keepalive_is_set_on_client_sockets(start, keepalive, low, high):
    server = start() if keepalive is None else start(tcp_keepalive=keepalive)
    with Client(server.port) as c:
        assert c.call("PING") == PONG
        assert low <= _keepalive_timer(server.port) <= high


def test_pidfile_and_logfile(start, confdir):
    pidfile = confdir / "bp.pid"
    logfile = confdir / "bp.log"
    server = start(pidfile=str(pidfile), logfile=str(logfile), loglevel="notice")
    assert wait_until(lambda: pidfile.exists() and pidfile.read_text().strip() != "")
    assert int(pidfile.read_text().strip()) == server.pid
    assert wait_until(lambda: logfile.exists() and logfile.stat().st_size > 0)
    with Client(server.port) as c:
        assert config_get(c, "pidfile") == str(pidfile)
        assert config_get(c, "logfile") == str(logfile)


def test_config_set_timeout_takes_effect(start):
    server = start()
    with Client(server.port) as admin, Client(server.port) as idle:
        assert idle.call("PING") == PONG
        assert admin.call("CONFIG", "SET", "timeout", "1") == b"+OK\r\n"
        data, closed = idle.wait_closed(timeout=4)
        assert (data, closed) == (b"", True)


def test_config_set_maxclients_takes_effect(start):
    server = start()
    time.sleep(0.3)  # let the server notice that the readiness probe's connection closed
    with Client(server.port) as admin, Client(server.port) as other:
        assert other.call("PING") == PONG
        assert admin.call("CONFIG", "SET", "maxclients", "2") == b"+OK\r\n"
        with Client(server.port) as extra:
            assert extra.wait_closed(timeout=3) == (b"-ERR max number of clients reached\r\n", True)


def test_config_set_requirepass_takes_effect(start):
    server = start()
    with Client(server.port) as admin:
        assert admin.call("CONFIG", "SET", "requirepass", "later") == b"+OK\r\n"
        assert admin.call("PING") == PONG  # already authenticated
        with Client(server.port) as c:
            assert c.call("PING") == NOAUTH
            assert c.call("AUTH", "later") == b"+OK\r\n"
        assert admin.call("CONFIG", "SET", "requirepass", "") == b"+OK\r\n"
        with Client(server.port) as c:
            assert c.call("PING") == PONG


def test_config_set_output_buffer_limit_takes_effect(start):
    server = start()
    with Client(server.port) as admin, Client(server.port, rcvbuf=4096) as slow:
        assert admin.call("CONFIG", "SET", "client-output-buffer-limit", "pubsub 256kb 0 0") == b"+OK\r\n"
        slow.call("SUBSCRIBE", "ch")
        for i in range(2000):
            reply = admin.call("PUBLISH", "ch", "x" * 8192)
            if reply == b":0\r\n":
                break
        assert reply == b":0\r\n", "the new hard limit did not disconnect the slow subscriber"
        assert slow.wait_closed(timeout=10)[1]


def test_config_set_proto_max_bulk_len_takes_effect(start):
    server = start()
    with Client(server.port) as admin, Client(server.port) as c:
        assert admin.call("CONFIG", "SET", "proto-max-bulk-len", "1mb") == b"+OK\r\n"
        c.send(b"*2\r\n$4\r\nECHO\r\n$1048577\r\n")
        assert c.wait_closed() == (b"-ERR Protocol error: invalid bulk length\r\n", True)


def test_config_get_reports_every_directive_set_by_flags(start, confdir):
    sock = str(confdir / "all.sock")
    server = start(timeout=9, tcp_keepalive=45, tcp_backlog=128, databases=8, maxclients=99,
                   protected_mode="no", requirepass="allpw", proto_max_bulk_len="4mb",
                   client_query_buffer_limit="2mb", client_output_buffer_limit="pubsub 4mb 2mb 15",
                   loglevel="verbose", unixsocket=sock, unixsocketperm=755,
                   pidfile=str(confdir / "all.pid"), logfile=str(confdir / "all.log"))
    expected = {
        "port": str(server.port), "bind": "127.0.0.1", "timeout": "9", "tcp-keepalive": "45",
        "tcp-backlog": "128", "databases": "8", "maxclients": "99", "protected-mode": "no",
        "requirepass": "allpw", "proto-max-bulk-len": "4194304",
        "client-query-buffer-limit": "2097152",
        "client-output-buffer-limit": "normal 0 0 0 slave 268435456 67108864 60 pubsub 4194304 2097152 15",
        "loglevel": "verbose", "unixsocket": sock, "unixsocketperm": "755",
        "pidfile": str(confdir / "all.pid"), "logfile": str(confdir / "all.log"),
    }
    with Client(server.port) as c:
        assert c.call("AUTH", "allpw") == b"+OK\r\n"
        for name, value in expected.items():
            assert config_get(c, name) == value, name
        assert c.call("SELECT", "7") == b"+OK\r\n"
        assert c.call("SELECT", "8") == b"-ERR DB index is out of range\r\n"
