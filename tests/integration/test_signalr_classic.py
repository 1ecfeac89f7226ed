"""Classic ASP.NET SignalR (1.x - 2.0.2) scale-out on backplane-server, with no Redis behind it.

The byte sequences are the ones SignalR's RedisMessageBus sends through BookSleeve
(/work/shared/reference/client-surface.md section 1.3 and 1.4):

* 1.0.x: `INCR <key>` then `PUBLISH <key> {"Id":n,...}`; the subscriber connection sends one
  multi-channel SUBSCRIBE for all event keys.
* 1.1.0 - 2.0.2: `GET key`; `WATCH key` with `GET key` (or `EXISTS key` while it is nil) as the
  condition; `MULTI`, `INCR key`, `PUBLISH key <Int64 id LE + Int32 len + bytes>`, `EXEC`; an
  `UNWATCH` when the condition fails; a `SELECT 0` before the first command after each EXEC.
  The id inside the payload is computed by the client (oldId + 1), so two web servers racing
  must never both get their EXEC through with the same id: WATCH has to abort one of them.

Every reply is compared byte for byte. Two simulated nodes race the WATCH/MULTI/EXEC path, both
interleaved step by step (so the races certainly happen) and from two threads, and a
subscriber must see every successful EXEC's id exactly once, in order, and nothing else.
"""
import json
import random
import re
import struct
import threading

import pytest
from itest_util import AGAINST_REDIS, Client, bulk, encode, message
from servers import start_redis

OK = b"+OK\r\n"
QUEUED = b"+QUEUED\r\n"
NULL = b"$-1\r\n"
ABORTED = b"*-1\r\n"


def integer(n):
    return b":%d\r\n" % n


def subscribed(channel, count):
    return b"*3\r\n$9\r\nsubscribe\r\n" + bulk(channel) + integer(count)


def scaleout_payload(message_id, node, serial):
    """SignalR 1.1-2.0.2's RedisMessage.ToBytes: Int64 id (LE), Int32 length, the message."""
    body = b"node=%s;serial=%d" % (node.encode(), serial)
    return struct.pack("<qi", message_id, len(body)) + body


def payload_id(payload):
    return struct.unpack_from("<q", payload)[0]


def read_messages(subscriber, channel, count):
    """Reads `count` message frames for `channel`; returns their payloads."""
    payloads = []
    for _ in range(count):
        frame = subscriber.read_reply(timeout=10)
        m = re.fullmatch(rb"\*3\r\n\$7\r\nmessage\r\n\$(\d+)\r\n(.*)\r\n\$(\d+)\r\n(.*)\r\n",
                         frame, re.S)
        assert m and m.group(2) == channel.encode(), frame[:200]
        payloads.append(m.group(4))
        assert len(m.group(4)) == int(m.group(3))
    return payloads


def booksleeve_node(conn, key, name, iterations, stats):
    """One SignalR 1.1-2.0.2 node publishing `iterations` messages through the WATCH path.

    A generator: it yields after each write, before reading the replies, so a scheduler can let
    the other node run in between. Every reply is checked byte for byte.
    """
    after_exec = False
    serial = 0
    while stats["published"][name] < iterations:
        if after_exec:
            conn.send_command("SELECT", "0")
            yield
            assert conn.read_reply() == OK
            after_exec = False
        conn.send_command("GET", key)
        yield
        reply = conn.read_reply()
        if reply == NULL:
            old_id = None
        else:
            m = re.fullmatch(rb"\$\d+\r\n(\d+)\r\n", reply)
            assert m, reply
            old_id = int(m.group(1))
        new_id = (old_id or 0) + 1
        condition = ("EXISTS", key) if old_id is None else ("GET", key)
        conn.send(encode("WATCH", key) + encode(*condition))
        yield
        assert conn.read_reply() == OK
        check = conn.read_reply()
        holds = check == integer(0) if old_id is None else check == bulk(str(old_id))
        if not holds:
            conn.send_command("UNWATCH")
            yield
            assert conn.read_reply() == OK
            stats["condition_failed"] += 1
            continue
        serial += 1
        payload = scaleout_payload(new_id, name, serial)
        conn.send(encode("MULTI") + encode("INCR", key) + encode("PUBLISH", key, payload) +
                  encode("EXEC"))
        yield
        assert [conn.read_reply() for _ in range(3)] == [OK, QUEUED, QUEUED]
        result = conn.read_reply()
        after_exec = True
        if result == ABORTED:
            stats["aborted"] += 1
            continue
        # INCR returned the very id the client put in the payload; one subscriber received it.
        assert result == b"*2\r\n" + integer(new_id) + integer(1), result
        stats["published"][name] += 1
        stats["ids"].append(new_id)
        stats["payloads"][new_id] = payload


def new_stats(names):
    return {"published": {n: 0 for n in names}, "aborted": 0, "condition_failed": 0, "ids": [],
            "payloads": {}}


def check_subscriber_saw_each_id_once_in_order(subscriber, key, stats):
    total = len(stats["ids"])
    payloads = read_messages(subscriber, key, total)
    ids = [payload_id(p) for p in payloads]
    assert ids == list(range(1, total + 1))
    assert sorted(stats["ids"]) == ids  # no id was issued twice, none was lost
    assert all(stats["payloads"][payload_id(p)] == p for p in payloads)
    assert subscriber.collect(silence=0.2)[0] == b""  # nothing more: no aborted EXEC published


def test_tie_breaker_get_is_nil(plain):
    with Client(plain.port) as c:
        assert c.call("GET", "__Booksleeve_TieBreak") == NULL


def test_signalr_1_0_incr_then_publish(plain):
    """SignalR 1.0.x: INCR then PUBLISH of the JSON envelope, two nodes, several event keys."""
    keys = ["SignalR-10-0", "SignalR-10-1", "SignalR-10-2"]
    with Client(plain.port) as sub, Client(plain.port) as node_a, Client(plain.port) as node_b:
        sub.send_command("SUBSCRIBE", *keys)
        for i, key in enumerate(keys):
            assert sub.read_reply() == subscribed(key, i + 1)
        expected = {key: 0 for key in keys}
        sent = []
        rng = random.Random(10)
        for serial in range(400):
            node = node_a if serial % 2 else node_b
            key = keys[rng.randrange(len(keys))]
            assert node.call("INCR", key) == integer(expected[key] + 1)
            expected[key] += 1
            envelope = json.dumps({"Id": expected[key], "Messages": [{"Serial": serial}]},
                                  separators=(",", ":"))
            assert node.call("PUBLISH", key, envelope) == integer(1)
            sent.append((key, envelope.encode()))
        for key, envelope in sent:
            assert sub.read_reply() == message(key, envelope)
        for key in keys:
            assert node_a.call("GET", key) == bulk(str(expected[key]))


def test_signalr_booksleeve_first_send_bytes(plain):
    """The first send on an absent key, exactly as the wire trace in client-surface.md 1.4."""
    key = "SignalR-first"
    with Client(plain.port) as sub, Client(plain.port) as node:
        assert sub.call("SUBSCRIBE", key) == subscribed(key, 1)
        payload = scaleout_payload(1, "a", 1)
        node.send(encode("GET", key) + encode("WATCH", key) + encode("EXISTS", key) +
                  encode("MULTI") + encode("INCR", key) + encode("PUBLISH", key, payload) +
                  encode("EXEC"))
        replies = [node.read_reply() for _ in range(7)]
        assert replies == [NULL, OK, integer(0), OK, QUEUED, QUEUED, b"*2\r\n:1\r\n:1\r\n"]
        assert sub.read_reply() == message(key, payload)
        # The next send: SELECT 0, GET, WATCH + GET as the condition, the transaction.
        payload = scaleout_payload(2, "a", 2)
        node.send(encode("SELECT", "0") + encode("GET", key) + encode("WATCH", key) +
                  encode("GET", key) + encode("MULTI") + encode("INCR", key) +
                  encode("PUBLISH", key, payload) + encode("EXEC"))
        replies = [node.read_reply() for _ in range(8)]
        assert replies == [OK, bulk("1"), OK, bulk("1"), OK, QUEUED, QUEUED,
                           b"*2\r\n:2\r\n:1\r\n"]
        assert sub.read_reply() == message(key, payload)


def test_signalr_booksleeve_condition_failure_unwatches(plain):
    """When another node moved the id between GET and the condition, BookSleeve UNWATCHes."""
    key = "SignalR-unwatch"
    with Client(plain.port) as a, Client(plain.port) as b:
        assert a.call("SET", key, "5") == OK
        assert a.call("GET", key) == bulk("5")
        assert b.call("INCR", key) == integer(6)
        a.send(encode("WATCH", key) + encode("GET", key))
        assert [a.read_reply(), a.read_reply()] == [OK, bulk("6")]
        assert a.call("UNWATCH") == OK
        # Unwatched: a later change by b no longer aborts a's next transaction.
        assert b.call("INCR", key) == integer(7)
        a.send(encode("MULTI") + encode("INCR", key) + encode("EXEC"))
        assert [a.read_reply() for _ in range(3)] == [OK, QUEUED, b"*1\r\n:8\r\n"]


def test_signalr_booksleeve_two_nodes_interleaved(plain):
    """Two nodes advanced one network step at a time in a random order (seeded), so their
    GET/WATCH/MULTI/EXEC sequences interleave in every way; both conflict paths must occur."""
    key = "SignalR-race-interleaved"
    iterations = 300
    with Client(plain.port) as sub, Client(plain.port) as a, Client(plain.port) as b:
        assert sub.call("SUBSCRIBE", key) == subscribed(key, 1)
        stats = new_stats(["a", "b"])
        nodes = [booksleeve_node(a, key, "a", iterations, stats),
                 booksleeve_node(b, key, "b", iterations, stats)]
        rng = random.Random(2013)
        while nodes:
            node = rng.choice(nodes)
            try:
                next(node)
            except StopIteration:
                nodes.remove(node)
        assert stats["published"] == {"a": iterations, "b": iterations}
        assert stats["aborted"] > 0, stats["aborted"]             # EXEC -> *-1 happened
        assert stats["condition_failed"] > 0                     # the UNWATCH path happened
        check_subscriber_saw_each_id_once_in_order(sub, key, stats)
        assert a.call("GET", key) == bulk(str(2 * iterations))


def test_signalr_booksleeve_two_nodes_threads(plain):
    """The same race with two real threads on their own connections."""
    key = "SignalR-race-threads"
    iterations = 300
    with Client(plain.port) as sub, Client(plain.port) as a, Client(plain.port) as b:
        assert sub.call("SUBSCRIBE", key) == subscribed(key, 1)
        stats = new_stats(["a", "b"])
        lock = threading.Lock()
        errors = []

        def run(conn, name):
            # Each node keeps its own counters, merged under the lock at the end.
            own = new_stats([name])
            try:
                for _ in booksleeve_node(conn, key, name, iterations, own):
                    pass
            except Exception as error:  # reported by the main thread
                errors.append(error)
            with lock:
                stats["published"][name] = own["published"][name]
                stats["aborted"] += own["aborted"]
                stats["condition_failed"] += own["condition_failed"]
                stats["ids"] += own["ids"]
                stats["payloads"].update(own["payloads"])

        threads = [threading.Thread(target=run, args=(a, "a")),
                   threading.Thread(target=run, args=(b, "b"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        assert stats["published"] == {"a": iterations, "b": iterations}
        check_subscriber_saw_each_id_once_in_order(sub, key, stats)


def test_info_keyspace_section(plain):
    with Client(plain.port) as c:
        assert c.call("SELECT", "7") == OK
        assert c.call("SET", "counter", "1") == OK
        assert c.call("SET", "later", "1", "EX", "1000") == OK
        info = c.call("INFO", "keyspace")
        text = info.split(b"\r\n", 1)[1]
        assert b"# Keyspace\r\n" in text
        m = re.search(rb"db7:keys=2,expires=1,avg_ttl=(\d+)\r\n", text)
        assert m, text
        # Redis's avg_ttl is an estimate its expiry cycle refines (0 at first); ours is exact.
        assert AGAINST_REDIS or 990_000 <= int(m.group(1)) <= 1_000_000, text
        assert c.call("FLUSHDB") == OK
        assert b"db7:" not in c.call("INFO", "keyspace")


KEYSPACE_COMMANDS = ("get set setnx setex psetex mget mset incr incrby decr decrby append strlen "
                     "exists del unlink type expire pexpire expireat pexpireat ttl pttl expiretime "
                     "pexpiretime persist dbsize flushdb flushall keys multi exec discard watch "
                     "unwatch").split()


@pytest.fixture(scope="module")
def redis_oracle():
    with start_redis() as server:
        yield server


@pytest.mark.parametrize("name", KEYSPACE_COMMANDS)
def test_command_info_matches_redis(plain, redis_oracle, name):
    """Name, arity, flags, key positions, ACL categories and subcommands exactly as
    redis-server 7.0; Backplane leaves out the tips and key specs (elements 8 and 9)."""
    def fields(port):
        with Client(port) as c:
            c.send_command("COMMAND", "INFO", name)
            assert c.read_line() == b"*1\r\n"
            assert c.read_line() == b"*10\r\n"
            return [c.read_reply() for _ in range(10)]
    ours, theirs = fields(plain.port), fields(redis_oracle.port)
    assert ours[:7] == theirs[:7]
    assert ours[9] == theirs[9]


def test_client_list_shows_transaction_state(plain):
    """CLIENT LIST: `flags=x` inside MULTI, `d` once a watched key changed, `multi=<queued>`."""
    with Client(plain.port) as a, Client(plain.port) as b:
        assert a.call("CLIENT", "SETNAME", "txn") == OK
        assert a.call("WATCH", "k") == OK
        assert a.call("MULTI") == OK
        assert a.call("SET", "x", "1") == QUEUED
        line = next(l for l in b.call("CLIENT", "LIST").split(b"\n") if b"name=txn " in l)
        assert b" flags=x " in line and b" multi=1 " in line, line
        assert b.call("SET", "k", "2") == OK
        line = next(l for l in b.call("CLIENT", "LIST").split(b"\n") if b"name=txn " in l)
        assert b" flags=xd " in line and b" multi=1 " in line, line
        assert a.call("EXEC") == ABORTED
        line = next(l for l in b.call("CLIENT", "LIST").split(b"\n") if b"name=txn " in l)
        assert b" flags=N " in line and b" multi=-1 " in line and b" cmd=exec " in line, line


def test_huge_databases_setting_costs_nothing_until_used(start):
    """Databases are created on first use: `databases 2000000000` starts, and the last one
    works. (redis-server itself allocates them all up front and cannot start with this.)"""
    if AGAINST_REDIS:
        pytest.skip("redis-server allocates every database at startup")
    server = start(databases=2000000000)
    with Client(server.port) as c:
        assert c.call("SELECT", "1999999999") == OK
        assert c.call("SET", "k", "v") == OK
        assert c.call("GET", "k") == bulk("v")
        assert b"db1999999999:keys=1,expires=0,avg_ttl=0\r\n" in c.call("INFO", "keyspace")
        assert c.call("SELECT", "2000000000") == b"-ERR DB index is out of range\r\n"
