"""maxclients is exact under churn (redis-behaviour.md 3.2, 7.3 item 12): the limit is never
exceeded, a refused connection gets the exact error then EOF, and a slot freed by a client's
close is usable by the very next connection."""
import random
import time

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


def sole_client(port, timeout=3):
    """An open connection that is the server's only client, retried until `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        c = Conn(port)
        try:
            if connected_clients(c) == 1:
                return c
        except (KeyError, EOFError, OSError):
            pass
        c.close()
        assert time.monotonic() < deadline, "other clients never went away"
        time.sleep(0.01)


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
    """200 connections at once against maxclients 50, one slot held by a probe, leave exactly
    49 served and 151 refused (each with the exact error and EOF); closing all frees all 50
    slots. The probe stays open: with io-threads, a closed client's slot is freed a moment
    later, by the loop that serves it."""
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
            assert (served_count, refused_count) == (LIMIT - 1, 151)
        finally:
            for c in conns:
                c.close()
    assert settles_to_one_client(server.port)
    # That check's own connection may hold its slot a moment longer: wait until a probe is the
    # only client, and keep it while the other 49 slots fill.
    with sole_client(server.port) as probe:
        kept = [Conn(server.port) for _ in range(LIMIT - 1)]
        try:
            for c in kept:
                assert c.call("PING") == PONG
            assert connected_clients(probe) == LIMIT
            assert refused(server.port)
        finally:
            for c in kept:
                c.close()
