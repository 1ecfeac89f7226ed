"""SIGTERM with 1,000 subscribers connected (redis-behaviour.md 7.3 item 13): exit code 0
within 2 s, every client sees EOF (or a reset), the listening port refuses new connections."""
import os
import signal
import socket
import subprocess
import time

import pytest

from hutil import (PONG, connect, drain_until_eof, encode, raise_nofile, subscribe_reply)


def test_sigterm_with_thousand_subscribers(start):
    raise_nofile(4096)
    server = start()
    socks = []
    try:
        for i in range(1000):
            s = connect(server.port, timeout=10, rcvbuf=4096 if i % 100 == 0 else None)
            socks.append(s)
            if i % 100 == 0:
                s.sendall(encode("SUBSCRIBE", "slow"))
            elif i % 3 == 0:
                s.sendall(encode("PSUBSCRIBE", f"p{i % 7}*"))
            else:
                s.sendall(encode("SUBSCRIBE", f"ch{i}", "all"))
        for i, s in enumerate(socks):
            want = (subscribe_reply("subscribe", "slow", 1) if i % 100 == 0 else
                    subscribe_reply("psubscribe", f"p{i % 7}*", 1) if i % 3 == 0 else
                    subscribe_reply("subscribe", f"ch{i}", 1)
                    + subscribe_reply("subscribe", "all", 2))
            got = b""
            while len(got) < len(want):
                got += s.recv(4096)
            assert got == want, f"subscriber {i}: {got!r}"
        # ten of them (4 KiB receive buffers, not reading) have output queued in the server,
        # the others a few small messages in flight
        pub = connect(server.port)
        for _ in range(400):
            pub.sendall(encode("PUBLISH", "slow", b"z" * 16384))
            assert pub.recv(100) == b":10\r\n"
        for _ in range(5):
            pub.sendall(encode("PUBLISH", "all", b"a" * 100))
            assert pub.recv(100) == b":660\r\n"
        pub.sendall(encode("PING"))
        assert pub.recv(100) == PONG
        socks.append(pub)

        started = time.monotonic()
        os.kill(server.pid, signal.SIGTERM)
        try:
            code = server.proc.wait(2.0)
        except subprocess.TimeoutExpired:
            pytest.fail("the server did not exit within 2 s of SIGTERM")
        took = time.monotonic() - started
        assert code == 0, f"exit code {code}\n{server.log_text()[-2000:]}"
        assert took < 2.0

        outcome = drain_until_eof(socks, timeout=10)
        not_closed = [i for i, s in enumerate(socks) if not outcome[s][1]]
        assert not_closed == [], f"{len(not_closed)} clients saw no EOF, e.g. {not_closed[:10]}"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
    finally:
        for s in socks:
            s.close()
