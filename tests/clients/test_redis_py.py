"""redis-py (Debian's python3-redis 4.3.4, RESP2, pure-Python parser) against backplane-server.

Every Redis/PubSub object is closed by a `with` block; servers come from the fixtures or
from start_backplane()/start_redis() context managers and are stopped by PID.
"""
import os
import random
import shutil
import tempfile
import time

import pytest
import redis

from clients_util import wait_until
from servers import start_backplane, start_redis

assert redis.__version__.startswith("4."), redis.__version__

TIMEOUT = 10  # socket timeout: a missing reply fails the test instead of hanging it


def connect(server, **kwargs):
    return redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=TIMEOUT,
                       socket_connect_timeout=TIMEOUT, **kwargs)


def next_message(pubsub, timeout=5.0):
    """The next non-None get_message() result, or an assertion error after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=max(0.0, min(1.0, deadline - time.monotonic())))
        if message is not None:
            return message
    raise AssertionError("no message arrived")


def no_message(pubsub, wait=0.2):
    message = pubsub.get_message(timeout=wait)
    assert message is None, message


def sub(channel, count):
    return {"type": "subscribe", "pattern": None, "channel": channel, "data": count}


def psub(pattern, count):
    return {"type": "psubscribe", "pattern": None, "channel": pattern, "data": count}


def msg(channel, data):
    return {"type": "message", "pattern": None, "channel": channel, "data": data}


def pmsg(pattern, channel, data):
    return {"type": "pmessage", "pattern": pattern, "channel": channel, "data": data}


@pytest.fixture
def r(backplane):
    with connect(backplane) as client:
        yield client


@pytest.fixture
def protected():
    with start_backplane(requirepass="s3cret") as server:
        yield server


# --------------------------------------------------------------------------------------------
# Connecting


def test_connect_without_password(r):
    assert r.ping() is True
    assert r.execute_command("PING") is True


def test_connect_with_password(protected):
    with connect(protected, password="s3cret") as client:
        assert client.ping() is True
        assert client.publish("c", "m") == 0
    with connect(protected, username="default", password="s3cret") as client:
        assert client.ping() is True


def test_missing_password_raises_authentication_error(protected):
    with connect(protected) as client:
        with pytest.raises(redis.AuthenticationError) as error:
            client.ping()
        assert str(error.value) == "Authentication required."


def test_wrong_password(protected):
    # redis-py 4.3.4 maps NOAUTH (and Redis 5's "invalid password") to AuthenticationError, but
    # WRONGPASS has no entry in its table, so a wrong password surfaces as a ResponseError
    # with Redis's exact text. This is what it does against redis-server too (see below).
    for kwargs in ({"password": "wrong"}, {"username": "default", "password": "wrong"},
                   {"username": "bob", "password": "s3cret"}):
        with connect(protected, **kwargs) as client:
            with pytest.raises(redis.ResponseError) as error:
                client.ping()
            assert str(error.value) == \
                "WRONGPASS invalid username-password pair or user is disabled."
            assert not isinstance(error.value, redis.AuthenticationError)


def test_wrong_password_errors_match_redis(protected):
    with start_redis(requirepass="s3cret") as oracle:
        for kwargs in ({"password": "wrong"}, {}, {"username": "x", "password": "s3cret"},
                       {"password": "s3cret", "client_name": "bad name"}):
            outcomes = []
            for server in (protected, oracle):
                with connect(server, **kwargs) as client:
                    try:
                        outcomes.append(("ok", client.ping()))
                    except redis.RedisError as error:
                        outcomes.append((type(error).__name__, str(error)))
            assert outcomes[0] == outcomes[1], kwargs


def test_password_sent_to_server_without_password(backplane):
    with connect(backplane, password="pw") as client:
        with pytest.raises(redis.ResponseError) as error:
            client.ping()
        assert str(error.value) == (
            "AUTH <password> called without any password configured for the default user. "
            "Are you sure your configuration is correct?")
    # `AUTH default <anything>` succeeds: the default user has no password.
    with connect(backplane, username="default", password="anything") as client:
        assert client.ping() is True


def test_client_name_on_connect(backplane):
    # redis-py sends CLIENT SETNAME on connect and raises ConnectionError unless it gets OK.
    with connect(backplane, client_name="bp-test") as client:
        assert client.client_getname() == "bp-test"
        entries = [e for e in client.client_list() if e["name"] == "bp-test"]
        assert len(entries) == 1
        assert client.client_setname("renamed") is True
        assert client.client_getname() == "renamed"
    with connect(backplane, client_name="bad name") as client:
        with pytest.raises(redis.ResponseError) as error:
            client.ping()
        assert str(error.value) == \
            "Client names cannot contain spaces, newlines or special characters."


def test_client_name_and_db_with_password(protected):
    with connect(protected, password="s3cret", client_name="named", db=3) as client:
        assert client.ping() is True
        me = client.client_info()
        assert (me["name"], me["db"]) == ("named", 3)


# --------------------------------------------------------------------------------------------
# Pub/sub


def test_subscribe_and_listen(r, backplane):
    with connect(backplane) as publisher, r.pubsub() as p:
        p.subscribe("news", "sport")
        received = []
        # The confirmations first: with --io-threads the publisher's connection may be served
        # by another loop, which could otherwise run PUBLISH before SUBSCRIBE has been read.
        for message in p.listen():
            received.append(message)
            if len(received) == 2:
                break
        assert publisher.publish("news", "first") == 1
        assert publisher.publish("sport", b"second") == 1
        assert publisher.publish("nobody", "x") == 0
        assert publisher.publish("news", 3) == 1
        for message in p.listen():
            received.append(message)
            if len(received) == 5:
                break
    assert received == [sub(b"news", 1), sub(b"sport", 2), msg(b"news", b"first"),
                        msg(b"sport", b"second"), msg(b"news", b"3")]
    assert all(type(m["data"]) is bytes for m in received[2:])
    assert all(type(m["data"]) is int for m in received[:2])


def test_get_message(r):
    with r.pubsub() as p:
        assert p.get_message(timeout=0.1) is None  # not subscribed yet
        p.subscribe("ch")
        assert next_message(p) == sub(b"ch", 1)
        no_message(p)
        assert r.publish("ch", "hello") == 1
        assert next_message(p) == msg(b"ch", b"hello")
        no_message(p)
        assert r.publish("ch", "quiet") == 1
        assert next_message(p, timeout=5) == msg(b"ch", b"quiet")


def test_ignore_subscribe_messages_and_decode_responses(backplane):
    with connect(backplane, decode_responses=True) as client:
        with client.pubsub(ignore_subscribe_messages=True) as p:
            p.subscribe("txt")
            wait_until(lambda: client.pubsub_numsub("txt") == [("txt", 1)], what="numsub")
            assert client.publish("txt", "héllo") == 1
            assert next_message(p) == msg("txt", "héllo")


def test_subscribe_with_handler(r):
    seen = []
    with r.pubsub() as p:
        p.subscribe(**{"handled": seen.append})
        assert next_message(p) == sub(b"handled", 1)
        assert r.publish("handled", "x") == 1
        wait_until(lambda: p.get_message(timeout=0.1) is None and seen, what="handler call")
    assert seen == [msg(b"handled", b"x")]


def test_psubscribe_and_pmessage(r):
    with r.pubsub() as p:
        p.psubscribe("news.*", "h?llo")
        assert next_message(p) == psub(b"news.*", 1)
        assert next_message(p) == psub(b"h?llo", 2)
        assert r.publish("news.tech", "chip") == 1
        assert r.publish("hallo", "welt") == 1
        assert r.publish("news", "none") == 0
        assert r.publish("hello.world", "none") == 0
        assert next_message(p) == pmsg(b"news.*", b"news.tech", b"chip")
        assert next_message(p) == pmsg(b"h?llo", b"hallo", b"welt")
        no_message(p)
        assert r.pubsub_numpat() == 2


def test_subscribe_and_psubscribe_on_one_connection(r):
    with r.pubsub() as p:
        p.subscribe("a.b")
        p.psubscribe("a.*")
        assert next_message(p) == sub(b"a.b", 1)
        assert next_message(p) == psub(b"a.*", 2)
        assert r.publish("a.b", "twice") == 2
        assert next_message(p) == msg(b"a.b", b"twice")
        assert next_message(p) == pmsg(b"a.*", b"a.b", b"twice")
        no_message(p)


def record_traffic(connection):
    """Wraps a redis-py connection's send_command/read_response to record what passes."""
    sent, received = [], []
    send_command, read_response = connection.send_command, connection.read_response

    def recording_send_command(*args, **kwargs):
        sent.append(args)
        return send_command(*args, **kwargs)

    def recording_read_response(*args, **kwargs):
        response = read_response(*args, **kwargs)
        received.append(response)
        return response

    connection.send_command = recording_send_command
    connection.read_response = recording_read_response
    return sent, received


@pytest.mark.parametrize("decode", [False, True], ids=["bytes", "decoded"])
def test_health_check_while_subscribed(backplane, decode):
    """health_check_interval=1: after a second of silence redis-py sends
    `PING redis-py-health-check` on the subscribed connection and expects exactly
    [pong, redis-py-health-check] back; anything else would surface as a message or an error."""
    def text(value):
        return value if decode else value.encode()

    with connect(backplane, health_check_interval=1, decode_responses=decode) as client, \
            connect(backplane) as publisher, client.pubsub() as p:
        p.subscribe("hc")
        assert next_message(p) == sub(text("hc"), 1)
        sent, received = record_traffic(p.connection)
        for round_number in range(2):
            time.sleep(1.2)  # longer than the interval: the next read sends a health check
            assert publisher.publish("hc", f"after-{round_number}") == 1
            assert next_message(p) == msg(text("hc"), text(f"after-{round_number}"))
            assert sent.count(("PING", "redis-py-health-check")) == round_number + 1
            # The health-check reply is consumed silently (matched against the expected list);
            # a wrong reply would come back here as a message dict or raise.
            assert p.get_message(timeout=1) is None
            assert p.health_check_response_counter == 0
        assert received.count([text("pong"), text("redis-py-health-check")]) == 2
        assert publisher.publish("hc", "last") == 1
        assert next_message(p) == msg(text("hc"), text("last"))


def test_health_check_on_plain_connection(backplane):
    # On a normal connection the check is a plain PING that must answer PONG, or redis-py
    # raises ConnectionError("Bad response from PING health check").
    with connect(backplane, health_check_interval=1) as client:
        assert client.publish("x", "1") == 0
        connection = client.connection_pool.get_connection("PUBLISH")
        client.connection_pool.release(connection)
        sent, received = record_traffic(connection)
        time.sleep(1.2)
        assert client.publish("x", "2") == 0
        # (send_command("PUBLISH") runs the check, so PING is recorded second but sent first.)
        assert sent == [("PUBLISH", "x", "2"), ("PING",)]
        assert received == [b"PONG", 0]


def test_health_check_before_subscribing(backplane):
    # After unsubscribing from everything, the PubSub connection's health check is a plain
    # PING again (answered +PONG, not the pub/sub-mode array).
    with connect(backplane, health_check_interval=1) as client, client.pubsub() as p:
        p.subscribe("first")
        assert next_message(p) == sub(b"first", 1)
        p.unsubscribe("first")
        assert next_message(p) == {"type": "unsubscribe", "pattern": None,
                                   "channel": b"first", "data": 0}
        sent, received = record_traffic(p.connection)
        time.sleep(1.2)
        p.subscribe("second")
        assert next_message(p) == sub(b"second", 1)
        assert sent[:2] == [("SUBSCRIBE", "second"), ("PING",)]
        assert received[:2] == [b"PONG", [b"subscribe", b"second", 1]]


def test_pubsub_ping_while_subscribed(r):
    with r.pubsub() as p:
        p.subscribe("ch")
        assert next_message(p) == sub(b"ch", 1)
        p.ping()
        assert next_message(p) == {"type": "pong", "pattern": None, "channel": None,
                                   "data": b""}
        p.ping("hello")
        assert next_message(p) == {"type": "pong", "pattern": None, "channel": None,
                                   "data": b"hello"}
        assert r.publish("ch", "after ping") == 1
        assert next_message(p) == msg(b"ch", b"after ping")


def test_1000_channels_in_one_subscribe(r):
    channels = [f"chan:{i}" for i in range(1000)]
    with r.pubsub() as p:
        p.subscribe(*channels)
        confirmations = [next_message(p) for _ in channels]
        assert confirmations == [sub(c.encode(), i + 1) for i, c in enumerate(channels)]
        no_message(p)
        sample = channels[::97] + ["chan:999", "not-subscribed"]
        assert r.pubsub_numsub(*sample) == \
            [(c.encode(), 0 if c == "not-subscribed" else 1) for c in sample]
        assert set(r.pubsub_channels()) == {c.encode() for c in channels}
        assert set(r.pubsub_channels("chan:99?")) == {f"chan:99{i}".encode() for i in range(10)}
        assert r.publish("chan:500", "x") == 1
        assert next_message(p) == msg(b"chan:500", b"x")
        p.unsubscribe()
        counts = [next_message(p) for _ in channels]
        assert sorted(m["data"] for m in counts) == list(range(1000))
        assert {m["channel"] for m in counts} == {c.encode() for c in channels}
        assert all(m["type"] == "unsubscribe" for m in counts)
        assert r.pubsub_channels() == []


def test_10000_ordered_messages(r, backplane):
    total = 10_000
    with connect(backplane) as publisher, r.pubsub() as p:
        p.subscribe("seq")
        assert next_message(p) == sub(b"seq", 1)
        received = []
        for start in range(0, total, 1000):
            with publisher.pipeline(transaction=False) as pipe:
                for i in range(start, start + 1000):
                    pipe.publish("seq", f"{i}:{'x' * (i % 50)}")
                assert pipe.execute() == [1] * 1000
            while (m := p.get_message(timeout=0)) is not None:
                received.append(m)
        while len(received) < total:
            received.append(next_message(p))
        no_message(p)
    assert all(m["type"] == "message" and m["channel"] == b"seq" for m in received)
    assert [m["data"] for m in received] == \
        [f"{i}:{'x' * (i % 50)}".encode() for i in range(total)]


def test_binary_payloads(r):
    payloads = ([bytes([b]) for b in range(256)]
                + [bytes(range(256)), bytes(range(255, -1, -1)), b"", b"\x00", b"\x00" * 100,
                   b"\r\n", b"a\r\nb", b"\r\n\r\n", b"*3\r\n$7\r\nmessage\r\n", b"$-1\r\n",
                   "héllo wörld ✓".encode()]
                + [random.Random(7).randbytes(1024 * 1024)])
    with r.pubsub() as p:
        channel = b"bin\x00\xff\r\nchan"
        p.subscribe(channel)
        assert next_message(p) == sub(channel, 1)
        for payload in payloads:
            assert r.publish(channel, payload) == 1
        for payload in payloads:
            message = next_message(p)
            assert message == msg(channel, payload), (len(payload), payload[:20])
            assert type(message["data"]) is bytes
        no_message(p)
    assert r.echo(bytes(range(256))) == bytes(range(256))


def test_unsubscribe_and_punsubscribe_without_arguments(r):
    with r.pubsub() as p:
        p.subscribe("a", "b", "c")
        p.psubscribe("x*", "y*")
        assert [next_message(p) for _ in range(5)] == [
            sub(b"a", 1), sub(b"b", 2), sub(b"c", 3), psub(b"x*", 4), psub(b"y*", 5)]
        p.unsubscribe()
        replies = [next_message(p) for _ in range(3)]
        assert [m["type"] for m in replies] == ["unsubscribe"] * 3
        assert {m["channel"] for m in replies} == {b"a", b"b", b"c"}
        assert [m["data"] for m in replies] == [4, 3, 2]  # patterns still count
        assert p.subscribed is True
        assert r.pubsub_numsub("a", "b", "c") == [(b"a", 0), (b"b", 0), (b"c", 0)]
        assert r.publish("xa", "still here") == 1
        assert next_message(p) == pmsg(b"x*", b"xa", b"still here")
        p.punsubscribe()
        replies = [next_message(p) for _ in range(2)]
        assert [m["type"] for m in replies] == ["punsubscribe"] * 2
        assert {m["channel"] for m in replies} == {b"x*", b"y*"}
        assert [m["data"] for m in replies] == [1, 0]
        assert p.subscribed is False
        assert r.pubsub_numpat() == 0
        assert r.publish("xa", "gone") == 0
    # With nothing subscribed, the reply is [unsubscribe, nil, 0] (also outside pub/sub mode).
    assert r.execute_command("UNSUBSCRIBE") == [b"unsubscribe", None, 0]
    assert r.execute_command("PUNSUBSCRIBE") == [b"punsubscribe", None, 0]


def test_unsubscribe_specific_channels(r):
    with r.pubsub() as p:
        p.subscribe("a", "b")
        assert [next_message(p) for _ in range(2)] == [sub(b"a", 1), sub(b"b", 2)]
        p.unsubscribe("b", "never")
        assert next_message(p) == {"type": "unsubscribe", "pattern": None, "channel": b"b",
                                   "data": 1}
        assert next_message(p) == {"type": "unsubscribe", "pattern": None,
                                   "channel": b"never", "data": 1}
        assert r.publish("b", "x") == 0
        assert r.publish("a", "y") == 1
        assert next_message(p) == msg(b"a", b"y")


def test_pubsub_introspection(r, backplane):
    assert r.pubsub_channels() == []
    assert r.pubsub_numpat() == 0
    assert r.pubsub_numsub() == []
    assert r.pubsub_numsub("none") == [(b"none", 0)]
    with connect(backplane) as other, r.pubsub() as p1, other.pubsub() as p2:
        p1.subscribe("room:1", "room:2", "lobby")
        p1.psubscribe("room:*")
        p2.subscribe("room:1")
        p2.psubscribe("room:*", "*")
        for p, count in ((p1, 4), (p2, 3)):
            for _ in range(count):
                next_message(p)
        assert r.pubsub_numsub("room:1", "room:2", "lobby", "room:3") == \
            [(b"room:1", 2), (b"room:2", 1), (b"lobby", 1), (b"room:3", 0)]
        # Redis 7 counts distinct patterns (dictSize of server.pubsub_patterns), not clients.
        assert r.pubsub_numpat() == 2
        assert set(r.pubsub_channels()) == {b"room:1", b"room:2", b"lobby"}
        assert set(r.pubsub_channels("room:*")) == {b"room:1", b"room:2"}
        assert r.pubsub_channels("nothing*") == []
        p2.punsubscribe("*")
        assert next_message(p2)["type"] == "punsubscribe"
        assert r.pubsub_numpat() == 1
        p2.punsubscribe("room:*")
        assert next_message(p2)["type"] == "punsubscribe"
        assert r.pubsub_numpat() == 1  # p1 still has room:*


def test_publish_counts(r, backplane):
    with connect(backplane) as other, r.pubsub() as p1, other.pubsub() as p2:
        p1.subscribe("orders")
        p1.psubscribe("ord*")
        assert [next_message(p1) for _ in range(2)] == [sub(b"orders", 1), psub(b"ord*", 2)]
        # One client subscribed to the channel and to a matching pattern counts twice.
        assert r.publish("orders", "a") == 2
        assert next_message(p1) == msg(b"orders", b"a")
        assert next_message(p1) == pmsg(b"ord*", b"orders", b"a")
        p2.psubscribe("*ers", "o*")
        assert [next_message(p2) for _ in range(2)] == [psub(b"*ers", 1), psub(b"o*", 2)]
        assert r.publish("orders", "b") == 4
        assert r.publish("others", "c") == 2  # *ers and o* on p2 only
        assert r.publish("unrelated", "d") == 0
        got = [next_message(p2) for _ in range(4)]
        assert sorted((m["pattern"], m["channel"], m["data"]) for m in got) == [
            (b"*ers", b"orders", b"b"), (b"*ers", b"others", b"c"),
            (b"o*", b"orders", b"b"), (b"o*", b"others", b"c")]
        # Per channel the order is the publish order.
        assert [m["data"] for m in got] == [b"b", b"b", b"c", b"c"]
        p2.subscribe("orders")
        assert next_message(p2) == sub(b"orders", 3)
        assert r.publish("orders", "e") == 5
        assert [next_message(p1)["data"] for _ in range(4)] == [b"b", b"b", b"e", b"e"]
        assert [next_message(p2)["data"] for _ in range(3)] == [b"e", b"e", b"e"]
        no_message(p1)
        no_message(p2)


def test_client_list_and_client_id(backplane):
    with connect(backplane, client_name="lister") as r, \
            connect(backplane, client_name="listener") as other, other.pubsub() as p:
        p.subscribe("one", "two")
        p.psubscribe("p*")
        for _ in range(3):
            next_message(p)
        my_id = r.client_id()
        assert type(my_id) is int and my_id > 0
        assert other.client_id() != my_id
        entries = r.client_list()
        # `other` has two connections named "listener": its pool's and its PubSub's.
        assert sorted(e["name"] for e in entries) == ["listener", "listener", "lister"]
        me = next(e for e in entries if e["name"] == "lister")
        listener = next(e for e in entries if e["name"] == "listener" and e["sub"] != "0")
        assert int(me["id"]) == my_id
        assert (me["flags"], me["db"], me["sub"], me["psub"], me["user"]) == \
            ("N", "0", "0", "0", "default")
        assert me["addr"].startswith("127.0.0.1:")
        assert me["laddr"] == f"127.0.0.1:{backplane.port}"
        assert (listener["flags"], listener["sub"], listener["psub"]) == ("P", "2", "1")
        assert [e["id"] for e in r.client_list(_type="pubsub")] == [listener["id"]]
        assert sorted(e["name"] for e in r.client_list(_type="normal")) == ["listener", "lister"]
        assert [e["name"] for e in r.client_list(client_id=[str(my_id)])] == ["lister"]


def test_client_list_entry_matches_redis(backplane):
    """The fields a client can check about itself in CLIENT LIST agree with Redis's (cmd= is
    the command being run, i.e. client|list)."""
    with start_redis() as oracle:
        entries = []
        for server in (backplane, oracle):
            with connect(server, client_name="me", db=2) as client:
                client.ping()
                entry = client.client_list()[0]
                entries.append({k: entry[k] for k in
                                ("name", "db", "flags", "sub", "psub", "multi", "cmd", "user",
                                 "resp")})
        assert entries[0] == entries[1]


def test_info(r, backplane):
    info = r.info()
    assert info["redis_version"] == "7.0.15"
    assert info["role"] == "master"
    assert info["redis_mode"] == "standalone"
    assert info["tcp_port"] == backplane.port
    # Connections earlier tests closed may still be counted for a moment with io-threads.
    wait_until(lambda: r.info()["connected_clients"] == 1)
    assert info["loading"] == 0
    assert info["cluster_enabled"] == 0
    server = r.info("server")
    assert server["redis_version"] == "7.0.15" and "role" not in server
    assert r.info("replication")["role"] == "master"
    assert r.info("replication")["connected_slaves"] == 0
    with r.pubsub() as p:
        p.subscribe("i1", "i2")
        p.psubscribe("i*")
        for _ in range(3):
            next_message(p)
        stats = r.info("stats")
        assert (stats["pubsub_channels"], stats["pubsub_patterns"]) == (2, 1)
        assert r.info("clients")["connected_clients"] == 2


def test_info_keys_match_redis(r):
    # Connections earlier tests closed are counted until the server reads their end of stream,
    # which with io-threads happens on another loop, a moment later.
    wait_until(lambda: r.info()["connected_clients"] == 1)
    ours = r.info()
    with start_redis() as oracle, connect(oracle) as theirs_client:
        theirs = theirs_client.info()
    for key in ("redis_version", "redis_mode", "role", "connected_clients", "loading",
                "cluster_enabled", "connected_slaves", "pubsub_channels", "pubsub_patterns",
                "arch_bits", "master_repl_offset"):
        assert type(ours[key]) is type(theirs[key]), key
        if key not in ("arch_bits",):
            assert ours[key] == theirs[key], key


def test_config_get_and_set(r):
    assert r.config_get("maxclients") == {"maxclients": "10000"}
    assert r.config_get("timeout") == {"timeout": "0"}
    assert r.config_set("timeout", 5) is True
    assert r.config_get("timeout") == {"timeout": "5"}
    assert r.config_get("nosuchparameter") == {}
    with pytest.raises(redis.ResponseError) as error:
        r.config_set("timeout", "abc")
    assert str(error.value) == ("CONFIG SET failed (possibly related to argument 'timeout') - "
                                "argument couldn't be parsed into an integer")
    assert r.config_get("timeout") == {"timeout": "5"}


def test_config_maxclients_from_command_line():
    with start_backplane(maxclients=123) as server, connect(server) as client:
        assert client.config_get("maxclients") == {"maxclients": "123"}
        assert client.config_get("max*")["maxclients"] == "123"


def test_time(r):
    before = time.time()
    seconds, micros = r.execute_command("TIME")
    after = time.time()
    assert type(seconds) is int and type(micros) is int
    assert 0 <= micros < 1_000_000
    assert before - 1 <= seconds + micros / 1e6 <= after + 1
    assert r.time()[0] >= seconds


def test_ping_and_echo(r):
    assert r.ping() is True
    assert r.echo("hello") == b"hello"
    assert r.echo("") == b""
    assert r.echo(b"\x00\r\n\xff") == b"\x00\r\n\xff"
    assert r.echo(12) == b"12"
    with pytest.raises(redis.ResponseError) as error:
        r.execute_command("ECHO")
    assert str(error.value) == "wrong number of arguments for 'echo' command"
    with pytest.raises(redis.ResponseError) as error:
        r.execute_command("NOSUCHCOMMAND", "x")
    assert str(error.value) == \
        "unknown command 'NOSUCHCOMMAND', with args beginning with: 'x' "


def test_pipeline_of_publishes(r, backplane):
    with connect(backplane) as subscriber_client, subscriber_client.pubsub() as p:
        p.subscribe("pipe")
        assert next_message(p) == sub(b"pipe", 1)
        with r.pipeline(transaction=False) as pipe:
            for i in range(2000):
                pipe.publish("pipe" if i % 2 == 0 else "elsewhere", i)
            pipe.ping()
            pipe.echo("done")
            results = pipe.execute()
        assert results == [1, 0] * 1000 + [True, b"done"]
        assert [next_message(p)["data"] for _ in range(1000)] == \
            [str(i).encode() for i in range(0, 2000, 2)]
        no_message(p)


def test_pipeline_with_errors_keeps_reply_order(r):
    with r.pipeline(transaction=False) as pipe:
        pipe.publish("a", "1")
        pipe.execute_command("NOSUCH")
        pipe.echo("after")
        results = pipe.execute(raise_on_error=False)
    assert results[0] == 0
    assert isinstance(results[1], redis.ResponseError)
    assert str(results[1]) == "unknown command 'NOSUCH', with args beginning with: "
    assert results[2] == b"after"


def test_commands_refused_while_subscribed(r):
    with r.pubsub() as p:
        p.subscribe("busy")
        assert next_message(p) == sub(b"busy", 1)
        p.execute_command("PUBLISH", "busy", "x")
        with pytest.raises(redis.ResponseError) as error:
            p.parse_response(block=True)
        assert str(error.value) == (
            "Can't execute 'publish': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
            "RESET are allowed in this context")
        assert r.publish("busy", "still subscribed") == 1
        assert next_message(p) == msg(b"busy", b"still subscribed")


def test_unix_socket():
    directory = tempfile.mkdtemp(prefix="bppy")
    path = os.path.join(directory, "bp.sock")
    try:
        with start_backplane(unixsocket=path) as server:
            with redis.Redis(unix_socket_path=path, socket_timeout=TIMEOUT) as client, \
                    client.pubsub() as p, connect(server) as tcp:
                assert client.ping() is True
                p.subscribe("u")
                assert next_message(p) == sub(b"u", 1)
                assert tcp.publish("u", "from tcp") == 1
                assert next_message(p) == msg(b"u", b"from tcp")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Reconnection: the server restarts on the same port


def test_reconnect_after_server_restart():
    first = start_backplane()
    port = first.port
    second = None
    try:
        with redis.Redis(port=port, socket_timeout=TIMEOUT) as client, \
                redis.Redis(port=port, socket_timeout=TIMEOUT) as publisher, \
                client.pubsub() as p:
            p.subscribe("survivor")
            p.psubscribe("surv*")
            assert next_message(p) == sub(b"survivor", 1)
            assert next_message(p) == psub(b"surv*", 2)
            assert client.ping() is True
            assert publisher.publish("survivor", "before") == 2
            assert next_message(p) == msg(b"survivor", b"before")
            assert next_message(p) == pmsg(b"surv*", b"survivor", b"before")

            assert first.stop() is not None
            second = start_backplane(port=port)
            assert second.port == port

            # The pooled connections are dead: the first call on each may raise
            # ConnectionError (redis-py 4.3.4 does not retry by default), and the next works.
            for attempt in range(2):
                try:
                    assert client.ping() is True
                    break
                except redis.ConnectionError:
                    assert attempt == 0
            # The PubSub connection reconnects on its next read and re-subscribes by itself.
            resubscribed = []
            for attempt in range(3):
                try:
                    message = p.get_message(timeout=1)
                except redis.ConnectionError:
                    assert attempt == 0
                    continue
                if message is not None:
                    resubscribed.append(message)
                    break
            resubscribed += [next_message(p)]
            assert sorted(resubscribed, key=lambda m: m["type"]) == \
                [psub(b"surv*", 2), sub(b"survivor", 1)]
            wait_until(lambda: client.pubsub_numsub("survivor") == [(b"survivor", 1)],
                       what="resubscription")
            for attempt in range(2):
                try:
                    assert publisher.publish("survivor", "after") == 2
                    break
                except redis.ConnectionError:
                    assert attempt == 0
            assert next_message(p) == msg(b"survivor", b"after")
            assert next_message(p) == pmsg(b"surv*", b"survivor", b"after")

            # A brand-new client and PubSub work too.
            with redis.Redis(port=port, socket_timeout=TIMEOUT) as fresh, fresh.pubsub() as q:
                assert fresh.ping() is True
                q.subscribe("fresh")
                assert next_message(q) == sub(b"fresh", 1)
                assert fresh.publish("fresh", "new") == 1
                assert next_message(q) == msg(b"fresh", b"new")
    finally:
        first.__exit__(None, None, None)
        if second is not None:
            second.__exit__(None, None, None)
