"""Helpers for the integration tests: launching servers with any directives or config file,
raw connections that report exactly what arrived and whether the server closed.

By default every test runs against backplane-server (BACKPLANE_SERVER or build/server/...).
BACKPLANE_ITEST_AGAINST=redis runs the same tests against Debian's redis-server instead; this
is only a development aid to check that a test's expectations are Redis's real behaviour. The
few assertions that are deliberately different for backplane (documented in the tests) look
at AGAINST_REDIS.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from servers import (BACKPLANE_EXTRA_ARGS, BACKPLANE_SERVER, REDIS_SERVER,  # noqa: E402,F401
                     ServerProcess, bulk, encode, free_port, wait_until)

AGAINST_REDIS = os.environ.get("BACKPLANE_ITEST_AGAINST") == "redis"
PASSWORD = "s3cret"
NOAUTH = b"-NOAUTH Authentication required.\r\n"
WRONGPASS = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
PONG = b"+PONG\r\n"
SUB_PONG = b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"


def directive_args(directives):
    argv = []
    for key, value in directives.items():
        argv.append("--" + key.replace("_", "-"))
        argv.append(str(value))
    return argv


def server_argv(config_file=None, port=None, bind="127.0.0.1", **directives):
    """argv for the server under test; `port`/`bind` None leaves them to the config file."""
    argv = [REDIS_SERVER if AGAINST_REDIS else str(BACKPLANE_SERVER)]
    if config_file is not None:
        argv.append(str(config_file))
    if port is not None:
        argv += ["--port", str(port)]
    if bind is not None:
        argv += ["--bind", bind]
    if AGAINST_REDIS:
        argv += ["--save", "", "--appendonly", "no", "--dir", tempfile.gettempdir()]
    if not AGAINST_REDIS:
        argv += BACKPLANE_EXTRA_ARGS  # before the test's own directives, which win
    return argv + directive_args(directives)


def launch(config_file=None, port="free", bind="127.0.0.1", ready_port=None, **directives):
    """Starts the server under test and waits until it accepts connections.

    port="free" picks a free port; port=None passes no --port (the config file decides; give
    the port to wait for as ready_port, or 0 with a unixsocket directive).
    """
    pick = port == "free"
    for attempt in range(5):
        if pick:
            port = free_port()
        argv = server_argv(config_file, port=port, bind=bind, **directives)
        wait_port = port if port is not None else ready_port
        name = "redis" if AGAINST_REDIS else "backplane"
        try:
            return ServerProcess(argv, wait_port, name, directives.get("unixsocket")).wait_ready()
        except RuntimeError as error:
            # the free port picked was taken meanwhile by another process: pick another
            if not pick or "already in use" not in str(error) or attempt == 4:
                raise


class Client:
    """A raw connection (TCP or Unix) that records bytes and whether the server closed it."""

    def __init__(self, port=None, unix=None, rcvbuf=None, timeout=5.0, host="127.0.0.1"):
        family = socket.AF_UNIX if unix else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(unix if unix else (host, port))
        if not unix:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.closed = False   # the server closed (EOF or reset)
        self.reset = False

    # -- sending -------------------------------------------------------------------------------
    def send(self, data):
        """Sends everything; returns False if the server had closed (EPIPE/ECONNRESET)."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            self.closed = True
            return False

    def send_command(self, *args):
        return self.send(encode(*args))

    def shutdown_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    # -- receiving -----------------------------------------------------------------------------
    def _recv(self, timeout):
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(1 << 20)
        except ConnectionResetError:
            self.closed = self.reset = True
            return b""
        if not chunk:
            self.closed = True
        return chunk

    def read_exact(self, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        while len(self.buffer) < n:
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                raise AssertionError(f"wanted {n} bytes, got {self.buffer!r} "
                                     f"({'closed' if self.closed else 'timeout'})")
            try:
                self.buffer += self._recv(left)
            except socket.timeout:
                pass
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def read_line(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while b"\r\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                raise AssertionError(f"no complete line: {self.buffer[:200]!r} "
                                     f"({'closed' if self.closed else 'timeout'})")
            try:
                self.buffer += self._recv(left)
            except socket.timeout:
                pass
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line + b"\r\n"

    def read_reply(self, timeout=5.0):
        """One complete RESP reply, raw."""
        line = self.read_line(timeout)
        kind = line[:1]
        if kind == b"$":
            n = int(line[1:-2])
            return line if n < 0 else line + self.read_exact(n + 2, timeout)
        if kind in (b"*", b"~", b">", b"%", b"|"):
            n = int(line[1:-2]) * (2 if kind in (b"%", b"|") else 1)
            return line + b"".join(self.read_reply(timeout) for _ in range(max(n, 0)))
        return line

    def call(self, *args, timeout=5.0):
        self.send_command(*args)
        return self.read_reply(timeout)

    def collect(self, silence=0.3, limit=5.0):
        """Everything that arrives until the server closes or `silence` s pass without data.
        Returns (bytes, closed)."""
        data, self.buffer = self.buffer, b""
        deadline = time.monotonic() + limit
        while not self.closed and time.monotonic() < deadline:
            try:
                data += self._recv(silence)
            except socket.timeout:
                break
        return data, self.closed

    def wait_closed(self, timeout=5.0):
        """Reads (and keeps) data until EOF; returns (bytes, closed)."""
        data, self.buffer = self.buffer, b""
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            try:
                data += self._recv(max(0.01, deadline - time.monotonic()))
            except socket.timeout:
                break
        return data, self.closed

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()




def message(channel, payload):
    return b"*3\r\n$7\r\nmessage\r\n" + bulk(channel) + bulk(payload)


def pmessage(pattern, channel, payload):
    return b"*4\r\n$8\r\npmessage\r\n" + bulk(pattern) + bulk(channel) + bulk(payload)


def subscribe_reply(kind, name, count):
    return b"*3\r\n" + bulk(kind) + (b"$-1\r\n" if name is None else bulk(name)) + b":%d\r\n" % count


def authenticated(port, password=PASSWORD, **kw):
    c = Client(port, **kw)
    assert c.call("AUTH", password) == b"+OK\r\n"
    return c


def run_server_expecting_failure(argv, timeout=10):
    """Runs a server that must refuse to start; returns (exit code, combined output)."""
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout)
    return proc.returncode, proc.stdout.decode(errors="replace")
