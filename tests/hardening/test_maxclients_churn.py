"""maxclients is exact under churn (redis-behaviour.md 3.2, 7.3 item 12): the limit is never
exceeded, a refused connection gets the exact error then EOF, and a slot freed by a client's
close is usable by the very next connection."""
import random

from hutil import MAX_CLIENTS, PONG, Conn, encode, info_field, reset_close, wait_until

LIMIT = 50


def refused(port):
    with Conn(port) as extra:
        return extra.wait_closed(timeout=3) == (MAX_CLIENTS, True)


def served(port):
    """A new connection and what its first PING got: PONG, or the refusal (or b"" on EOF)."""
    c = Conn(port)
    c.send(encode("PING"))
    try:
        return c, c.read_line(timeout=2)
    except EOFError as eof:
        return c, str(eof).encode()


def connected_clients(port_conn):
    return int(info_field(port_conn, "connected_clients"))


def settles_to_one_client(port, timeout=3):
    """True once a fresh connection is the only client. With --io-threads a closed client's
    slot is freed when its own loop sees the close, which can come after the listener accepted
    the fresh one; that one is then refused (INFO gets the error) and the check retries."""
    def only_one():
        with Conn(port) as c:
            try:
                return connected_clients(c) == 1
            except KeyError:
                return False
    return wait_until(only_one, timeout=timeout)


def test_maxclients_exact_under_churn(start):
    server = start(maxclients=LIMIT)
    # the readiness probe's connection may still count: wait until it is gone
    with Conn(server.port) as probe:
        assert wait_until(lambda: connected_clients(probe) == 1, timeout=3)
    clients = []
    try:
        for i in range(LIMIT):
            c = Conn(server.port)
            assert c.call("PING") == PONG, f"client {i + 1} of {LIMIT} was not served"
            clients.append(c)
        assert connected_clients(clients[0]) == LIMIT
        assert refused(server.port), "connection 51 was not refused with the exact error"
        rng = random.Random(7)
        for round_ in range(5):
            # close 10 (some with a plain FIN, some with a reset), then reconnect at once
            for _ in range(10):
                victim = clients.pop(rng.randrange(len(clients)))
                if rng.random() < 0.5:
                    reset_close(victim.sock)
                else:
                    victim.close()
            # The server learns of a close from the FIN/RST, which the kernel may deliver
            # after a later SYN when the box is busy (the client thread can move to another
            # CPU whose softirq backlog runs first). Wait until the server has seen the ten
            # closes (it must within 1 s) so the test checks the server, not that race.
            assert wait_until(lambda: connected_clients(clients[0]) == LIMIT - 10, timeout=1.0,
                              step=0.005), f"round {round_}: the closes were not noticed"
            for i in range(10):
                c, data = served(server.port)
                clients.append(c)
                assert data == PONG, (f"round {round_}: new connection {i + 1} of 10 after 10 "
                                      f"closes got {data!r}")
            assert refused(server.port), f"round {round_}: connection 51 was not refused"
            assert connected_clients(clients[-1]) == LIMIT
        for c in clients:
            assert c.call("PING") == PONG
    finally:
        for c in clients:
            c.close()
    assert settles_to_one_client(server.port)


def test_refused_burst_does_not_consume_slots(start):
    """200 connections at once against maxclients 50 leave exactly 50 served and 150 refused
    (each with the exact error and EOF); closing all frees all 50 slots."""
    server = start(maxclients=LIMIT)
    with Conn(server.port) as probe:
        assert wait_until(lambda: connected_clients(probe) == 1, timeout=3)
    conns = [Conn(server.port) for _ in range(200)]
    try:
        for c in conns:
            c.send(encode("PING"))
        served_count = refused_count = 0
        for i, c in enumerate(conns):
            line = c.read_line(timeout=2)
            if line == PONG:
                served_count += 1
            elif line == MAX_CLIENTS:
                assert c.wait_closed(timeout=2) == (b"", True), f"connection {i} not closed"
                refused_count += 1
            else:
                raise AssertionError(f"connection {i}: {line!r}")
        assert (served_count, refused_count) == (LIMIT, 150)
    finally:
        for c in conns:
            c.close()
    assert settles_to_one_client(server.port)
    kept = [Conn(server.port) for _ in range(LIMIT)]
    try:
        for c in kept:
            assert c.call("PING") == PONG
        assert refused(server.port)
    finally:
        for c in kept:
            c.close()
