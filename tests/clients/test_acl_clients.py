"""ACL users through real clients: redis-cli --user/--pass and redis.Redis(username=...,
password=...). The same redis-cli invocations run against Debian's redis-server 7.0.15 and
must print the same bytes."""
import pytest
import redis

from clients_util import CliProcess, cli, wait_until
from servers import RawClient, start_backplane, start_redis

# One application user per app, confined to its own channels (the README's backplane example).
APP_RULES = ["on", ">p1", "resetchannels", "&app1:*", "-@all", "+@pubsub"]
NOPERM_CHANNEL = b"NOPERM this user has no permissions to access one of the channels used as arguments"


def add_users(port):
    with RawClient(port) as client:
        assert client.call("ACL", "SETUSER", "app1", *APP_RULES) == b"+OK\r\n"
        assert client.call("ACL", "SETUSER", "watcher", "on", ">w", "allchannels", "-@all",
                           "+acl|whoami") == b"+OK\r\n"


@pytest.fixture(scope="module")
def pair():
    with start_backplane() as ours, start_redis() as theirs:
        add_users(ours.port)
        add_users(theirs.port)
        yield ours, theirs


def app_cli(server, *args, user="app1", password="p1"):
    return cli("-p", server.port, "--user", user, "--pass", password, "--no-auth-warning", *args)


@pytest.mark.parametrize("args", [
    ["PUBLISH", "app1:news", "hi"],
    ["PUBLISH", "app2:news", "hi"],
    ["--no-raw", "PUBLISH", "app2:news", "hi"],
    ["SPUBLISH", "app2:news", "hi"],
    ["ECHO", "hi"],
    ["--no-raw", "CONFIG", "GET", "port"],
    ["ACL", "WHOAMI"],
], ids=lambda a: "-".join(a))
def test_redis_cli_as_app_user_matches_redis(pair, args):
    ours, theirs = pair
    assert app_cli(ours, *args).as_tuple() == app_cli(theirs, *args).as_tuple()


def test_redis_cli_user_replies(pair):
    ours, _ = pair
    assert app_cli(ours, "PUBLISH", "app1:news", "hi").as_tuple() == (0, b"0\n", b"")
    assert app_cli(ours, "PUBLISH", "app2:news", "hi").as_tuple() == (0, NOPERM_CHANNEL + b"\n\n", b"")
    assert app_cli(ours, "ACL", "WHOAMI", user="watcher", password="w").as_tuple() == \
        (0, b"watcher\n", b"")
    # A failed login leaves redis-cli connected as the default user, as with Redis.
    wrong = app_cli(ours, "ACL", "WHOAMI", password="wrong")
    assert wrong.as_tuple() == (0, b"default\n", b"AUTH failed: WRONGPASS invalid "
                                b"username-password pair or user is disabled.\n")
    assert wrong.as_tuple() == app_cli(pair[1], "ACL", "WHOAMI", password="wrong").as_tuple()


def test_redis_cli_admin_views_match_redis(pair):
    ours, theirs = pair
    for args in (["ACL", "LIST"], ["--no-raw", "ACL", "GETUSER", "app1"], ["ACL", "USERS"],
                 ["ACL", "CAT"], ["ACL", "DRYRUN", "app1", "publish", "app2:x", "m"]):
        assert cli("-p", ours.port, *args).as_tuple() == cli("-p", theirs.port, *args).as_tuple()


def test_redis_cli_subscribe_as_app_user(pair):
    ours, _ = pair
    with CliProcess("-p", ours.port, "--user", "app1", "--pass", "p1", "--no-auth-warning",
                    "SUBSCRIBE", "app1:events") as sub:
        sub.wait_for(b"subscribe\napp1:events\n1\n")
        assert app_cli(ours, "PUBLISH", "app1:events", "hello").stdout == b"1\n"
        sub.wait_for(b"message\napp1:events\nhello\n")


def test_redis_cli_subscribe_denied(pair):
    ours, theirs = pair
    args = ["SUBSCRIBE", "app2:events"]
    assert app_cli(ours, *args).as_tuple() == app_cli(theirs, *args).as_tuple()


def connect(server, **kwargs):
    return redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=10,
                       socket_connect_timeout=10, **kwargs)


def next_message(pubsub, timeout=5.0):
    found = []
    assert wait_until(lambda: found.append(pubsub.get_message(timeout=0.2)) or found[-1] is not None,
                      timeout=timeout)
    return found[-1]


def test_redis_py_with_username(pair):
    ours, _ = pair
    with connect(ours, username="app1", password="p1") as app, \
            connect(ours, username="app1", password="p1") as subscriber_client:
        assert app.publish("app1:news", "hi") == 0
        with pytest.raises(redis.exceptions.NoPermissionError) as error:
            app.publish("app2:news", "hi")
        assert str(error.value) == NOPERM_CHANNEL.decode()[len("NOPERM "):]
        with subscriber_client.pubsub() as pubsub:
            pubsub.subscribe("app1:x")
            assert next_message(pubsub)["type"] == "subscribe"
            assert app.publish("app1:x", "payload") == 1
            assert next_message(pubsub) == {"type": "message", "pattern": None,
                                            "channel": b"app1:x", "data": b"payload"}
        with subscriber_client.pubsub() as pubsub:
            with pytest.raises(redis.exceptions.NoPermissionError):
                pubsub.subscribe("app2:x")
                next_message(pubsub)
    with pytest.raises(redis.exceptions.ResponseError) as error:
        connect(ours, username="app1", password="wrong").ping()
    assert str(error.value) == "WRONGPASS invalid username-password pair or user is disabled."


def test_redis_py_acl_methods(pair):
    ours, theirs = pair
    for server in (ours, theirs):
        with connect(server) as admin:
            assert admin.acl_setuser("app3", enabled=True, passwords=["+p3"],
                                     channels=["app3:*"], categories=["-@all", "+@pubsub"])
            user = admin.acl_getuser("app3")
            assert user["enabled"] and user["channels"] == ["&app3:*"]
            assert user["categories"] == ["-@all", "+@pubsub"]
            assert admin.acl_deluser("app3") == 1
            assert admin.acl_whoami() == "default"
            assert "app1" in admin.acl_users()
            assert len(admin.acl_genpass()) == 64
