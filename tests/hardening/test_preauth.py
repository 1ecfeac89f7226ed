"""Pre-authentication resource limits (redis-behaviour.md 7.3 items 4 and 5; CVE-2021-32675,
CVE-2025-21605): declared lengths must not make the server allocate before AUTH, and an
unauthenticated client that never reads must not grow an output queue."""
import threading
import time

from hutil import (NOAUTH, OK, PASSWORD, PONG, Conn, connect, drain_until_eof, peak_rss_kb,
                   raise_nofile, rss_kb)

MULTIBULK = b"*1048576\r\n"
BULK = b"*1\r\n$536870912\r\n"
MULTIBULK_ERROR = b"-ERR Protocol error: unauthenticated multibulk length\r\n"
BULK_ERROR = b"-ERR Protocol error: unauthenticated bulk length\r\n"
MB = 1024


def warm_up(port):
    """A few authenticated round trips so the baseline RSS includes the server's steady
    state (first allocations, read-buffer pool)."""
    for _ in range(20):
        with Conn(port) as c:
            assert c.call("AUTH", PASSWORD) == OK
            assert c.call("PING") == PONG


def test_thousand_unauthenticated_huge_length_headers(start):
    """1,000 concurrent unauthenticated connections declare a 1M-element multibulk or a 512 MB
    bulk: every one gets the exact `unauthenticated ... length` error and EOF, the server's
    peak RSS (VmHWM) grows by less than 50 MB, and it still serves a new connection."""
    raise_nofile(4096)
    server = start(requirepass=PASSWORD)
    warm_up(server.port)
    time.sleep(0.2)
    baseline = rss_kb(server.pid)

    socks = [connect(server.port, timeout=10) for _ in range(1000)]
    try:
        # every header is sent before any reply is read, so all 1,000 are in flight together
        for i, s in enumerate(socks):
            s.sendall(MULTIBULK if i % 2 == 0 else BULK)
        outcome = drain_until_eof(socks, timeout=20)
        during = rss_kb(server.pid)
        for i, s in enumerate(socks):
            data, closed = outcome[s]
            expected = MULTIBULK_ERROR if i % 2 == 0 else BULK_ERROR
            assert data == expected, f"connection {i}: got {data[:200]!r}"
            assert closed, f"connection {i} was not closed after the protocol error"
    finally:
        for s in socks:
            s.close()

    peak = peak_rss_kb(server.pid)
    assert peak - baseline < 50 * MB, (
        f"RSS grew from {baseline} kB to a peak of {peak} kB (now {during} kB)")
    assert server.alive()
    with Conn(server.port) as c:
        assert c.call("PING") == NOAUTH
        assert c.call("AUTH", PASSWORD) == OK
        assert c.call("PING") == PONG


def test_unauthenticated_headers_trickled_byte_by_byte(start):
    """The limit applies to the declared length itself, not to a complete header arriving in
    one read: 200 connections send `*1048576\\r\\n` one byte at a time, interleaved."""
    raise_nofile(1024)
    server = start(requirepass=PASSWORD)
    socks = [connect(server.port) for _ in range(200)]
    try:
        for i in range(len(BULK)):
            for j, s in enumerate(socks):
                header = MULTIBULK if j % 2 == 0 else BULK
                if i < len(header):
                    s.sendall(header[i:i + 1])
        outcome = drain_until_eof(socks, timeout=10)
        for j, s in enumerate(socks):
            assert outcome[s] == (MULTIBULK_ERROR if j % 2 == 0 else BULK_ERROR, True), j
    finally:
        for s in socks:
            s.close()
    with Conn(server.port) as c:
        assert c.call("AUTH", PASSWORD) == OK


def flood(sock, payload, outcome, key):
    try:
        sock.sendall(payload)
        outcome[key] = "sent"
    except (BrokenPipeError, ConnectionResetError):
        outcome[key] = "closed"
    except OSError as error:  # a timeout means the server stopped reading and kept the socket
        outcome[key] = f"error {error!r}"


def test_unauthenticated_never_reading_flooders_are_cut_and_rss_stays_bounded(start):
    """Three unauthenticated clients each pipeline 10 MB of `PING\\r\\n` (about 61 MB of
    NOAUTH replies each) and never read. All are disconnected, the server's peak RSS grows by
    less than 30 MB, and an authenticated client keeps getting answers meanwhile."""
    server = start(requirepass=PASSWORD)
    warm_up(server.port)
    time.sleep(0.2)
    baseline = rss_kb(server.pid)
    payload = b"PING\r\n" * (10 * 1024 * 1024 // 6)
    flooders = [connect(server.port, timeout=30, rcvbuf=4096) for _ in range(3)]
    outcome = {}
    threads = [threading.Thread(target=flood, args=(s, payload, outcome, i))
               for i, s in enumerate(flooders)]
    with Conn(server.port) as bystander:
        assert bystander.call("AUTH", PASSWORD) == OK
        started = time.monotonic()
        for t in threads:
            t.start()
        latencies = []
        while any(t.is_alive() for t in threads) and time.monotonic() - started < 30:
            t0 = time.monotonic()
            assert bystander.call("PING") == PONG
            latencies.append(time.monotonic() - t0)
            time.sleep(0.01)
        for t in threads:
            t.join(1)
        assert not any(t.is_alive() for t in threads), \
            "a flooder was neither read to the end nor disconnected within 30 s"
        for i, s in enumerate(flooders):
            # a flooder whose whole payload fit in the socket buffers must still be closed
            data, closed = drain_until_eof([s], timeout=10)[s]
            assert closed, f"flooder {i} ({outcome[i]}) was never disconnected"
            assert len(data) < 10 * 1024 * 1024, f"flooder {i} was sent {len(data)} bytes"
            s.close()
        peak = peak_rss_kb(server.pid)
        assert peak - baseline < 30 * MB, f"RSS grew from {baseline} kB to a peak of {peak} kB"
        assert max(latencies) < 1.0, f"bystander PING took {max(latencies):.3f} s"
        assert bystander.call("PING") == PONG
