"""Leak check under connection churn (redis-behaviour.md 7.3): 100,000 cycles of connect,
SUBSCRIBE or PSUBSCRIBE, disconnect (several ways). After a warm-up of 10,000 cycles the RSS is
measured; after the other 90,000 it must be within 5% (or 2 MB, whichever is larger) of that,
and INFO connected_clients, CLIENT LIST, PUBSUB NUMSUB and NUMPAT must be back to baseline."""
import socket
import time

from hutil import Conn, encode, info_field, reset_close, rss_kb, wait_until

CHANNELS = [f"leak:{i}" for i in range(16)]
PARALLEL = 100
# 100,000 cycles take about 7 s on this 2-core box when it is quiet. When other work starves
# us, stop at the time budget, but only after enough cycles for the RSS bound to mean
# something (a leak of 64 bytes per cycle is then still more than 2 MB).
TIME_BUDGET = 60.0
MIN_CYCLES = 40_000


def churn(port, cycles, budget, start_index=0, publisher=None):
    """Runs `cycles` connect/subscribe/disconnect cycles, PARALLEL sockets at a time; returns
    the number done (stops early when the time budget runs out). With a publisher connection,
    every batch also gets messages published to it before its sockets go away, so some are
    closed or reset with messages queued or in flight."""
    done = 0
    deadline = time.monotonic() + budget
    while done < cycles and time.monotonic() < deadline:
        batch = []
        for i in range(min(PARALLEL, cycles - done)):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            n = start_index + done + i
            ch = CHANNELS[n % len(CHANNELS)]
            if n % 5 == 0:
                s.sendall(encode("PSUBSCRIBE", ch[:-1] + "*"))
            elif n % 5 == 1:
                s.sendall(encode("SUBSCRIBE", ch, CHANNELS[(n + 1) % len(CHANNELS)]))
            else:
                s.sendall(encode("SUBSCRIBE", ch))
            batch.append((n, s))
        if publisher is not None:
            publisher.send(b"".join(encode("PUBLISH", ch, b"m" * 2000) for ch in CHANNELS))
        for n, s in batch:
            kind = n % 7
            if kind == 0:
                reset_close(s)  # RST, maybe before the server even read the SUBSCRIBE
                continue
            if kind == 1:
                s.close()  # FIN without reading the reply
                continue
            got = b""
            while not got.startswith(b"*3\r\n$") or got.count(b"\r\n") < 4:
                chunk = s.recv(4096)  # (messages may follow the subscribe replies)
                assert chunk, f"cycle {n}: closed by the server after {got!r}"
                got += chunk
            if kind == 2:
                s.shutdown(socket.SHUT_WR)  # half-close, then close
            if kind == 3:
                reset_close(s)
            else:
                s.close()
        done += len(batch)
        if publisher is not None:
            for _ in CHANNELS:
                assert publisher.read_reply(timeout=10)[:1] == b":"
    return done


def numsub_all(conn):
    reply = conn.call("PUBSUB", "NUMSUB", *CHANNELS)
    return [int(x[1:]) for x in reply.split(b"\r\n") if x.startswith(b":")]


def settled(conn):
    """connected_clients back to 2 (observer and publisher), CLIENT LIST two lines, no
    subscriptions."""
    return (info_field(conn, "connected_clients") == "2"
            and conn.call("CLIENT", "LIST").count(b"id=") == 2
            and numsub_all(conn) == [0] * len(CHANNELS)
            and conn.call("PUBSUB", "NUMPAT") == b":0\r\n")


def test_connect_subscribe_disconnect_cycles_do_not_leak(start):
    server = start()
    started = time.monotonic()
    with Conn(server.port) as observer, Conn(server.port) as publisher:
        warm = churn(server.port, 10_000, TIME_BUDGET / 2, publisher=publisher)
        assert warm == 10_000, f"only {warm} warm-up cycles in {TIME_BUDGET / 2:.0f} s"
        left = TIME_BUDGET - (time.monotonic() - started)
        assert wait_until(lambda: settled(observer), timeout=5), "no baseline after the warm-up"
        time.sleep(0.3)
        after_warmup = rss_kb(server.pid)

        done = churn(server.port, 90_000, left, start_index=10_000, publisher=publisher)
        assert done >= MIN_CYCLES, f"only {done} of 90,000 cycles within the time budget"
        assert wait_until(lambda: settled(observer), timeout=5), (
            "not back to baseline: connected_clients="
            f"{info_field(observer, 'connected_clients')}, NUMSUB={numsub_all(observer)}, "
            f"NUMPAT={observer.call('PUBSUB', 'NUMPAT')!r}")
        time.sleep(0.3)
        final = rss_kb(server.pid)
    allowed = max(after_warmup * 0.05, 2048)
    print(f"RSS after warm-up {after_warmup} kB, after {10_000 + done} cycles {final} kB, "
          f"{time.monotonic() - started:.1f} s")
    assert final - after_warmup <= allowed, (
        f"RSS {after_warmup} kB after warm-up, {final} kB after {done} more cycles "
        f"(allowed +{allowed:.0f} kB)")
    assert server.alive()
