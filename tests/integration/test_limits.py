"""Connection limits: unauthenticated output flood, query-buffer limit, maxclients, idle
timeout, pathological glob patterns."""
import socket
import threading
import time

from itest_util import NOAUTH, PASSWORD, PONG, SUB_PONG, Client, encode, wait_until

MAX_CLIENTS = b"-ERR max number of clients reached\r\n"


def test_unauthenticated_pipelining_flood_is_cut_off(secured):
    """CVE-2025-21605: a client that never authenticates and never reads its NOAUTH replies is
    disconnected instead of growing an unlimited output buffer; others are unaffected."""
    c = Client(secured.port, rcvbuf=4096, timeout=20)
    flood = b"PING\r\n" * (10 * 1024 * 1024 // 6)  # 10 MiB of requests, ~58 MB of replies
    outcome = {}

    def send():
        outcome["sent"] = c.send(flood)

    sender = threading.Thread(target=send)
    started = time.monotonic()
    sender.start()
    sender.join(20)
    assert not sender.is_alive(), "the server neither read the flood nor closed the connection"
    if outcome["sent"]:
        # Everything was written; the server must still close without us reading much.
        time.sleep(0.5)
        data, closed = c.wait_closed(timeout=10)
        assert closed, "unauthenticated flooding client was never disconnected"
        assert len(data) < 10 * 1024 * 1024, "the server queued the whole reply stream"
    assert time.monotonic() - started < 15
    c.close()
    assert secured.alive()
    with Client(secured.port) as ok:
        assert ok.call("PING") == NOAUTH
        assert ok.call("AUTH", PASSWORD) == b"+OK\r\n"


def test_authenticated_pipelining_is_not_cut_off(secured):
    """The cap is for unauthenticated clients only: an authenticated client may pipeline
    100,000 PINGs and read the 700 KB of replies afterwards."""
    with Client(secured.port, timeout=20) as c:
        assert c.call("AUTH", PASSWORD) == b"+OK\r\n"
        c.send(encode("PING") * 100_000)
        assert c.read_exact(len(PONG) * 100_000, timeout=20) == PONG * 100_000


def test_query_buffer_limit_closes_silently(start):
    server = start(client_query_buffer_limit="1mb")
    with Client(server.port) as c:
        c.send(b"*2\r\n$4\r\nECHO\r\n$3000000\r\n" + b"x" * 3_000_000 + b"\r\n")
        data, closed = c.wait_closed(timeout=5)
        assert (data, closed) == (b"", True)
    with Client(server.port) as c:
        # just under the limit is fine
        value = b"y" * 1_000_000
        assert c.call("ECHO", value, timeout=10) == b"$1000000\r\n" + value + b"\r\n"
    assert server.alive()


def test_maxclients_exact(start):
    server = start(maxclients=3)
    time.sleep(0.3)  # let the server notice that the readiness probe's connection closed
    clients = [Client(server.port) for _ in range(3)]
    try:
        for c in clients:
            assert c.call("PING") == PONG
        with Client(server.port) as extra:
            # The error arrives without sending anything, then EOF.
            assert extra.wait_closed(timeout=3) == (MAX_CLIENTS, True)
        with Client(server.port) as extra:
            extra.send(encode("PING"))
            data, closed = extra.wait_closed(timeout=3)
            assert data == MAX_CLIENTS and closed
        for c in clients:
            assert c.call("PING") == PONG
        clients.pop().close()

        def slot_free():
            with Client(server.port) as probe:
                probe.send(encode("PING"))
                return probe.read_line(timeout=2) == PONG
        assert wait_until(slot_free, timeout=3), "a freed slot was not reused"
    finally:
        for c in clients:
            c.close()


def test_maxclients_counts_subscribers_and_unauthenticated(start):
    server = start(maxclients=2, requirepass=PASSWORD)
    time.sleep(0.3)  # let the server notice that the readiness probe's connection closed
    with Client(server.port) as a, Client(server.port) as b:
        assert a.call("AUTH", PASSWORD) == b"+OK\r\n"
        assert a.call("SUBSCRIBE", "x") == b"*3\r\n$9\r\nsubscribe\r\n$1\r\nx\r\n:1\r\n"
        assert b.call("PING") == NOAUTH
        with Client(server.port) as extra:
            assert extra.wait_closed(timeout=3) == (MAX_CLIENTS, True)


def test_timeout_closes_idle_clients_but_not_subscribers(start):
    server = start(timeout=1)
    with Client(server.port) as idle, Client(server.port) as sub, Client(server.port) as busy:
        assert idle.call("PING") == PONG
        assert sub.call("SUBSCRIBE", "ch") == b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
        assert busy.call("PING") == PONG
        started = time.monotonic()
        deadline = started + 3.2
        while time.monotonic() < deadline:
            assert busy.call("PING") == PONG  # activity keeps it open
            time.sleep(0.3)
            if idle.closed:
                continue
            try:
                idle.sock.settimeout(0.01)
                if idle.sock.recv(1) == b"":
                    idle.closed = True
                    closed_after = time.monotonic() - started
            except socket.timeout:
                pass
        assert idle.closed, "an idle normal client was not closed"
        assert 0.9 <= closed_after <= 3.2
        # The idle subscriber is exempt and still answers.
        assert sub.call("PING") == SUB_PONG
        assert busy.call("PING") == PONG


def test_pathological_pattern_publish_is_fast(plain):
    """PSUBSCRIBE '*?' x 50000, then PUBLISH to a 50 KB channel name: answered in < 50 ms.
    Like Redis (CVE-2024-31228: more than 1000 nested stars never match), it reaches nobody."""
    with Client(plain.port) as s, Client(plain.port) as p:
        assert s.call("PSUBSCRIBE", "*?" * 50000).endswith(b":1\r\n")
        assert s.call("PSUBSCRIBE", "a*" * 20 + "b").endswith(b":2\r\n")
        assert p.call("PING") == PONG
        channel = "a" * 50000
        took = []
        for _ in range(5):
            started = time.perf_counter()
            reply = p.call("PUBLISH", channel, "x")
            took.append(time.perf_counter() - started)
            assert reply == b":0\r\n"
        # the median guards against a scheduling hiccup on a busy machine; a matcher with
        # super-linear behaviour takes seconds every time
        took.sort()
        assert took[2] < 0.050 and took[-1] < 0.5, "PUBLISH took " + ", ".join(f"{t * 1000:.1f} ms" for t in took)
        assert s.collect(silence=0.1) == (b"", False)
