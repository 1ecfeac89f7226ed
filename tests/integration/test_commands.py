"""Commands whose output legitimately differs from Redis 7.0.15 (ids, CLIENT LIST/INFO lines,
INFO contents, TIME, COMMAND) are checked for shape and meaning here, and the documented
deliberate differences are asserted as OUR behaviour:
  * CLIENT SETINFO is implemented with Redis 7.2 semantics (7.0.15 says unknown subcommand);
  * HELLO 3 may be refused with -NOPROTO (RESP3 is not implemented yet) or answered as 7.0 does.
"""
import re
import time

import pytest

from itest_util import AGAINST_REDIS, PONG, Client, bulk


def test_client_setinfo(plain):
    with Client(plain.port) as c:
        if AGAINST_REDIS:
            assert c.call("CLIENT", "SETINFO", "lib-name", "x") == \
                b"-ERR unknown subcommand 'SETINFO'. Try CLIENT HELP.\r\n"
            return
        assert c.call("CLIENT", "SETINFO", "lib-name", "SE.Redis") == b"+OK\r\n"
        assert c.call("CLIENT", "SETINFO", "LIB-VER", "2.7.4") == b"+OK\r\n"
        assert c.call("client", "setinfo", "Lib-Name", "redis-py") == b"+OK\r\n"
        assert c.call("CLIENT", "SETINFO", "foo", "x") == b"-ERR Unrecognized option 'foo'\r\n"
        assert c.call("CLIENT", "SETINFO", "lib-name", "a b") == \
            b"-ERR lib-name cannot contain spaces, newlines or special characters.\r\n"
        assert c.call("CLIENT", "SETINFO", "LIB-VER", "1\n2") == \
            b"-ERR LIB-VER cannot contain spaces, newlines or special characters.\r\n"
        assert c.call("CLIENT", "SETINFO", "lib-name") == \
            b"-ERR wrong number of arguments for 'client|setinfo' command\r\n"
        assert c.call("CLIENT", "SETINFO", "lib-name", "a", "b") == \
            b"-ERR wrong number of arguments for 'client|setinfo' command\r\n"
        info = c.call("CLIENT", "INFO")
        assert b" lib-name=redis-py " in info and b" lib-ver=2.7.4" in info, info


def test_se_redis_handshake_pipelined(secured):
    """The StackExchange.Redis handshake as one batch: one reply per command, in order."""
    from itest_util import PASSWORD, encode
    with Client(secured.port) as c:
        batch = [("AUTH", PASSWORD), ("CLIENT", "SETNAME", "app"), ("CLIENT", "SETINFO", "lib-name", "SE.Redis"),
                 ("CLIENT", "SETINFO", "lib-ver", "2.7.4"), ("CLIENT", "ID"), ("CONFIG", "GET", "timeout"),
                 ("CONFIG", "GET", "databases"), ("SENTINEL", "MASTERS"), ("INFO", "replication"),
                 ("CLUSTER", "NODES"), ("ECHO", "tracer-42")]
        c.send(b"".join(encode(*cmd) for cmd in batch))
        replies = [c.read_reply() for _ in batch]
        assert replies[0] == b"+OK\r\n" and replies[1] == b"+OK\r\n"
        if not AGAINST_REDIS:
            assert replies[2] == replies[3] == b"+OK\r\n"
        assert re.fullmatch(rb":\d+\r\n", replies[4])
        assert replies[5] == b"*2\r\n$7\r\ntimeout\r\n$1\r\n0\r\n"
        assert replies[6] == b"*2\r\n$9\r\ndatabases\r\n$2\r\n16\r\n"
        assert replies[7] == b"-ERR unknown command 'SENTINEL', with args beginning with: 'MASTERS' \r\n"
        assert replies[8].startswith(b"$") and b"role:master\r\n" in replies[8]
        assert replies[9] == b"-ERR This instance has cluster support disabled\r\n"
        assert replies[10] == bulk("tracer-42")


def test_hello_3_is_refused_or_resp3(plain):
    with Client(plain.port) as c:
        reply = c.call("HELLO", "3")
        if reply.startswith(b"-"):
            assert reply == b"-NOPROTO unsupported protocol version\r\n"
            assert c.call("PING") == PONG  # still RESP2
        else:
            assert re.fullmatch(rb"%7\r\n\$6\r\nserver\r\n.*\$5\r\nproto\r\n:3\r\n.*", reply, re.S)


def test_client_id_is_unique_and_increasing(plain):
    ids = []
    for _ in range(5):
        with Client(plain.port) as c:
            reply = c.call("CLIENT", "ID")
            assert re.fullmatch(rb":\d+\r\n", reply)
            ids.append(int(reply[1:-2]))
    assert ids == sorted(ids) and len(set(ids)) == 5 and ids[0] > 0


def _bulk_text(reply):
    m = re.fullmatch(rb"\$(\d+)\r\n(.*)\r\n", reply, re.S)
    assert m and int(m.group(1)) == len(m.group(2)), reply[:200]
    return m.group(2).decode()


def test_client_list_and_info_shape(start):
    server = start()
    with Client(server.port) as a, Client(server.port) as b:
        a_id = int(a.call("CLIENT", "ID")[1:-2])
        b_id = int(b.call("CLIENT", "ID")[1:-2])
        assert a.call("CLIENT", "SETNAME", "alpha") == b"+OK\r\n"
        assert a.call("SELECT", "5") == b"+OK\r\n"
        assert b.call("PSUBSCRIBE", "x*").endswith(b":1\r\n")
        text = _bulk_text(a.call("CLIENT", "LIST"))
        lines = text.split("\n")
        assert lines[-1] == "" and len(lines) == 3, text   # one "\n"-terminated line per client
        by_id = {int(re.search(r"\bid=(\d+)", line).group(1)): line for line in lines[:-1]}
        assert set(by_id) == {a_id, b_id}
        port_a = a.sock.getsockname()[1]
        assert f"addr=127.0.0.1:{port_a} " in by_id[a_id]
        assert f"laddr=127.0.0.1:{server.port} " in by_id[a_id]
        assert " name=alpha " in by_id[a_id] and " db=5 " in by_id[a_id]
        assert " psub=1 " in by_id[b_id]
        info = _bulk_text(a.call("CLIENT", "INFO"))
        assert info.endswith("\n") and info.count("\n") == 1
        assert f"id={a_id} " in info and " name=alpha " in info
        only_b = _bulk_text(a.call("CLIENT", "LIST", "ID", str(b_id)))
        assert only_b.count("\n") == 1 and f"id={b_id} " in only_b
        pubsub = _bulk_text(a.call("CLIENT", "LIST", "TYPE", "pubsub"))
        assert pubsub.count("\n") == 1 and f"id={b_id} " in pubsub


def test_info_shape(plain):
    with Client(plain.port) as c:
        text = _bulk_text(c.call("INFO"))
        lines = text.split("\r\n")
        keys = [line.split(":", 1)[0] for line in lines if line and not line.startswith("#")]
        assert len(keys) == len(set(keys)), "INFO keys must be unique"
        for required in ("redis_version:", "redis_mode:standalone", "role:master", "loading:0",
                         f"tcp_port:{plain.port}", "connected_clients:"):
            assert any(line.startswith(required) for line in lines), required
        assert "# Server" in lines and "# Replication" in lines
        server = _bulk_text(c.call("INFO", "server"))
        assert server.startswith("# Server\r\n") and "# Replication" not in server
        replication = _bulk_text(c.call("INFO", "replication"))
        assert replication.startswith("# Replication\r\n") and "role:master\r\n" in replication
        assert _bulk_text(c.call("INFO", "nosuchsection")) == ""


def test_time_shape_and_value(plain):
    with Client(plain.port) as c:
        reply = c.call("TIME")
        m = re.fullmatch(rb"\*2\r\n\$\d+\r\n(\d+)\r\n\$\d+\r\n(\d+)\r\n", reply)
        assert m, reply
        assert abs(int(m.group(1)) - time.time()) < 2
        assert 0 <= int(m.group(2)) <= 999_999


def test_command_shapes(plain):
    with Client(plain.port) as c:
        count = c.call("COMMAND", "COUNT")
        assert re.fullmatch(rb":\d+\r\n", count) and int(count[1:-2]) >= 19
        listing = c.call("COMMAND", "LIST")
        for name in (b"subscribe", b"publish", b"ping", b"auth", b"client", b"config"):
            assert bulk(name) in listing, name
        info = c.call("COMMAND", "INFO", "publish")
        assert info.startswith(b"*1\r\n*") and bulk("publish") in info
        assert c.call("COMMAND", "INFO", "nosuch") == b"*1\r\n$-1\r\n"
        docs = c.call("COMMAND", "DOCS", "publish")
        assert docs.startswith(b"*2\r\n$7\r\npublish\r\n*")
        assert c.call("COMMAND", "DOCS", "nosuch") == b"*0\r\n"
        everything = c.call("COMMAND")
        assert everything.startswith(b"*%d\r\n" % int(count[1:-2]))


@pytest.mark.parametrize("args,prefix", [
    (("CLIENT", "HELP"), b"+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"),
    (("CONFIG", "HELP"), b"+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"),
    (("PUBSUB", "HELP"), b"+PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"),
], ids=["client", "config", "pubsub"])
def test_help_replies_are_status_arrays(plain, args, prefix):
    with Client(plain.port) as c:
        reply = c.call(*args)
        m = re.match(rb"\*(\d+)\r\n", reply)
        assert m and reply[m.end():].startswith(prefix)
        lines = reply[m.end():].split(b"\r\n")[:-1]
        assert len(lines) == int(m.group(1)) and all(line.startswith(b"+") for line in lines)
        assert lines[-1] == b"+    Prints this help."
