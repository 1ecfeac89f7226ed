"""Accept-loop resilience when file descriptors run out (redis-behaviour.md 3.2, 7.3 item 12;
CVE-2025-48367): with maxclients above what RLIMIT_NOFILE allows, accept() fails with EMFILE.
The server must keep running, must not spin on the failing accept, and must accept and serve
the waiting connections within 1 s of descriptors becoming free.

The limit is lowered on the running server with prlimit(2): started under a low limit the
server would lower maxclients to fit (as Redis does), and EMFILE would never happen."""
import resource
import time

from hutil import PONG, Conn, cpu_seconds, encode, open_fds

FD_LIMIT = 64


def answers(conn, timeout):
    """True when the PING already sent on `conn` gets its PONG within `timeout` seconds."""
    try:
        return conn.read_line(timeout=timeout) == PONG
    except (OSError, EOFError):
        return False


def test_emfile_does_not_crash_or_spin_and_recovers(start):
    server = start(maxclients=1000)
    resource.prlimit(server.pid, resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))
    assert open_fds(server.pid) < FD_LIMIT - 10

    served, waiting = [], []
    try:
        # Fill the descriptor table: connect and PING until a connection is no longer served.
        # The kernel completes the handshake of the next ones; they wait in the backlog.
        for _ in range(FD_LIMIT + 10):
            c = Conn(server.port)
            c.send(encode("PING"))
            if answers(c, 0.5):
                served.append(c)
            else:
                waiting.append(c)
                break
        assert waiting, f"{len(served)} connections were all served under a {FD_LIMIT} fd limit"
        assert open_fds(server.pid) >= FD_LIMIT - 1
        for _ in range(4):
            c = Conn(server.port)
            c.send(encode("PING"))
            waiting.append(c)

        # Exhausted: the server stays up, keeps serving its clients, and does not spin.
        cpu_before = cpu_seconds(server.pid)
        time.sleep(2.0)
        cpu_used = cpu_seconds(server.pid) - cpu_before
        assert server.alive(), f"the server died under EMFILE:\n{server.log_text()[-2000:]}"
        assert cpu_used < 0.5, f"the server used {cpu_used:.2f} s of CPU in 2 s of EMFILE"
        assert all(not answers(c, 0.01) for c in waiting), "a connection past the limit was served"
        assert served[0].call("PING") == PONG
        assert "Accepting client connection" in server.log_text()

        # Free descriptors: every waiting connection is accepted and answered within 1 s.
        for _ in range(len(waiting) + 3):
            served.pop().close()
        freed = time.monotonic()
        for i, c in enumerate(waiting):
            left = max(0.0, 1.0 - (time.monotonic() - freed))
            assert answers(c, left), f"waiting connection {i} not served within 1 s of fds freeing"
        fresh = Conn(server.port)
        served.append(fresh)
        fresh.send(encode("PING"))
        assert answers(fresh, 1.0), "a new connection was not served after recovery"
    finally:
        for c in served + waiting:
            c.close()
    assert server.alive()


def test_repeated_exhaustion_cycles(start):
    """Three rounds of exhaust / release: the accept loop re-arms every time."""
    server = start(maxclients=1000)
    resource.prlimit(server.pid, resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))
    held = []
    try:
        for round_ in range(3):
            waiting = None
            for _ in range(FD_LIMIT + 10):
                c = Conn(server.port)
                c.send(encode("PING"))
                if answers(c, 0.3):
                    held.append(c)
                else:
                    waiting = c
                    break
            assert waiting is not None, f"round {round_}: never exhausted"
            for _ in range(5):
                held.pop().close()
            ok = answers(waiting, 1.0)
            held.append(waiting)
            assert ok, f"round {round_}: not served within 1 s after release"
            assert server.alive()
    finally:
        for c in held:
            c.close()
