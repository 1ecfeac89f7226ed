"""redis-cli (Debian's 7.0.15) against backplane-server, with exact output checks.

stdout is a pipe here, so redis-cli prints replies in its raw format unless `--no-raw` is given
(then it uses the TTY format: `"quoted"`, `(integer) 1`, `1) ...`). Where it makes sense the
same redis-cli invocation is also run against Debian's redis-server and the outputs must be
identical (INFO, ids and the like excepted).
"""
import os
import re
import shutil
import tempfile

import pytest

from clients_util import (AUTH_WARNING, NOAUTH, WRONGPASS, CliProcess, cli, redis_repr,
                          wait_until)
from servers import RawClient, start_backplane, start_redis


@pytest.fixture(scope="module")
def pair():
    """A backplane-server and a redis-server, shared by the differential checks of a module."""
    with start_backplane() as ours, start_redis() as theirs:
        yield ours, theirs


@pytest.fixture
def protected():
    """backplane-server and redis-server, both with `requirepass pw`."""
    with start_backplane(requirepass="pw") as ours, start_redis(requirepass="pw") as theirs:
        yield ours, theirs


def numsub(port, channel):
    with RawClient(port) as client:
        reply = client.call("PUBSUB", "NUMSUB", channel)
    return int(reply.rsplit(b":", 1)[1])


def numpat(port):
    with RawClient(port) as client:
        return int(client.call("PUBSUB", "NUMPAT")[1:])


def no_subscriptions(port):
    with RawClient(port) as client:
        return (client.call("PUBSUB", "CHANNELS") == b"*0\r\n"
                and client.call("PUBSUB", "NUMPAT") == b":0\r\n")


# --------------------------------------------------------------------------------------------
# Basics


def test_ping_prints_pong(backplane):
    assert cli("-p", backplane.port, "PING").as_tuple() == (0, b"PONG\n", b"")


def test_ping_with_argument_raw_and_tty_format(backplane):
    assert cli("-p", backplane.port, "PING", "hello").as_tuple() == (0, b"hello\n", b"")
    assert cli("-p", backplane.port, "--no-raw", "PING", "hello").as_tuple() == \
        (0, b'"hello"\n', b"")


def test_raw_option(backplane):
    port = backplane.port
    payload = bytes(range(256)) + b"\r\n\x00end"
    # --raw prints bulk strings verbatim: every byte, NUL included, then a newline.
    assert cli("-p", port, "--raw", "-x", "ECHO", stdin=payload).as_tuple() == \
        (0, payload + b"\n", b"")
    assert cli("-p", port, "--raw", "PUBSUB", "NUMSUB", "a", "b").as_tuple() == \
        (0, b"a\n0\nb\n0\n", b"")
    assert cli("-p", port, "--raw", "PUBLISH", "nobody", "x").as_tuple() == (0, b"0\n", b"")
    assert cli("-p", port, "--raw", "CONFIG", "GET", "maxclients").as_tuple() == \
        (0, b"maxclients\n10000\n", b"")
    # Errors in raw mode: the message, then an empty line.
    assert cli("-p", port, "--raw", "FOO", "bar").as_tuple() == \
        (0, b"ERR unknown command 'FOO', with args beginning with: 'bar' \n\n", b"")
    # The same payload through the TTY formatter: quoted with \xNN escapes.
    assert cli("-p", port, "--no-raw", "-x", "ECHO", stdin=payload).as_tuple() == \
        (0, redis_repr(payload) + b"\n", b"")


def test_info_reports_standalone_mode(backplane):
    result = cli("-p", backplane.port, "INFO")
    assert (result.returncode, result.stderr) == (0, b"")
    lines = result.stdout.decode().split("\r\n")
    assert "redis_mode:standalone" in lines
    assert "role:master" in lines
    assert lines[0] == "# Server"
    assert f"tcp_port:{backplane.port}" in lines
    server = cli("-p", backplane.port, "INFO", "server").stdout.decode().split("\r\n")
    assert server[0] == "# Server"
    assert "redis_mode:standalone" in server
    assert not any(line.startswith("# ") for line in server[1:])


def test_info_sections_match_redis(pair):
    ours, theirs = pair

    def sections(port):
        return [line for line in cli("-p", port, "INFO").stdout.decode().split("\r\n")
                if line.startswith("# ")]

    assert sections(ours.port) == sections(theirs.port)
    for section in ("server", "replication", "clients", "stats"):
        def fields(port):
            text = cli("-p", port, "INFO", section).stdout.decode()
            return {line.split(":", 1)[0] for line in text.split("\r\n") if ":" in line}
        missing = fields(theirs.port) - fields(ours.port)
        assert {"redis_version", "redis_mode", "tcp_port", "role", "connected_clients",
                "total_connections_received", "pubsub_channels"}.isdisjoint(missing), missing


# --------------------------------------------------------------------------------------------
# Authentication (-a, --no-auth-warning, --user/--pass, REDISCLI_AUTH)


def test_password_option_prints_warning_and_works(protected):
    ours, _ = protected
    assert cli("-p", ours.port, "-a", "pw", "PING").as_tuple() == (0, b"PONG\n", AUTH_WARNING)
    assert cli("-p", ours.port, "-a", "pw", "PUBLISH", "c", "m").as_tuple() == \
        (0, b"0\n", AUTH_WARNING)


def test_no_auth_warning_suppresses_warning(protected):
    ours, _ = protected
    assert cli("-p", ours.port, "-a", "pw", "--no-auth-warning", "PING").as_tuple() == \
        (0, b"PONG\n", b"")


def test_wrong_password(protected):
    ours, _ = protected
    result = cli("-p", ours.port, "-a", "wrong", "PING")
    assert result.as_tuple() == (
        0, NOAUTH + b"\n\n", AUTH_WARNING + b"AUTH failed: " + WRONGPASS + b"\n")
    result = cli("-p", ours.port, "-a", "wrong", "--no-auth-warning", "--no-raw", "PUBLISH",
                 "c", "m")
    assert result.as_tuple() == (
        0, b"(error) " + NOAUTH + b"\n", b"AUTH failed: " + WRONGPASS + b"\n")


def test_no_password_given(protected):
    ours, _ = protected
    assert cli("-p", ours.port, "PING").as_tuple() == (0, NOAUTH + b"\n\n", b"")
    # redis-cli enters its pub/sub loop, prints the error and leaves.
    assert cli("-p", ours.port, "--no-raw", "SUBSCRIBE", "c").as_tuple() == \
        (0, b"Reading messages... (press Ctrl-C to quit)\n(error) " + NOAUTH + b"\n", b"")


def test_user_pass_and_env_password(protected):
    ours, _ = protected
    assert cli("-p", ours.port, "--user", "default", "--pass", "pw", "--no-auth-warning",
               "PING").as_tuple() == (0, b"PONG\n", b"")
    assert cli("-p", ours.port, "--user", "bob", "--pass", "pw", "--no-auth-warning",
               "PING").as_tuple() == (0, NOAUTH + b"\n\n",
                                      b"AUTH failed: " + WRONGPASS + b"\n")
    assert cli("-p", ours.port, "PING", env={"REDISCLI_AUTH": "pw"}).as_tuple() == \
        (0, b"PONG\n", b"")


def test_auth_in_interactive_mode(protected):
    ours, _ = protected
    result = cli("-p", ours.port, stdin=b"PING\nAUTH wrong\nAUTH pw\nPING\nAUTH wrong\nPING\n")
    assert result.as_tuple() == (
        0, NOAUTH + b"\n\n" + WRONGPASS + b"\n\nOK\nPONG\n" + WRONGPASS + b"\n\nPONG\n", b"")


def test_password_option_against_server_without_password(backplane):
    result = cli("-p", backplane.port, "-a", "pw", "PING")
    assert result.as_tuple() == (
        0, b"PONG\n",
        AUTH_WARNING + b"AUTH failed: ERR AUTH <password> called without any password "
        b"configured for the default user. Are you sure your configuration is correct?\n")


AUTH_CASES = [
    ["-a", "pw", "PING"],
    ["-a", "pw", "--no-auth-warning", "--no-raw", "PUBSUB", "NUMSUB", "x"],
    ["-a", "wrong", "PING"],
    ["-a", "wrong", "--no-auth-warning", "--no-raw", "PING"],
    ["PING"],
    ["--no-raw", "PUBLISH", "a", "b"],
    ["--no-raw", "AUTH", "pw"],
    ["--no-raw", "AUTH", "default", "pw"],
    ["--no-raw", "AUTH", "bob", "pw"],
    ["--no-raw", "AUTH"],
    ["--no-raw", "AUTH", "a", "b", "c"],
    ["--no-raw", "HELLO", "3"],
    ["--no-raw", "HELLO", "2", "AUTH", "default", "wrong"],
    ["--user", "default", "--pass", "wrong", "--no-auth-warning", "PING"],
    ["--no-raw", "QUIT"],
]


@pytest.mark.parametrize("args", AUTH_CASES, ids=[" ".join(a) for a in AUTH_CASES])
def test_auth_output_matches_redis(protected, args):
    ours, theirs = protected
    assert cli("-p", ours.port, *args).as_tuple() == cli("-p", theirs.port, *args).as_tuple()


def test_interactive_auth_matches_redis(protected):
    ours, theirs = protected
    script = b"PING\nAUTH wrong\nPUBLISH a b\nAUTH pw\nPING\nRESET\nPING\nAUTH default pw\nPING\n"
    assert cli("-p", ours.port, stdin=script).as_tuple() == \
        cli("-p", theirs.port, stdin=script).as_tuple()


# --------------------------------------------------------------------------------------------
# Pub/sub: a `redis-cli SUBSCRIBE` process receives what `redis-cli PUBLISH` sends


def subscriber_session(port, options, command, publishes, ready, done, numsub_channel=None,
                       pattern=False):
    """Starts `redis-cli options... command...`, waits until it printed `ready`, publishes
    every (channel, payload) with `redis-cli PUBLISH` (payloads through -x, so NUL works),
    waits until it printed `done`, stops it and returns (its stdout, its stderr, the
    publishers' outputs)."""
    with CliProcess("-p", port, *options, *command) as sub:
        sub.wait_for(ready)
        if numsub_channel is not None:
            assert numsub(port, numsub_channel) == 1
        if pattern:
            assert numpat(port) == 1
        published = []
        for channel, payload in publishes:
            result = cli("-p", port, "-x", "PUBLISH", channel, stdin=payload)
            published.append(result.as_tuple())
        sub.wait_for(done)
        sub.quiet_for(0.1)
        out, err = sub.stop()
    # The next session (maybe on a shared server) must not see this subscriber.
    wait_until(lambda: no_subscriptions(port), what="the killed subscriber to be gone")
    return out, err, published


def test_subscribe_receives_messages(backplane):
    out, err, published = subscriber_session(
        backplane.port, [], ["SUBSCRIBE", "ch"], [("ch", b"msg"), ("ch", b"hello world"),
                                                   ("other", b"x"), ("ch", b"end")],
        ready=b"subscribe\nch\n1\n", done=b"end\n", numsub_channel="ch")
    assert published == [(0, b"1\n", b""), (0, b"1\n", b""), (0, b"0\n", b""),
                         (0, b"1\n", b"")]
    assert out.split(b"\n") == [b"subscribe", b"ch", b"1",
                                b"message", b"ch", b"msg",
                                b"message", b"ch", b"hello world",
                                b"message", b"ch", b"end", b""]
    assert err == b""


def test_subscribe_tty_format(backplane):
    out, err, published = subscriber_session(
        backplane.port, ["--no-raw"], ["SUBSCRIBE", "ch", "ch2"],
        [("ch2", b"first"), ("ch", b"second")],
        ready=b'3) (integer) 2\n', done=b'"second"\n')
    assert published == [(0, b"1\n", b""), (0, b"1\n", b"")]
    assert out == (b"Reading messages... (press Ctrl-C to quit)\n"
                   b'1) "subscribe"\n2) "ch"\n3) (integer) 1\n'
                   b'1) "subscribe"\n2) "ch2"\n3) (integer) 2\n'
                   b'1) "message"\n2) "ch2"\n3) "first"\n'
                   b'1) "message"\n2) "ch"\n3) "second"\n')
    assert err == b""


def test_psubscribe_receives_pmessages(backplane):
    out, err, published = subscriber_session(
        backplane.port, [], ["PSUBSCRIBE", "news.*"],
        [("news.sport", b"goal"), ("news", b"nothing"), ("news.tech", b"chip")],
        ready=b"psubscribe\nnews.*\n1\n", done=b"chip\n", pattern=True)
    assert published == [(0, b"1\n", b""), (0, b"0\n", b""), (0, b"1\n", b"")]
    assert out.split(b"\n") == [b"psubscribe", b"news.*", b"1",
                                b"pmessage", b"news.*", b"news.sport", b"goal",
                                b"pmessage", b"news.*", b"news.tech", b"chip", b""]
    assert err == b""


def test_psubscribe_tty_format(backplane):
    out, _, _ = subscriber_session(
        backplane.port, ["--no-raw"], ["PSUBSCRIBE", "h?llo", "x*"], [("hello", b"hi")],
        ready=b"3) (integer) 2\n", done=b'4) "hi"\n')
    assert out == (b"Reading messages... (press Ctrl-C to quit)\n"
                   b'1) "psubscribe"\n2) "h?llo"\n3) (integer) 1\n'
                   b'1) "psubscribe"\n2) "x*"\n3) (integer) 2\n'
                   b'1) "pmessage"\n2) "h?llo"\n3) "hello"\n4) "hi"\n')


def test_csv_subscribe_and_publish(backplane):
    port = backplane.port
    out, err, published = subscriber_session(
        port, ["--csv"], ["SUBSCRIBE", "c1", "c2"],
        [("c1", b"plain"), ("c2", b'with "quotes", commas\n'), ("c1", b"end")],
        ready=b'"subscribe","c2",2\n', done=b'"end"\n')
    assert published == [(0, b"1\n", b"")] * 3
    assert out == (b"Reading messages... (press Ctrl-C to quit)\n"
                   b'"subscribe","c1",1\n"subscribe","c2",2\n'
                   b'"message","c1","plain"\n'
                   b'"message","c2","with \\"quotes\\", commas\\n"\n'
                   b'"message","c1","end"\n')
    assert err == b""
    assert cli("-p", port, "--csv", "PUBLISH", "c1", "x").as_tuple() == (0, b"0\n", b"")
    assert cli("-p", port, "--csv", "PUBSUB", "NUMSUB", "c1", "c2").as_tuple() == \
        (0, b'"c1",0,"c2",0\n', b"")


BINARY_PAYLOADS = [bytes(range(256)), b"\x00", b"a\x00b", b"\r\n", b"*3\r\n$7\r\nmessage\r\n",
                   b"\xff\xfe\x80\x7f", "héllo wörld".encode(), b'"\\\t\x07\x08']


def test_binary_payloads_escaped(backplane):
    publishes = [("bin", p) for p in BINARY_PAYLOADS] + [("bin", b"end")]
    out, err, published = subscriber_session(
        backplane.port, ["--no-raw"], ["SUBSCRIBE", "bin"], publishes,
        ready=b"3) (integer) 1\n", done=b'3) "end"\n')
    assert published == [(0, b"1\n", b"")] * len(publishes)
    expected = (b"Reading messages... (press Ctrl-C to quit)\n"
                b'1) "subscribe"\n2) "bin"\n3) (integer) 1\n')
    for _, payload in publishes:
        expected += b'1) "message"\n2) "bin"\n3) ' + redis_repr(payload) + b"\n"
    assert out == expected
    # Spot-check the escaping itself so that redis_repr() can't hide a mistake.
    assert b'3) "\\x00"\n' in out
    assert b'3) "a\\x00b"\n' in out
    assert b'3) "\\r\\n"\n' in out
    assert b'3) "\\xff\\xfe\\x80\\x7f"\n' in out
    assert b'3) "h\\xc3\\xa9llo w\\xc3\\xb6rld"\n' in out
    assert b'3) "\\"\\\\\\t\\a\\b"\n' in out
    assert err == b""


def test_binary_payloads_raw(backplane):
    publishes = [("bin", p) for p in BINARY_PAYLOADS] + [("bin", b"end")]
    out, err, _ = subscriber_session(
        backplane.port, [], ["SUBSCRIBE", "bin"], publishes,
        ready=b"subscribe\nbin\n1\n", done=b"message\nbin\nend\n")
    expected = b"subscribe\nbin\n1\n" + b"".join(
        b"message\nbin\n" + payload + b"\n" for _, payload in publishes)
    assert out == expected
    assert err == b""


def test_binary_channel_name(backplane):
    channel = "ch\x01 with space"
    out, _, published = subscriber_session(
        backplane.port, ["--no-raw"], ["SUBSCRIBE", channel], [(channel, b"x")],
        ready=b"3) (integer) 1\n", done=b'3) "x"\n')
    assert published == [(0, b"1\n", b"")]
    assert b'2) "ch\\x01 with space"\n' in out
    assert out.count(b'2) "ch\\x01 with space"\n') == 2


SUBSCRIBER_SCENARIOS = {
    # name: (options, command, publishes, printed once subscribed, printed at the end)
    "subscribe-raw": ([], ["SUBSCRIBE", "a", "b"],
                      [("a", b"1"), ("b", b"2"), ("c", b"3"), ("a", b"end")],
                      b"subscribe\nb\n2\n", b"end\n"),
    "subscribe-tty": (["--no-raw"], ["SUBSCRIBE", "a"],
                      [("a", bytes(range(256))), ("a", b"end")], b"3) (integer) 1\n",
                      b'"end"\n'),
    "subscribe-csv": (["--csv"], ["SUBSCRIBE", "a"], [("a", b'q"\x00'), ("a", b"end")],
                      b'"subscribe","a",1\n', b'"end"\n'),
    # (No channel matches both patterns: Redis delivers those in its dict's order.)
    "psubscribe-tty": (["--no-raw"], ["PSUBSCRIBE", "a*", "*b"],
                       [("ax", b"one"), ("xb", b"end")], b"3) (integer) 2\n", b'"end"\n'),
    "subscribe-resp3": (["-3", "--no-raw"], ["SUBSCRIBE", "a"],
                        [("a", b"\x00\r\n"), ("a", b"end")], b"3) (integer) 1\n",
                        b'"end"\n'),
    "psubscribe-resp3-raw": (["-3"], ["PSUBSCRIBE", "a*"], [("a1", b"x"), ("a2", b"end")],
                             b"psubscribe\na*\n1\n", b"end\n"),
}


@pytest.mark.parametrize("name", list(SUBSCRIBER_SCENARIOS))
def test_subscriber_output_matches_redis(pair, name):
    options, command, publishes, ready, done = SUBSCRIBER_SCENARIOS[name]
    ours, theirs = [subscriber_session(server.port, options, command, publishes, ready=ready,
                                       done=done) for server in pair]
    assert ours == theirs
    assert ours[0].endswith(done)


# --------------------------------------------------------------------------------------------
# Interactive mode: redis-cli with no command reads commands line by line from stdin


def test_interactive_commands(backplane):
    script = (b"PING\n"
              b"ECHO hello\n"
              b'PUBLISH ch "a b"\n'
              b"PUBSUB NUMSUB ch\n"
              b"FOO\n"
              b"SELECT 1\n"
              b"CLIENT SETNAME myname\n"
              b"CLIENT GETNAME\n"
              b'ECHO "x\\x00\\xffy"\n'
              b"ping\n")
    assert cli("-p", backplane.port, stdin=script).as_tuple() == (
        0,
        b"PONG\nhello\n0\nch\n0\n"
        b"ERR unknown command 'FOO', with args beginning with: \n\n"
        b"OK\nOK\nmyname\nx\x00\xffy\nPONG\n",
        b"")
    assert cli("-p", backplane.port, "--no-raw", stdin=script).as_tuple() == (
        0,
        b'PONG\n"hello"\n(integer) 0\n1) "ch"\n2) (integer) 0\n'
        b"(error) ERR unknown command 'FOO', with args beginning with: \n"
        b'OK\nOK\n"myname"\n"x\\x00\\xffy"\nPONG\n',
        b"")


def test_interactive_commands_match_redis(pair):
    script = (b"PING\nPING x\nECHO\nECHO \"a\\r\\nb\"\nPUBLISH c m\nPUBSUB CHANNELS\n"
              b"PUBSUB NUMPAT\nPUBSUB NUMSUB\nCONFIG GET maxclients\nCLIENT GETNAME\n"
              b"CLIENT SETNAME a\nCLIENT GETNAME\nSELECT 2\nSELECT 99\nUNSUBSCRIBE\n"
              b"PUNSUBSCRIBE\nunknowncmd a b\nPUBSUB nosuch\nBADQUOTE \"abc\n\nRESET\nQUIT\n")
    ours, theirs = pair
    for options in ([], ["--no-raw"], ["--csv"]):
        assert cli("-p", ours.port, *options, stdin=script).as_tuple() == \
            cli("-p", theirs.port, *options, stdin=script).as_tuple()


def test_interactive_subscribe(backplane):
    port = backplane.port
    with CliProcess("-p", port, interactive=True) as sub:
        sub.send(b"PING\nSUBSCRIBE ch ch2\n")
        sub.wait_for(b"subscribe\nch2\n2\n")
        assert numsub(port, "ch") == 1 and numsub(port, "ch2") == 1
        assert cli("-p", port, "PUBLISH", "ch2", "one").stdout == b"1\n"
        assert cli("-p", port, "-x", "PUBLISH", "ch", stdin=b"t\x00wo").stdout == b"1\n"
        sub.wait_for(b"t\x00wo\n")
        sub.quiet_for(0.1)
        out, err = sub.stop()
    assert out == (b"PONG\nsubscribe\nch\n1\nsubscribe\nch2\n2\n"
                   b"message\nch2\none\nmessage\nch\nt\x00wo\n")
    assert err == b""


# --------------------------------------------------------------------------------------------
# Connection options: -n, -3, -s


def test_select_database_option(backplane):
    port = backplane.port
    assert cli("-p", port, "-n", "1", "PING").as_tuple() == (0, b"PONG\n", b"")
    info = cli("-p", port, "-n", "1", "CLIENT", "INFO")
    assert (info.returncode, info.stderr) == (0, b"")
    assert re.search(rb" db=1 ", info.stdout), info.stdout
    assert re.search(rb" db=0 ", cli("-p", port, "CLIENT", "INFO").stdout)
    assert cli("-p", port, "-n", "15", "PING").as_tuple() == (0, b"PONG\n", b"")
    # Out of range: redis-cli reports the failed SELECT and still runs the command.
    assert cli("-p", port, "-n", "16", "PING").as_tuple() == \
        (0, b"PONG\n", b"SELECT 16 failed: ERR DB index is out of range\n")
    # Pub/sub ignores the database: a publisher on db 1 reaches a subscriber on db 0.
    out, _, published = subscriber_session(port, ["-n", "3"], ["SUBSCRIBE", "dbch"],
                                           [("dbch", b"across")], ready=b"dbch\n1\n",
                                           done=b"across\n")
    assert published == [(0, b"1\n", b"")]


def test_select_database_option_matches_redis(pair):
    ours, theirs = pair
    for args in (["-n", "1", "PING"], ["-n", "16", "PING"], ["-n", "-1", "PING"],
                 ["-n", "1", "--no-raw", "SELECT", "20"]):
        assert cli("-p", ours.port, *args).as_tuple() == cli("-p", theirs.port, *args).as_tuple()


def test_resp3_option(backplane):
    port = backplane.port
    assert cli("-p", port, "-3", "PING").as_tuple() == (0, b"PONG\n", b"")
    # A RESP3 map is printed as `1# "key" => value`, an array as `1) ...`.
    assert cli("-p", port, "-3", "--no-raw", "CONFIG", "GET", "maxclients").as_tuple() == \
        (0, b'1# "maxclients" => "10000"\n', b"")
    assert cli("-p", port, "-3", "--no-raw", "PUBSUB", "NUMSUB", "a").as_tuple() == \
        (0, b'1) "a"\n2) (integer) 0\n', b"")
    assert re.search(rb" resp=3( |\n|$)", cli("-p", port, "-3", "CLIENT", "INFO").stdout)
    assert re.search(rb" resp=2( |\n|$)", cli("-p", port, "CLIENT", "INFO").stdout)


def test_resp3_option_matches_redis(pair):
    ours, theirs = pair
    for args in (["-3", "PING"], ["-3", "--no-raw", "PING", "x"],
                 ["-3", "--no-raw", "CONFIG", "GET", "timeout"],
                 ["-3", "--no-raw", "CLIENT", "GETNAME"], ["-3", "--csv", "PUBSUB", "NUMSUB", "a"],
                 ["-3", "--no-raw", "PUBSUB", "CHANNELS"], ["-3", "--no-raw", "FOO"]):
        assert cli("-p", ours.port, *args).as_tuple() == cli("-p", theirs.port, *args).as_tuple()


def mask_hello_id(text: bytes) -> bytes:
    return re.sub(rb'("id"(?: =>|\n\s*\d+\))) \(integer\) \d+', rb"\1 (integer) <id>", text)


@pytest.mark.parametrize("args", [["--no-raw", "HELLO", "3"], ["-3", "--no-raw", "HELLO", "2"],
                                  ["-3", "--no-raw", "HELLO", "3"], ["--no-raw", "HELLO"]],
                         ids=["hello3-on-resp2", "hello2-on-resp3", "hello3-on-resp3", "hello"])
def test_hello_output_matches_redis(pair, args):
    """HELLO switches protocol first: its own reply is a map after HELLO 3, a flat array after
    HELLO 2, whatever the protocol was before."""
    ours, theirs = pair
    mine = cli("-p", ours.port, *args)
    reference = cli("-p", theirs.port, *args)
    assert b'"id"' in reference.stdout
    assert (mine.returncode, mask_hello_id(mine.stdout), mine.stderr) == \
        (reference.returncode, mask_hello_id(reference.stdout), reference.stderr)


@pytest.fixture
def unix_backplane():
    directory = tempfile.mkdtemp(prefix="bpcli")
    path = os.path.join(directory, "bp.sock")
    try:
        with start_backplane(unixsocket=path, unixsocketperm=700) as server:
            yield server, path
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_unix_socket(unix_backplane):
    server, path = unix_backplane
    assert cli("-s", path, "PING").as_tuple() == (0, b"PONG\n", b"")
    info = cli("-s", path, "CLIENT", "INFO").stdout
    assert f"addr={path}:0 ".encode() in info
    # A subscriber on the Unix socket gets what a TCP client publishes, and the other way round.
    with CliProcess("-s", path, "SUBSCRIBE", "u") as sub:
        sub.wait_for(b"subscribe\nu\n1\n")
        assert cli("-p", server.port, "PUBLISH", "u", "over tcp").stdout == b"1\n"
        sub.wait_for(b"over tcp\n")
        with CliProcess("-p", server.port, "SUBSCRIBE", "t") as tcp_sub:
            tcp_sub.wait_for(b"subscribe\nt\n1\n")
            assert cli("-s", path, "PUBLISH", "t", "over unix").stdout == b"1\n"
            tcp_sub.wait_for(b"over unix\n")
            assert tcp_sub.stop()[0] == b"subscribe\nt\n1\nmessage\nt\nover unix\n"
        assert sub.stop()[0] == b"subscribe\nu\n1\nmessage\nu\nover tcp\n"


def test_unix_socket_with_password():
    directory = tempfile.mkdtemp(prefix="bpcli")
    path = os.path.join(directory, "bp.sock")
    try:
        with start_backplane(unixsocket=path, requirepass="pw"):
            assert cli("-s", path, "PING").as_tuple() == (0, NOAUTH + b"\n\n", b"")
            assert cli("-s", path, "-a", "pw", "--no-auth-warning", "PING").as_tuple() == \
                (0, b"PONG\n", b"")
            assert cli("-s", path, "-a", "pw", "PING").as_tuple() == \
                (0, b"PONG\n", AUTH_WARNING)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_unix_socket_client_info_matches_redis():
    """CLIENT LIST/INFO of a Unix-socket client: Redis shows flags=U, and cmd= names the
    command being run (client|info)."""
    directory = tempfile.mkdtemp(prefix="bpcli")
    try:
        lines = []
        for start, name in ((start_backplane, "bp.sock"), (start_redis, "rd.sock")):
            path = os.path.join(directory, name)
            with start(unixsocket=path):
                lines.append(cli("-s", path, "CLIENT", "INFO").stdout.decode())
        fields = [dict(kv.split("=", 1) for kv in line.split()) for line in lines]
        keys = ("flags", "cmd", "db", "sub", "psub", "multi", "user", "resp", "name")
        assert {k: fields[0][k] for k in keys} == {k: fields[1][k] for k in keys}, lines
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Differential: the same one-shot redis-cli commands against redis-server


DIFFERENTIAL_CASES = [
    ["PING"],
    ["PING", "hello world"],
    ["--no-raw", "PING", "a", "b"],
    ["--no-raw", "ECHO"],
    ["ECHO", "x y"],
    ["--no-raw", "PUBLISH"],
    ["--no-raw", "PUBLISH", "nobody", "msg"],
    ["--csv", "PUBLISH", "nobody", "msg"],
    ["--no-raw", "PUBSUB", "NUMSUB", "a", "b"],
    ["--csv", "PUBSUB", "NUMSUB", "a", "b"],
    ["--no-raw", "PUBSUB", "NUMSUB"],
    ["--no-raw", "PUBSUB", "NUMPAT"],
    ["--no-raw", "PUBSUB", "CHANNELS"],
    ["--no-raw", "PUBSUB", "CHANNELS", "*"],
    ["--no-raw", "PUBSUB", "FOO"],
    ["--no-raw", "PUBSUB", "HELP"],
    ["--no-raw", "PUBSUB"],
    ["--no-raw", "CONFIG", "GET", "maxclients"],
    ["--no-raw", "CONFIG", "GET", "timeout"],
    ["--no-raw", "CONFIG", "GET", "nosuchparameter"],
    ["--no-raw", "CONFIG", "SET", "nosuchparameter", "1"],
    ["--no-raw", "CONFIG", "SET", "timeout", "notanumber"],
    ["--no-raw", "CLIENT", "GETNAME"],
    ["--no-raw", "CLIENT", "SETNAME", "a b"],
    ["--no-raw", "CLIENT", "SETNAME", "ab"],
    ["--no-raw", "CLIENT", "NOSUCH"],
    ["--no-raw", "SELECT", "1"],
    ["--no-raw", "SELECT", "x"],
    ["--no-raw", "SELECT", "16"],
    ["--no-raw", "AUTH", "x"],
    ["--no-raw", "AUTH", "default", "x"],
    ["--no-raw", "HELLO", "4"],
    ["--no-raw", "HELLO", "x"],
    ["--no-raw", "QUIT"],
    ["--no-raw", "RESET"],
    ["--no-raw", "UNSUBSCRIBE"],
    ["--no-raw", "PUNSUBSCRIBE"],
    ["--no-raw", "UNSUBSCRIBE", "a", "b"],
    ["--no-raw", "SUBSCRIBE"],
    ["--no-raw", "CLUSTER", "INFO"],
    ["--no-raw", "FOO", "bar", "baz"],
    ["FOO"],
    ["-a", "pw", "PING"],
    ["-x", "--no-raw", "ECHO"],
]


@pytest.mark.parametrize("args", DIFFERENTIAL_CASES, ids=[" ".join(a) for a in DIFFERENTIAL_CASES])
def test_output_matches_redis(pair, args):
    ours, theirs = pair
    stdin = bytes(range(256)) if "-x" in args else b""
    assert cli("-p", ours.port, *args, stdin=stdin).as_tuple() == \
        cli("-p", theirs.port, *args, stdin=stdin).as_tuple()


def test_time_output_shape_matches_redis(pair):
    for server in pair:
        result = cli("-p", server.port, "--no-raw", "TIME")
        assert re.fullmatch(rb'1\) "\d{10}"\n2\) "\d{1,6}"\n', result.stdout), result
        assert result.stderr == b""


def test_connection_refused_message():
    from servers import free_port
    port = free_port()
    assert cli("-p", port, "PING").as_tuple() == (
        1, b"", f"Could not connect to Redis at 127.0.0.1:{port}: Connection refused\n".encode())
