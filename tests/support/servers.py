"""Start and stop backplane-server and Debian's redis-server for tests.

Every server gets a free port from the kernel, is waited for until it accepts connections,
and is stopped by its PID (SIGTERM, then SIGKILL) when the test is done.
"""
import os
import shlex
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BACKPLANE_SERVER = Path(os.environ.get("BACKPLANE_SERVER", ROOT / "build" / "server" / "backplane-server"))
REDIS_SERVER = os.environ.get("REDIS_SERVER", "/usr/bin/redis-server")
# Flags appended to every backplane-server command line, e.g. "--io-threads 4": the suites run
# once as they are and once with several event loops (ctest's *_threads entries).
BACKPLANE_EXTRA_ARGS = shlex.split(os.environ.get("BACKPLANE_EXTRA_ARGS", ""))


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer")


def sanitizer_report(text):
    """The part of a server log from the first sanitizer report on, or None."""
    hits = [text.find(marker) for marker in SANITIZER_MARKERS if marker in text]
    return text[min(hits):] if hits else None


def encode(*args):
    """A RESP multibulk request; str and int arguments are encoded as text."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        elif isinstance(arg, int):
            arg = str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


def bulk(value):
    """A RESP bulk string."""
    if isinstance(value, str):
        value = value.encode()
    return b"$%d\r\n%s\r\n" % (len(value), value)


def wait_until(predicate, timeout=5.0, step=0.02):
    """True once `predicate()` is, polling every `step` seconds; its last value at `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


_handed_out = set()
_handed_out_lock = threading.Lock()


def free_port():
    """A TCP port that was free a moment ago (the kernel picks it) and that this process has not
    handed out before. The kernel may return a port again as soon as its probe socket closes:
    two servers started side by side (the differential tests start redis-server and ours at
    once) would then race for one port, and a readiness probe could reach the wrong server."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with _handed_out_lock:
            if port not in _handed_out:
                _handed_out.add(port)
                return port


class ServerProcess:
    """A server process listening on 127.0.0.1:port."""

    def __init__(self, argv, port, name, unixsocket=None):
        self.port = port
        self.name = name
        self.unixsocket = unixsocket
        self.log = tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid

    def wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_text()}")
            if self.port == 0:
                if self.unixsocket and os.path.exists(self.unixsocket):
                    return self
            elif self.listens_on(self.port):
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{self.name} did not start:\n{self.log_text()}")

    def listens_on(self, port):
        """True when this process holds a socket listening on `port`. A successful connect is
        not proof: another process may have bound the port first, while this one is about to
        exit with "Address already in use"."""
        inodes = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                rows = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            for row in rows:
                fields = row.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{inode}]")
        try:
            descriptors = os.listdir(f"/proc/{self.pid}/fd")
        except OSError:
            return False
        for fd in descriptors:
            try:
                if os.readlink(f"/proc/{self.pid}/fd/{fd}") in inodes:
                    return True
            except OSError:
                pass
        return False

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=5.0):
        """Stops the server by PID; returns its exit code. Raises when a sanitizer reported
        anything in the server's output (sanitizer builds run the same tests)."""
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        if not self.log.closed:
            self.log.close()
            report = sanitizer_report(self.log_text())
            if report:
                raise AssertionError(f"{self.name} sanitizer report:\n{report}")
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass


def _directives(options):
    argv = []
    for key, value in options.items():
        argv.append("--" + key.replace("_", "-"))
        if isinstance(value, (list, tuple)):
            argv.extend(str(v) for v in value)
        else:
            argv.append(str(value))
    return argv


def start_backplane(config_file=None, port=None, **options):
    """backplane-server on a free port; keyword options become --directive value flags."""
    port = free_port() if port is None else port
    argv = [str(BACKPLANE_SERVER)]
    if config_file:
        argv.append(str(config_file))
    # The extra flags come first, so that a test's own directives win over them.
    argv += ["--port", str(port), "--bind", "127.0.0.1"]
    argv += BACKPLANE_EXTRA_ARGS + _directives(options)
    return ServerProcess(argv, port, "backplane", options.get("unixsocket")).wait_ready()


def start_redis(port=None, **options):
    """Debian's redis-server on a free port, with persistence off."""
    port = free_port() if port is None else port
    argv = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", tempfile.gettempdir()] + _directives(options)
    return ServerProcess(argv, port, "redis", options.get("unixsocket")).wait_ready()


class RawClient:
    """A plain TCP connection that sends bytes and reads exact replies."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def send(self, data: bytes):
        self.sock.sendall(data)
        return self

    def command(self, *args) -> bytes:
        """Encodes args as a RESP multibulk request."""
        return encode(*args)

    def call(self, *args):
        self.send(self.command(*args))
        return self.read_reply()

    def read_exact(self, n, timeout=5.0):
        self.sock.settimeout(timeout)
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"connection closed after {self.buffer!r}")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def read_line(self, timeout=5.0):
        self.sock.settimeout(timeout)
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"connection closed after {self.buffer!r}")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line + b"\r\n"

    def read_reply(self, timeout=5.0) -> bytes:
        """Reads one complete RESP2/RESP3 reply and returns its raw bytes."""
        line = self.read_line(timeout)
        kind = line[:1]
        if kind in (b"$", b"="):
            n = int(line[1:-2])
            return line if n < 0 else line + self.read_exact(n + 2, timeout)
        if kind in (b"*", b">", b"~", b"%", b"|"):
            n = int(line[1:-2])
            if kind in (b"%", b"|"):
                n *= 2
            return line + b"".join(self.read_reply(timeout) for _ in range(max(n, 0)))
        return line

    def read_available(self, wait=0.3) -> bytes:
        """Everything that arrives within `wait` seconds of silence."""
        data, self.buffer = self.buffer, b""
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, BlockingIOError):
            pass
        return data

    def is_closed(self, wait=1.0) -> bool:
        """True when the server closes the connection within `wait` seconds."""
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buffer += chunk
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
