"""SIGTERM with clients connected (redis-behaviour.md 5.4 / 7.3 item 13): exit code 0 within
2 s, every client sees a plain EOF, the port is closed afterwards."""
import os
import signal
import socket
import time

import pytest

from itest_util import Client, encode


def test_sigterm_with_clients_connected(start):
    server = start()
    clients = []
    try:
        for i in range(60):
            c = Client(server.port)
            kind = i % 4
            if kind == 0:
                assert c.call("SUBSCRIBE", f"ch{i}", "shared").startswith(b"*3\r\n$9\r\nsubscribe")
                c.read_reply()
            elif kind == 1:
                assert c.call("PSUBSCRIBE", "p*").endswith(b":1\r\n")
            elif kind == 2:
                assert c.call("PING") == b"+PONG\r\n"
            else:
                c.send(b"*3\r\n$7\r\nPUBLISH\r\n$6\r\nshared\r\n$100\r\npartial")  # mid-command
            clients.append(c)
        # a slow subscriber with undelivered output, too
        slow = Client(server.port, rcvbuf=4096)
        slow.call("SUBSCRIBE", "flood")
        with Client(server.port) as pub:
            for _ in range(200):
                pub.call("PUBLISH", "flood", "z" * 8192)
        started = time.monotonic()
        os.kill(server.pid, signal.SIGTERM)
        try:
            code = server.proc.wait(2.0)
        except Exception:
            pytest.fail("the server did not exit within 2 s of SIGTERM")
        assert code == 0, f"exit code {code}\n{server.log_text()[-2000:]}"
        assert time.monotonic() - started < 2.0
        for i, c in enumerate(clients):
            data, closed = c.wait_closed(timeout=2)
            assert closed, f"client {i} did not see EOF"
            assert data == b"", f"client {i} got {data[:100]!r} instead of a plain EOF"
        _, closed = slow.wait_closed(timeout=5)
        assert closed
        slow.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
    finally:
        for c in clients:
            c.close()


def test_sigterm_idle_server_exits_zero(start):
    server = start()
    os.kill(server.pid, signal.SIGTERM)
    assert server.proc.wait(2.0) == 0


def test_restart_forgets_subscriptions(start):
    """After a restart PUBLISH returns 0 until clients subscribe again."""
    server = start()
    port = server.port
    with Client(port) as s:
        s.call("SUBSCRIBE", "ch")
        os.kill(server.pid, signal.SIGTERM)
        assert server.proc.wait(2.0) == 0
        assert s.wait_closed(timeout=2)[1]
    again = start(port=port)
    with Client(again.port) as p, Client(again.port) as s:
        assert p.call("PUBLISH", "ch", "x") == b":0\r\n"
        s.call("SUBSCRIBE", "ch")
        assert p.call("PUBLISH", "ch", "x") == b":1\r\n"
        s.send(encode("PING"))
        assert s.read_reply() == b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nx\r\n"
