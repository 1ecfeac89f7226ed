"""Slow subscribers with client-output-buffer-limit "pubsub 1mb 256kb 3"
(redis-behaviour.md 3.1 and 7.3 items 8/9): never block PUBLISH, drop the slow one."""
import gc
import math
import os
import time

import pytest

from itest_util import Client, message, subscribe_reply

LIMITS = "pubsub 1mb 256kb 3"
MIB = 1024 * 1024
MSG = 8192
# With several event loops (BACKPLANE_EXTRA_ARGS="--io-threads 4") a subscriber's writes happen
# on its own loop's thread, a scheduler slice behind the publisher's at worst, so how much of the
# stream sits in the kernel at a given PUBLISH is not reproducible (README, "Threads").
THREADED = "io-threads" in os.environ.get("BACKPLANE_EXTRA_ARGS", "")
# ThreadSanitizer slows the server about tenfold: no latency bound holds then.
SLOWED = THREADED and os.environ.get("BACKPLANE_SANITIZED") == "1"


def _tcp_wmem_max():
    try:
        return int(open("/proc/sys/net/ipv4/tcp_wmem").read().split()[2])
    except (OSError, ValueError, IndexError):
        return 4 * MIB


def _p99(samples):
    ordered = sorted(samples)
    return ordered[math.ceil(0.99 * len(ordered)) - 1]


def _payload(i):
    return b"%08d" % i + b"x" * (MSG - 8)


def _drain_nonblocking(client, into):
    into += client.buffer
    client.buffer = b""
    client.sock.setblocking(False)
    try:
        while True:
            chunk = client.sock.recv(1 << 20)
            if not chunk:
                client.closed = True
                return
            into += chunk
    except BlockingIOError:
        pass
    finally:
        client.sock.setblocking(True)


def _publish_until_dropped(pub, channel, fast=None, fast_data=None, receivers=2, extra=50,
                           limit=4000, pings=None):
    """PUBLISHes 8 KiB messages one at a time until the reply shows one receiver fewer; returns
    (replies, latencies, index of the first reduced reply). With `pings` (a list), a PING round
    trip is timed after each PUBLISH as a control for scheduling noise."""
    replies, latencies, dropped_at = [], [], None
    # Python's garbage collector would add multi-millisecond pauses on OUR side of the
    # measured round trips (the pytest process has a large heap), so keep it off meanwhile.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _publish_loop(pub, channel, fast, fast_data, receivers, extra, limit,
                             replies, latencies, pings)
    finally:
        if gc_was_enabled:
            gc.enable()


def _publish_loop(pub, channel, fast, fast_data, receivers, extra, limit, replies, latencies, pings):
    dropped_at = None
    for i in range(limit):
        started = time.perf_counter()
        reply = pub.call("PUBLISH", channel, _payload(i))
        latencies.append(time.perf_counter() - started)
        replies.append(reply)
        if pings is not None:
            started = time.perf_counter()
            assert pub.call("PING") == b"+PONG\r\n"
            pings.append(time.perf_counter() - started)
        if fast is not None:
            _drain_nonblocking(fast, fast_data)
        if dropped_at is None and reply != b":%d\r\n" % receivers:
            dropped_at = i
        if dropped_at is not None and i >= dropped_at + extra:
            break
    return replies, latencies, dropped_at


def test_slow_subscriber_dropped_at_hard_limit(start):
    """A subscriber with a 4 KiB receive buffer that never reads is disconnected at the hard
    limit while a second subscriber on the channel receives every message in order, and
    PUBLISH round trips stay under 1 ms at p99 meanwhile.

    The latency bound is a timing measurement on a shared 2-core machine, where other
    processes' CPU use delays some round trips by a scheduler slice (2-5 ms) whatever the
    server does. So the scenario runs up to 3 times on fresh servers; a run meets the bound
    when its PUBLISH p99 is under 1 ms, or when it is no worse than the p99 of PING round
    trips timed between the PUBLISHes (+0.5 ms), i.e. when the delays are the machine's and
    not caused by the slow subscriber. Every functional assertion must hold in every run."""
    results = []
    if SLOWED:
        _hard_limit_scenario(start)  # the functional assertions only
        return
    for _ in range(3):
        p99, ping_p99 = _hard_limit_scenario(start)
        results.append((p99, ping_p99))
        if p99 < 0.001 or p99 <= ping_p99 + 0.0005:
            return
    pytest.fail("PUBLISH p99 per run (PING p99 in the same window): " + ", ".join(
        f"{p * 1000:.3f} ms ({q * 1000:.3f} ms)" for p, q in results))


def _hard_limit_scenario(start):
    server = start(client_output_buffer_limit=LIMITS)
    with Client(server.port, rcvbuf=4096) as slow, Client(server.port) as fast, \
            Client(server.port) as pub:
        assert slow.call("SUBSCRIBE", "ch") == subscribe_reply("subscribe", "ch", 1)
        assert fast.call("SUBSCRIBE", "ch") == subscribe_reply("subscribe", "ch", 1)
        fast_data = bytearray()
        pings = []
        replies, latencies, dropped_at = _publish_until_dropped(pub, "ch", fast, fast_data, pings=pings)

        assert dropped_at is not None, "the slow subscriber was never disconnected"
        assert replies[:dropped_at] == [b":2\r\n"] * dropped_at
        assert set(replies[dropped_at:]) == {b":1\r\n"}, "PUBLISH must count only the fast subscriber"
        frame = len(message("ch", _payload(0)))
        published = frame * dropped_at
        # Not before the hard limit could have been reached (the soft limit needs 3 s) ...
        assert published >= MIB, f"dropped after only {published} bytes"
        # ... and not long after: the kernel socket buffers plus 1 MiB plus a message or two.
        assert published <= MIB + _tcp_wmem_max() + 256 * 1024 + 2 * frame, \
            f"dropped only after {published} bytes"

        # The fast subscriber got every message, in order.
        expected = b"".join(message("ch", _payload(i)) for i in range(len(replies)))
        while len(fast_data) < len(expected) and not fast.closed:
            fast_data += fast.read_exact(1, timeout=5)
            _drain_nonblocking(fast, fast_data)
        assert bytes(fast_data) == expected

        # The slow subscriber sees a prefix of the stream (possibly cut mid-frame), then EOF,
        # with no error text.
        data, closed = slow.wait_closed(timeout=10)
        assert closed
        assert expected.startswith(data), "the dropped subscriber got something else than the stream"
    assert server.alive()
    return _p99(latencies), _p99(pings)


@pytest.mark.skipif(THREADED, reason="calibrates kernel buffering against one loop's write timing")
def test_slow_subscriber_dropped_by_soft_limit_without_more_traffic(start):
    """Push a subscriber's queue above 256 KiB (below 1 MiB), then publish nothing more: it is
    closed between 3 and 4.5 s later."""
    server = start(client_output_buffer_limit=LIMITS)
    with Client(server.port) as pub:
        # Calibrate how much the kernel buffers absorb before the server queues anything: drop
        # one subscriber at the hard limit (1 MiB queued) and see how much was published.
        with Client(server.port, rcvbuf=4096) as probe:
            probe.call("SUBSCRIBE", "calibrate")
            _, _, dropped_at = _publish_until_dropped(pub, "calibrate", receivers=1, extra=0)
            assert dropped_at is not None
        frame = len(message("soft", _payload(0)))
        absorbed = dropped_at * frame - MIB
        # Now queue about 600 KiB on a fresh slow subscriber and stop.
        with Client(server.port, rcvbuf=4096) as slow:
            assert slow.call("SUBSCRIBE", "soft") == subscribe_reply("subscribe", "soft", 1)
            count = math.ceil((absorbed + 600 * 1024) / frame)
            for i in range(count):
                assert pub.call("PUBLISH", "soft", _payload(i)) == b":1\r\n"
            stopped = time.monotonic()
            closed_after = None
            while time.monotonic() - stopped < 6:
                if pub.call("PUBSUB", "NUMSUB", "soft") == b"*2\r\n$4\r\nsoft\r\n:0\r\n":
                    closed_after = time.monotonic() - stopped
                    break
                time.sleep(0.05)
            assert closed_after is not None, "the subscriber above the soft limit was never closed"
            assert 2.9 <= closed_after <= 4.5, f"closed {closed_after:.2f} s after the last message"
            data, closed = slow.wait_closed(timeout=10)
            assert closed


def test_subscriber_below_soft_limit_is_kept(start):
    """A subscriber that reads slowly but keeps its queue small is never dropped."""
    server = start(client_output_buffer_limit=LIMITS)
    with Client(server.port) as sub, Client(server.port) as pub:
        sub.call("SUBSCRIBE", "ch")
        data = bytearray()
        for i in range(300):
            assert pub.call("PUBLISH", "ch", _payload(i)) == b":1\r\n"
            if i % 10 == 0:
                _drain_nonblocking(sub, data)
        expected = b"".join(message("ch", _payload(i)) for i in range(300))
        while len(data) < len(expected):
            data += sub.read_exact(1)
            _drain_nonblocking(sub, data)
        assert bytes(data) == expected
