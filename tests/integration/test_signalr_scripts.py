"""Classic ASP.NET SignalR 2.0.3 - 2.4.3 sends every message through a Lua script. These tests
replay, byte for byte, what its two Redis client libraries send (see
shared/reference/client-surface.md section 1.5) and check the replies and the messages that
reach the other SignalR nodes, which subscribe to the same key as a channel.

* BookSleeve (SignalR 2.0.3 - 2.1.2): SCRIPT LOAD, then EVALSHA <sha> 1 <key> <payload>, with
  SELECT 0 before each later EVALSHA.
* StackExchange.Redis (SignalR 2.2.0 - 2.4.3): SCRIPT LOAD and the full EVAL pipelined, then
  EVALSHA once the SHA1 is known. The restore script (2.3.0+) runs on reconnection.

The C# verbatim strings keep the line ends the DLL was compiled with, LF or CRLF, so both are
replayed and the SHA1 must be computed over the exact bytes received.

BACKPLANE_ITEST_AGAINST=redis runs the same tests against redis-server 7.0 (except the
script time limit, a deliberate difference)."""
import hashlib
import threading
import time

import pytest

from itest_util import AGAINST_REDIS, Client, bulk, encode, message

SEND_2_2 = ("local newId = redis.call('INCR', KEYS[1])\n"
            "                  local payload = newId .. ' ' .. ARGV[1]\n"
            "                  redis.call('PUBLISH', KEYS[1], payload)\n"
            "                  return {newId, ARGV[1], payload}").encode()
SEND_2_0_3 = ("local newId = redis.call('INCR', KEYS[1])\n"
              "                  local payload = newId .. ' ' .. ARGV[1]\n"
              "                  return redis.call('PUBLISH', KEYS[1], payload)").encode()
RESTORE_2_3 = ("local newvalue = tonumber(redis.call('GET', KEYS[1]))\n"
               "                     if not newvalue or tonumber(newvalue) < tonumber(ARGV[1]) then\n"
               "                         return redis.call('SET', KEYS[1], ARGV[1])\n"
               "                     else\n"
               "                         return nil\n"
               "                     end").encode()
RESTORE_2_2 = ("local newvalue = redis.call('GET', KEYS[1])\n"
               "                    if newvalue < ARGV[1] then\n"
               "                        return redis.call('SET', KEYS[1], ARGV[1])\n"
               "                    else\n"
               "                        return nil\n"
               "                    end").encode()

# SHA1 of each script with LF and with CRLF line ends (client-surface.md, section 1.5).
SHAS = {
    SEND_2_2: ("edeb7a3b4fb872b8a76ae281cc47bd2c4d2da9b0", "5b8e3b60e050400311bc8b6ef2cbba37bc0b9cb3"),
    SEND_2_0_3: ("f8359c657ac524a137c0f07150aa265aeb643b82", "4651c92606a1816e6dbcfbb0441ab3dd8fe51853"),
    RESTORE_2_3: ("60a57d72ad3c5f10b4f04fe76cbc5f0cc86d1da8", "6c6810714db227bbaf471eb7be705b219a89d22a"),
    RESTORE_2_2: ("e987d6a28ef3e1b3719e5c5388cae3a3c436d798", "c883e7b82acc1c2a0bb1f2ee805f928afa1c1abb"),
}
LINE_ENDS = {"lf": b"\n", "crlf": b"\r\n"}


def script(lf_text, line_end):
    return lf_text.replace(b"\n", line_end)


def expected_sha(lf_text, line_end):
    return SHAS[lf_text][0 if line_end == b"\n" else 1]


def signalr_payload(text):
    """RedisMessage.ToBytes: an Int32 (little endian) length, then the scaleout message, which
    is binary and holds NUL bytes."""
    body = b"\x00\x01" + text + b"\x00\xff"
    return len(body).to_bytes(4, "little") + body


def subscribe(port, key):
    subscriber = Client(port)
    assert subscriber.call("SUBSCRIBE", key) == b"*3\r\n$9\r\nsubscribe\r\n" + bulk(key) + b":1\r\n"
    return subscriber


def test_script_shas_match_the_reference():
    for text in SHAS:
        for line_end in LINE_ENDS.values():
            assert hashlib.sha1(script(text, line_end)).hexdigest() == expected_sha(text, line_end)


@pytest.mark.parametrize("ending", LINE_ENDS)
def test_booksleeve_flow_signalr_2_0_3(plain, ending):
    line_end = LINE_ENDS[ending]
    key = b"signalr-booksleeve-" + ending.encode()
    text = script(SEND_2_0_3, line_end)
    sha = expected_sha(SEND_2_0_3, line_end).encode()
    first, second = signalr_payload(b"first"), signalr_payload(b"second")
    with subscribe(plain.port, key) as subscriber, Client(plain.port) as node:
        # SCRIPT LOAD is queue-jumped ahead of the EVALSHA that needs it: one write.
        node.send(encode("SCRIPT", "LOAD", text) + encode("EVALSHA", sha, "1", key, first))
        assert node.read_reply() == bulk(sha)
        assert node.read_reply() == b":1\r\n"  # PUBLISH's count of receivers
        # BookSleeve forgets the database after EVALSHA and selects it again.
        node.send(encode("SELECT", "0") + encode("EVALSHA", sha, "1", key, second))
        assert node.read_reply() == b"+OK\r\n"
        assert node.read_reply() == b":1\r\n"
        assert subscriber.read_reply() == message(key, b"1 " + first)
        assert subscriber.read_reply() == message(key, b"2 " + second)
        assert node.call("GET", key) == bulk(b"2")


@pytest.mark.parametrize("ending", LINE_ENDS)
def test_stackexchange_flow_signalr_2_2_to_2_4(plain, ending):
    line_end = LINE_ENDS[ending]
    key = b"signalr-se-" + ending.encode()
    text = script(SEND_2_2, line_end)
    sha = expected_sha(SEND_2_2, line_end).encode()
    first, second = signalr_payload(b"one"), signalr_payload(b"two")
    with subscribe(plain.port, key) as subscriber, Client(plain.port) as node:
        # The SHA1 is not known yet: SCRIPT LOAD and the full EVAL go out together.
        node.send(encode("SCRIPT", "LOAD", text) + encode("EVAL", text, "1", key, first))
        assert node.read_reply() == bulk(sha)
        assert node.read_reply() == b"*3\r\n:1\r\n" + bulk(first) + bulk(b"1 " + first)
        # Later messages use EVALSHA with the SHA1 the server returned.
        assert node.call("EVALSHA", sha, "1", key, second) == (
            b"*3\r\n:2\r\n" + bulk(second) + bulk(b"2 " + second))
        assert subscriber.read_reply() == message(key, b"1 " + first)
        assert subscriber.read_reply() == message(key, b"2 " + second)


@pytest.mark.parametrize("ending", LINE_ENDS)
def test_stackexchange_retries_after_noscript(start, ending):
    """After SCRIPT FLUSH (or a restart) EVALSHA fails with NOSCRIPT; SE.Redis 2.x then sends
    the full EVAL again, which caches the script once more."""
    server = start()
    line_end = LINE_ENDS[ending]
    text = script(SEND_2_2, line_end)
    sha = expected_sha(SEND_2_2, line_end)
    with Client(server.port) as node:
        assert node.call("SCRIPT", "LOAD", text) == bulk(sha)
        assert node.call("SCRIPT", "FLUSH") == b"+OK\r\n"
        assert node.call("EVALSHA", sha, "1", "k", "x") == (
            b"-NOSCRIPT No matching script. Please use EVAL.\r\n")
        assert node.call("EVAL", text, "1", "k", "x") == b"*3\r\n:1\r\n$1\r\nx\r\n$3\r\n1 x\r\n"
        assert node.call("SCRIPT", "EXISTS", sha, sha.upper()) == b"*2\r\n:1\r\n:1\r\n"
        assert node.call("EVALSHA", sha.upper(), "1", "k", "y") == (
            b"*3\r\n:2\r\n$1\r\ny\r\n$3\r\n2 y\r\n")


@pytest.mark.parametrize("ending", LINE_ENDS)
def test_restore_script_signalr_2_3(plain, ending):
    line_end = LINE_ENDS[ending]
    key = b"signalr-restore-" + ending.encode()
    text = script(RESTORE_2_3, line_end)
    with Client(plain.port) as node:
        assert node.call("SCRIPT", "LOAD", text) == bulk(expected_sha(RESTORE_2_3, line_end))
        # Key missing (the server restarted): the latest id SignalR saw is written back.
        assert node.call("EVAL", text, "1", key, "42") == b"+OK\r\n"
        assert node.call("GET", key) == bulk(b"42")
        # Key present and ahead: nothing changes.
        assert node.call("EVAL", text, "1", key, "7") == b"$-1\r\n"
        assert node.call("GET", key) == bulk(b"42")
        # Key present and behind: moved forward, and INCR continues from there.
        assert node.call("EVALSHA", expected_sha(RESTORE_2_3, line_end), "1", key, "100") == (
            b"+OK\r\n")
        assert node.call("INCR", key) == b":101\r\n"


def test_restore_script_signalr_2_2_fails_on_a_missing_key(plain):
    """2.2.x compares a missing key (false) with a string: a Lua error, which SignalR
    catches and traces."""
    sha = expected_sha(RESTORE_2_2, b"\n")
    with Client(plain.port) as node:
        assert node.call("EVAL", RESTORE_2_2, "1", "signalr-restore-2.2", "5") == (
            b"-ERR user_script:2: attempt to compare boolean with string script: "
            + sha.encode() + b", on @user_script:2.\r\n")
        assert node.call("SET", "signalr-restore-2.2", "3") == b"+OK\r\n"
        assert node.call("EVALSHA", sha, "1", "signalr-restore-2.2", "5") == b"+OK\r\n"


def test_racing_nodes_get_unique_increasing_ids(plain):
    """Two SignalR nodes publish at the same time: every message gets its own id, and the
    subscriber sees them in id order, because each script runs atomically."""
    key = b"signalr-race"
    per_node = 300
    sha = expected_sha(SEND_2_2, b"\n").encode()
    with Client(plain.port) as loader:
        assert loader.call("SCRIPT", "LOAD", SEND_2_2) == bulk(sha)
    subscriber = subscribe(plain.port, key)
    ids = {}

    def node(name):
        with Client(plain.port) as connection:
            payloads = [signalr_payload(b"%s-%d" % (name, i)) for i in range(per_node)]
            connection.send(b"".join(encode("EVALSHA", sha, "1", key, p) for p in payloads))
            got = []
            for payload in payloads:
                reply = connection.read_reply()
                head, _, rest = reply.partition(b"\r\n:")
                assert head == b"*3"
                new_id = int(rest.split(b"\r\n", 1)[0])
                assert reply == (b"*3\r\n:%d\r\n" % new_id + bulk(payload)
                                 + bulk(b"%d " % new_id + payload))
                got.append(new_id)
            ids[name] = got

    threads = [threading.Thread(target=node, args=(name,)) for name in (b"a", b"b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(ids[b"a"] + ids[b"b"]) == list(range(1, 2 * per_node + 1))
    assert ids[b"a"] == sorted(ids[b"a"]) and ids[b"b"] == sorted(ids[b"b"])
    seen = []
    for _ in range(2 * per_node):
        reply = subscriber.read_reply()
        payload = reply.split(b"\r\n", 6)[6]
        seen.append(int(payload.split(b" ", 1)[0]))
    assert seen == list(range(1, 2 * per_node + 1))
    subscriber.close()


def test_script_select_does_not_change_the_callers_database(plain):
    with Client(plain.port) as c:
        assert c.call("SELECT", "3") == b"+OK\r\n"
        assert c.call("EVAL", "redis.call('SELECT', 5) return redis.call('SET', 'in5', 'x')",
                      "0") == b"+OK\r\n"
        assert c.call("EXISTS", "in5") == b":0\r\n"
        assert c.call("SELECT", "5") == b"+OK\r\n"
        assert c.call("GET", "in5") == bulk(b"x")
        assert b" db=5 " in c.call("CLIENT", "INFO")


def test_read_only_scripts_refuse_writes(plain):
    with Client(plain.port) as c:
        sha = hashlib.sha1(b"return redis.call('SET', KEYS[1], 'v')").hexdigest()
        assert c.call("EVAL_RO", "return redis.call('SET', KEYS[1], 'v')", "1", "ro") == (
            b"-ERR Write commands are not allowed from read-only scripts. script: "
            + sha.encode() + b", on @user_script:1.\r\n")
        assert c.call("EVAL_RO", "return redis.call('GET', KEYS[1])", "1", "ro") == b"$-1\r\n"
        no_writes = "#!lua flags=no-writes\nreturn redis.call('INCR', 'ro')"
        assert c.call("EVAL", no_writes, "0").startswith(
            b"-ERR Write commands are not allowed from read-only scripts. script: ")
        assert c.call("EXISTS", "ro") == b":0\r\n"


def test_self_referencing_table_ends_with_an_error(plain):
    """A table that holds itself nests until the Lua stack is full; the reply then ends with
    an error element and the connection stays usable."""
    with Client(plain.port) as c:
        c.send_command("EVAL", "local t = {} t[1] = t return t", "0")
        data = b""
        deadline = time.monotonic() + 10
        while not data.endswith(b"-ERR reached lua stack limit\r\n") and time.monotonic() < deadline:
            data += c._recv(5)
        assert data.endswith(b"-ERR reached lua stack limit\r\n")
        assert set(data[: -len(b"-ERR reached lua stack limit\r\n")].split(b"\r\n")) == {b"*1", b""}
        # As deep as in Redis: both stop where Lua 5.1's C stack (LUAI_MAXCSTACK) is full.
        assert data.count(b"*1\r\n") == 7995
        assert c.call("PING") == b"+PONG\r\n"


@pytest.mark.skipif(AGAINST_REDIS, reason="Redis answers BUSY to others instead")
def test_time_limit_stops_a_runaway_script(start):
    server = start(**{"busy-reply-threshold": "200"})
    with Client(server.port) as c, Client(server.port) as other:
        assert c.call("CONFIG", "GET", "lua-time-limit") == (
            b"*2\r\n$14\r\nlua-time-limit\r\n$3\r\n200\r\n")
        started = time.monotonic()
        reply = c.call("EVAL", "while true do end", "0", timeout=10)
        assert time.monotonic() - started < 5
        sha = hashlib.sha1(b"while true do end").hexdigest().encode()
        assert reply == (b"-ERR Script killed: it ran longer than busy-reply-threshold (200 ms);"
                         b" this server stops such scripts instead of replying BUSY to other"
                         b" clients script: " + sha + b", on @user_script:1.\r\n")
        # pcall inside the script cannot catch the stop for long.
        reply = c.call("EVAL", "while true do pcall(function() while true do end end) end", "0",
                       timeout=10)
        assert reply.startswith(b"-ERR Script killed: it ran longer than busy-reply-threshold")
        assert other.call("PING") == b"+PONG\r\n"
        # The other name of the same setting.
        assert c.call("CONFIG", "SET", "busy-reply-threshold", "0") == b"+OK\r\n"
        assert c.call("CONFIG", "GET", "lua-time-limit") == (
            b"*2\r\n$14\r\nlua-time-limit\r\n$1\r\n0\r\n")
        assert c.call("EVAL", "local n = 0 for i = 1, 3000000 do n = n + i end return n", "0",
                      timeout=30) == b":4500001500000\r\n"
        assert c.call("CONFIG", "SET", "lua-time-limit", "-1") == (
            b"-ERR CONFIG SET failed (possibly related to argument 'lua-time-limit') - argument "
            b"must be between 0 and 9223372036854775807 inclusive\r\n")
