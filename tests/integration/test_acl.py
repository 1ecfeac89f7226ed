"""ACL users for a shared backplane: config-file `user` lines, AUTH as a user, NOPERM on each
pub/sub command and on a blocked command, and subscribers closed when they lose access. Exact
bytes; run with BACKPLANE_ITEST_AGAINST=redis to see Redis 7.0 give the same answers."""
import hashlib
import re
import tempfile
from pathlib import Path

import pytest

from itest_util import (AGAINST_REDIS, NOAUTH, PONG, WRONGPASS, Client, bulk, free_port, launch,
                        message, pmessage, run_server_expecting_failure, server_argv,
                        subscribe_reply, wait_until)

NOPERM_CHANNEL = b"-NOPERM this user has no permissions to access one of the channels used as arguments\r\n"
OK = b"+OK\r\n"

BACKPLANE_USERS = """\
# Each application may only use its own channels; the default user needs a password.
user default on >admin-pw ~* &* +@all
user app1 on >app1-pw resetchannels &app1:* -@all +@pubsub +acl|whoami
user app2 on >app2-pw resetchannels &app2:* -@all +@pubsub +ping
"""


def sha(password):
    return hashlib.sha256(password.encode()).hexdigest()


def noperm_command(name):
    return b"-NOPERM this user has no permissions to run the '%s' command\r\n" % name.encode()


@pytest.fixture(scope="module")
def users_server():
    with tempfile.TemporaryDirectory(prefix="bpacl") as d:
        conf = Path(d) / "acl.conf"
        conf.write_text(BACKPLANE_USERS)
        with launch(conf) as server:
            yield server


def login(port, user, password):
    c = Client(port)
    assert c.call("AUTH", user, password) == OK
    return c


def test_config_user_lines_define_the_users(users_server):
    with login(users_server.port, "default", "admin-pw") as admin:
        # A `user default` line starts from `reset`, hence sanitize-payload, as in Redis.
        assert admin.call("ACL", "LIST") == (
            b"*3\r\n"
            + bulk(f"user app1 on #{sha('app1-pw')} resetchannels &app1:* -@all +@pubsub "
                   "+acl|whoami")
            + bulk(f"user app2 on #{sha('app2-pw')} resetchannels &app2:* -@all +@pubsub +ping")
            + bulk(f"user default on sanitize-payload #{sha('admin-pw')} ~* &* +@all"))
        assert admin.call("ACL", "USERS") == b"*3\r\n" + bulk("app1") + bulk("app2") + bulk("default")


def test_default_user_needs_its_password(users_server):
    with Client(users_server.port) as c:
        assert c.call("PING") == NOAUTH
        assert c.call("AUTH", "wrong") == WRONGPASS
        assert c.call("AUTH", "admin-pw") == OK
        assert c.call("ACL", "WHOAMI") == bulk("default")


def test_auth_as_a_user(users_server):
    with Client(users_server.port) as c:
        assert c.call("AUTH", "app1", "app2-pw") == WRONGPASS
        assert c.call("AUTH", "nosuch", "app1-pw") == WRONGPASS
        assert c.call("PING") == NOAUTH
        assert c.call("AUTH", "app1", "app1-pw") == OK
        assert c.call("ACL", "WHOAMI") == bulk("app1")
        assert c.call("PING") == noperm_command("ping")
    with Client(users_server.port) as c:
        reply = c.call("HELLO", "3", "AUTH", "app1", "app1-pw")
        assert reply.startswith(b"%7\r\n$6\r\nserver\r\n"), reply
        assert c.call("ACL", "WHOAMI") == bulk("app1")


def test_client_list_shows_the_user(users_server):
    with login(users_server.port, "app1", "app1-pw"), login(users_server.port, "default", "admin-pw") as admin:
        listing = admin.call("CLIENT", "LIST")
        users = re.findall(rb" user=(\S+) ", listing)
        assert sorted(users) == [b"app1", b"default"], listing


@pytest.mark.parametrize("command,allowed,denied", [
    (("PUBLISH",), ("app1:x", "m"), ("app2:x", "m")),
    (("SPUBLISH",), ("app1:x", "m"), ("app2:x", "m")),
    (("SUBSCRIBE",), ("app1:x",), ("app1:y", "app2:x")),
    (("SSUBSCRIBE",), ("app1:x",), ("app2:x",)),
    (("PSUBSCRIBE",), ("app1:*",), ("app1:x*",)),
], ids=["publish", "spublish", "subscribe", "ssubscribe", "psubscribe"])
def test_noperm_on_other_applications_channels(users_server, command, allowed, denied):
    with login(users_server.port, "app1", "app1-pw") as c:
        assert c.call(*command, *denied) == NOPERM_CHANNEL
        reply = c.call(*command, *allowed)
        assert not reply.startswith(b"-"), reply


def test_noperm_on_a_blocked_command(users_server):
    with login(users_server.port, "app1", "app1-pw") as c:
        assert c.call("CONFIG", "SET", "timeout", "0") == noperm_command("config|set")
        assert c.call("CLIENT", "LIST") == noperm_command("client|list")
        assert c.call("ECHO", "x") == noperm_command("echo")
        # The denial is checked after NOAUTH and before the subscribed-mode check, as in Redis.
        assert c.call("SUBSCRIBE", "app1:a") == subscribe_reply("subscribe", "app1:a", 1)
        assert c.call("ECHO", "x") == noperm_command("echo")
    with Client(users_server.port) as c:
        assert c.call("ECHO", "x") == NOAUTH


def test_applications_exchange_messages_on_their_own_channels(users_server):
    with login(users_server.port, "app1", "app1-pw") as sub, login(users_server.port, "app1", "app1-pw") as pub, \
            login(users_server.port, "app2", "app2-pw") as other:
        assert sub.call("PSUBSCRIBE", "app1:*") == subscribe_reply("psubscribe", "app1:*", 1)
        assert other.call("PUBLISH", "app1:news", "spoof") == NOPERM_CHANNEL
        assert pub.call("PUBLISH", "app1:news", "hi") == b":1\r\n"
        assert sub.read_reply() == pmessage("app1:*", "app1:news", "hi")


def test_acl_log_records_denials(users_server):
    with login(users_server.port, "app2", "app2-pw") as c:
        assert c.call("PUBLISH", "app1:secret", "m") == NOPERM_CHANNEL
    with login(users_server.port, "default", "admin-pw") as admin:
        entry = admin.call("ACL", "LOG", "1")
        assert entry.startswith(b"*1\r\n*14\r\n$5\r\ncount\r\n:"), entry
        assert (b"$6\r\nreason\r\n$7\r\nchannel\r\n$7\r\ncontext\r\n$8\r\ntoplevel\r\n"
                b"$6\r\nobject\r\n$11\r\napp1:secret\r\n$8\r\nusername\r\n$4\r\napp2\r\n") in entry
        assert b"$11\r\nage-seconds\r\n" in entry and b"$11\r\nclient-info\r\n" in entry
        assert admin.call("ACL", "LOG", "RESET") == OK
        assert admin.call("ACL", "LOG") == b"*0\r\n"


@pytest.fixture
def server():
    with launch() as s:
        yield s


def test_lost_channel_access_closes_only_affected_subscribers(server):
    with Client(server.port) as admin:
        assert admin.call("ACL", "SETUSER", "k", "on", ">p", "&a:*", "+@all") == OK
        keeps = login(server.port, "k", "p")
        loses = login(server.port, "k", "p")
        pattern = login(server.port, "k", "p")
        idle = login(server.port, "k", "p")
        assert keeps.call("SUBSCRIBE", "a:1") == subscribe_reply("subscribe", "a:1", 1)
        assert loses.call("SUBSCRIBE", "a:2") == subscribe_reply("subscribe", "a:2", 1)
        assert pattern.call("PSUBSCRIBE", "a:*") == subscribe_reply("psubscribe", "a:*", 1)
        assert admin.call("ACL", "SETUSER", "k", "resetchannels", "&a:1") == OK
        assert loses.wait_closed() and pattern.wait_closed()
        assert keeps.call("PING") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
        assert idle.call("PING") == PONG
        assert admin.call("PUBLISH", "a:1", "m") == b":1\r\n"
        assert keeps.read_reply() == message("a:1", "m")
        for c in (keeps, loses, pattern, idle):
            c.close()


def test_deleting_a_user_closes_its_clients(server):
    with Client(server.port) as admin:
        assert admin.call("ACL", "SETUSER", "k", "on", ">p", "allchannels", "+@all") == OK
        subscriber = login(server.port, "k", "p")
        plain = login(server.port, "k", "p")
        assert subscriber.call("SUBSCRIBE", "x") == subscribe_reply("subscribe", "x", 1)
        assert admin.call("ACL", "DELUSER", "k") == b":1\r\n"
        assert subscriber.wait_closed() and plain.wait_closed()
        assert admin.call("PING") == PONG
        subscriber.close()
        plain.close()


def test_client_kill_user(server):
    with Client(server.port) as admin:
        assert admin.call("ACL", "SETUSER", "k", "on", "nopass", "+@all") == OK
        victim = login(server.port, "k", "x")
        assert admin.call("CLIENT", "KILL", "USER", "k") == b":1\r\n"
        assert victim.wait_closed()
        assert admin.call("CLIENT", "KILL", "USER", "nosuch") == b"-ERR No such user 'nosuch'\r\n"
        victim.close()


def test_requirepass_is_the_default_users_password(start):
    server = start(requirepass="first")
    with Client(server.port) as c:
        assert c.call("AUTH", "default", "first") == OK
        assert c.call("CONFIG", "SET", "requirepass", "second") == OK
        assert c.call("ACL", "GETUSER", "default").count(b"$64\r\n") == 1
    with Client(server.port) as c:
        assert c.call("AUTH", "first") == WRONGPASS
        assert c.call("AUTH", "second") == OK
        assert c.call("CONFIG", "SET", "requirepass", "") == OK
    with Client(server.port) as c:
        assert c.call("PING") == PONG
        assert c.call("ACL", "LIST") == b"*1\r\n" + bulk("user default on nopass ~* &* +@all")


def test_default_user_off_requires_login(start):
    server = start()
    with Client(server.port) as admin:
        assert admin.call("ACL", "SETUSER", "admin", "on", ">pw", "~*", "&*", "+@all") == OK
        assert admin.call("ACL", "SETUSER", "default", "off") == OK
    with Client(server.port) as c:
        assert c.call("PING") == NOAUTH
        assert c.call("AUTH", "default", "") == WRONGPASS
        assert c.call("AUTH", "admin", "pw") == OK
        assert c.call("PING") == PONG


@pytest.mark.parametrize("lines,expected", [
    # Redis names the word two places before the bad rule: `user` for the first rule.
    ("user app1 bogus\n", "Error in user declaration 'user': Syntax error"),
    ("user app1 on bogus\n", "Error in user declaration 'app1': Syntax error"),
    ("user app1 on\nuser app1 off\n",
     "Error in user declaration 'app1': Duplicate user found. A user can only be defined once "
     "in config files"),
    ("user app1 on +nosuchcommand\n",
     "Error loading ACL rule '+nosuchcommand' for the user named 'app1': Unknown command or "
     "category name in ACL"),
], ids=["syntax-first-rule", "syntax-second-rule", "duplicate", "unknown-command"])
def test_bad_user_lines_stop_startup(lines, expected):
    with tempfile.TemporaryDirectory(prefix="bpacl") as d:
        conf = Path(d) / "bad.conf"
        conf.write_text(lines)
        code, output = run_server_expecting_failure(server_argv(conf, port=free_port()))
    assert code != 0
    assert expected in output, output
