"""AUTH semantics, redis-behaviour.md section 2: every row of the table, byte for byte."""
import re

import pytest

from itest_util import NOAUTH, PASSWORD, PONG, WRONGPASS, Client, encode

HELLO_NOAUTH = (b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the "
                b"HELLO AUTH <user> <pass> option can be used to authenticate the client and select "
                b"the RESP protocol version at the same time\r\n")
HELLO2 = re.compile(rb"\*14\r\n\$6\r\nserver\r\n\$5\r\nredis\r\n\$7\r\nversion\r\n\$6\r\n7\.0\.15\r\n"
                    rb"\$5\r\nproto\r\n:2\r\n\$2\r\nid\r\n:\d+\r\n\$4\r\nmode\r\n\$10\r\nstandalone\r\n"
                    rb"\$4\r\nrole\r\n\$6\r\nmaster\r\n\$7\r\nmodules\r\n\*0\r\n\Z")
SUBSCRIBED_AUTH = (b"-ERR Can't execute 'auth': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT "
                   b"/ RESET are allowed in this context\r\n")
NO_PASSWORD = (b"-ERR AUTH <password> called without any password configured for the default user. "
               b"Are you sure your configuration is correct?\r\n")


@pytest.mark.parametrize("command", [
    ("PING",), ("ECHO", "x"), ("SUBSCRIBE", "ch"), ("PSUBSCRIBE", "c*"), ("PUBLISH", "ch", "m"),
    ("UNSUBSCRIBE",), ("SELECT", "0"), ("CLIENT", "ID"), ("CONFIG", "GET", "timeout"), ("INFO",),
    ("PUBSUB", "NUMSUB", "ch"), ("TIME",), ("COMMAND", "COUNT"), ("CLUSTER", "NODES"),
], ids=lambda c: "-".join(c))
def test_any_command_before_auth_gets_noauth(secured, command):
    with Client(secured.port) as c:
        assert c.call(*command) == NOAUTH
        assert c.call("PING") == NOAUTH


@pytest.mark.parametrize("args", [
    ("wrong",), ("default", "wrong"), ("bob", PASSWORD), ("",), ("default", ""), ("S3CRET",),
    (PASSWORD + "x",), (PASSWORD[:-1],),
], ids=["wrong", "default-wrong", "unknown-user", "empty", "default-empty", "case", "longer", "prefix"])
def test_wrong_credentials(secured, args):
    with Client(secured.port) as c:
        assert c.call("AUTH", *args) == WRONGPASS
        assert c.call("PING") == NOAUTH


@pytest.mark.parametrize("args", [(PASSWORD,), ("default", PASSWORD)], ids=["password", "default-user"])
def test_right_credentials(secured, args):
    with Client(secured.port) as c:
        assert c.call("AUTH", *args) == b"+OK\r\n"
        assert c.call("PING") == PONG
        assert c.call("ECHO", "in") == b"$2\r\nin\r\n"


def test_auth_without_arguments(secured):
    with Client(secured.port) as c:
        assert c.call("AUTH") == b"-ERR wrong number of arguments for 'auth' command\r\n"
        assert c.call("PING") == NOAUTH


def test_auth_with_three_arguments(secured):
    with Client(secured.port) as c:
        assert c.call("AUTH", "a", "b", "c") == b"-ERR syntax error\r\n"
        assert c.call("AUTH", "default", PASSWORD, "x") == b"-ERR syntax error\r\n"
        assert c.call("PING") == NOAUTH


def test_auth_when_no_password_configured(plain):
    with Client(plain.port) as c:
        assert c.call("AUTH", "x") == NO_PASSWORD
        assert c.call("AUTH", "default", "x") == b"+OK\r\n"
        assert c.call("AUTH", "default", "") == b"+OK\r\n"
        assert c.call("AUTH", "bob", "x") == WRONGPASS
        assert c.call("PING") == PONG


@pytest.mark.parametrize("args", [("HELLO",), ("HELLO", "3"), ("HELLO", "2")], ids=["bare", "3", "2"])
def test_hello_before_auth(secured, args):
    with Client(secured.port) as c:
        assert c.call(*args) == HELLO_NOAUTH
        assert c.call("PING") == NOAUTH


def test_hello_auth_wrong(secured):
    with Client(secured.port) as c:
        assert c.call("HELLO", "2", "AUTH", "default", "wrong") == WRONGPASS
        assert c.call("PING") == NOAUTH


def test_hello_auth_right(secured):
    with Client(secured.port) as c:
        reply = c.call("HELLO", "2", "AUTH", "default", PASSWORD)
        assert HELLO2.match(reply), reply
        assert c.call("PING") == PONG


def test_hello_4_before_auth(secured):
    with Client(secured.port) as c:
        assert c.call("HELLO", "4") == b"-NOPROTO unsupported protocol version\r\n"
        assert c.call("PING") == NOAUTH


def test_quit_before_auth(secured):
    with Client(secured.port) as c:
        assert c.call("QUIT") == b"+OK\r\n"
        assert c.wait_closed() == (b"", True)


def test_reset_before_auth(secured):
    with Client(secured.port) as c:
        assert c.call("RESET") == b"+RESET\r\n"
        assert c.call("PING") == NOAUTH


def test_reset_deauthenticates(secured):
    with Client(secured.port) as c:
        assert c.call("AUTH", PASSWORD) == b"+OK\r\n"
        assert c.call("PING") == PONG
        assert c.call("RESET") == b"+RESET\r\n"
        assert c.call("PING") == NOAUTH
        # and the pre-auth protocol limits apply again
        c.send(b"*11\r\n")
        assert c.wait_closed() == (b"-ERR Protocol error: unauthenticated multibulk length\r\n", True)


def test_failed_auth_keeps_existing_login(secured):
    with Client(secured.port) as c:
        assert c.call("AUTH", PASSWORD) == b"+OK\r\n"
        assert c.call("AUTH", "wrong") == WRONGPASS
        assert c.call("PING") == PONG
        assert c.call("AUTH", "bob", PASSWORD) == WRONGPASS
        assert c.call("PING") == PONG


def test_three_wrong_then_right(secured):
    with Client(secured.port) as c:
        for attempt in ("w1", "w2", "w3"):
            assert c.call("AUTH", attempt) == WRONGPASS
        assert c.call("AUTH", PASSWORD) == b"+OK\r\n"
        assert c.call("PING") == PONG


def test_pipelined_auth_sequence(secured):
    with Client(secured.port) as c:
        c.send(encode("AUTH", "x") + encode("PING") + encode("AUTH", PASSWORD) + encode("PING"))
        expected = WRONGPASS + NOAUTH + b"+OK\r\n" + PONG
        assert c.read_exact(len(expected)) == expected
        assert c.collect(silence=0.1) == (b"", False)


def test_pipelined_failing_auth_not_first_in_batch(secured):
    """The SE.Redis note: a failing AUTH must be answered wherever it sits in a batch."""
    with Client(secured.port) as c:
        c.send(encode("PING") + encode("ECHO", "a") + encode("AUTH", "bad") + encode("AUTH", PASSWORD)
               + encode("AUTH", "bad") + encode("ECHO", "b"))
        expected = NOAUTH + NOAUTH + WRONGPASS + b"+OK\r\n" + WRONGPASS + b"$1\r\nb\r\n"
        assert c.read_exact(len(expected)) == expected


def test_unknown_command_and_arity_checked_before_auth(secured):
    with Client(secured.port) as c:
        assert c.call("FOO") == b"-ERR unknown command 'FOO', with args beginning with: \r\n"
        assert c.call("PUBLISH", "ch") == b"-ERR wrong number of arguments for 'publish' command\r\n"
        assert c.call("CLIENT", "FOO") == b"-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n"
        assert c.call("PING") == NOAUTH


def test_auth_while_subscribed(plain):
    with Client(plain.port) as c:
        c.call("SUBSCRIBE", "ch")
        assert c.call("AUTH", "x") == SUBSCRIBED_AUTH
        assert c.call("PING") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"


def test_authentication_is_per_connection(secured):
    with Client(secured.port) as a, Client(secured.port) as b:
        assert a.call("AUTH", PASSWORD) == b"+OK\r\n"
        assert b.call("PING") == NOAUTH
        assert a.call("PING") == PONG


def test_authenticated_subscriber_receives(secured):
    with Client(secured.port) as s, Client(secured.port) as p:
        assert s.call("AUTH", PASSWORD) == b"+OK\r\n"
        assert s.call("SUBSCRIBE", "ch") == b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
        assert p.call("PUBLISH", "ch", "x") == NOAUTH
        assert p.call("AUTH", PASSWORD) == b"+OK\r\n"
        assert p.call("PUBLISH", "ch", "x") == b":1\r\n"
        assert s.read_reply() == b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nx\r\n"


def test_password_with_space_and_backslash_from_flag(start):
    """A --requirepass flag value is taken literally, blanks and backslashes included."""
    server = start(requirepass="p\\x41w d")
    with Client(server.port) as c:
        assert c.call("AUTH", "pAw d") == WRONGPASS
        assert c.call("AUTH", "p\\x41w") == WRONGPASS
        assert c.call("AUTH", "p\\x41w d") == b"+OK\r\n"


def test_ten_thousand_wrong_auths_then_right(secured):
    """No lockout, no delay, no close: every wrong AUTH is answered, then the right one works.
    Sent in pipelined batches of 100 (an unauthenticated client that never reads may be cut
    off by the output-buffer cap, which is a separate test)."""
    with Client(secured.port) as c:
        batch = encode("AUTH", "wrong-password") * 100
        for _ in range(100):
            c.send(batch)
            assert c.read_exact(len(WRONGPASS) * 100, timeout=10) == WRONGPASS * 100
        assert c.call("AUTH", PASSWORD) == b"+OK\r\n"
        assert c.call("PING") == PONG
