"""Helpers for the hardening suite: /proc readings of the server process, file-descriptor
limits, many-socket drivers and an incremental RESP reader for pub/sub streams.

Everything here talks to the server with plain sockets; servers are started through
tests/support/servers.py and stopped by PID.
"""
import os
import resource
import selectors
import socket
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from servers import RawClient, ServerProcess, bulk, encode, start_backplane, wait_until  # noqa: E402,F401

CLK_TCK = os.sysconf("SC_CLK_TCK")
PASSWORD = "hardening-pass"
PONG = b"+PONG\r\n"
OK = b"+OK\r\n"
NOAUTH = b"-NOAUTH Authentication required.\r\n"
WRONGPASS = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
MAX_CLIENTS = b"-ERR max number of clients reached\r\n"


# -- the server process, from /proc -------------------------------------------------------------
def proc_status_kb(pid, field):
    """A `kB` field of /proc/PID/status (VmRSS, VmHWM, ...), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def rss_kb(pid):
    return proc_status_kb(pid, "VmRSS")


def peak_rss_kb(pid):
    return proc_status_kb(pid, "VmHWM")


def cpu_seconds(pid):
    """User plus system CPU time the process has used, from /proc/PID/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    # after "pid (comm) ": state is fields[0]; utime and stime are stat fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def raise_nofile(wanted):
    """Raises this process's RLIMIT_NOFILE soft limit (children, such as servers started
    afterwards, inherit it). Fails the test when the hard limit is too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return
    if hard != resource.RLIM_INFINITY and hard < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))  # root may raise it
            return
        except (ValueError, OSError) as error:
            raise AssertionError(f"need {wanted} file descriptors, hard limit is {hard}") from error
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


# -- encoding -----------------------------------------------------------------------------------


def subscribe_reply(kind, name, count):
    return b"*3\r\n" + bulk(kind) + bulk(name) + b":%d\r\n" % count


def connect(port, timeout=5.0, rcvbuf=None, source=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if source:
        s.bind((source, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def reset_close(sock):
    """Closes with SO_LINGER 0: the kernel discards unsent data and sends RST."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def drain_until_eof(socks, timeout):
    """Reads every socket until EOF (or a reset) or the deadline.

    Returns {sock: (bytes received, closed)}; `closed` is True on EOF and on ECONNRESET."""
    result = {s: [b"", False] for s in socks}
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    open_count = len(socks)
    try:
        while open_count and time.monotonic() < deadline:
            for key, _ in sel.select(max(0.0, deadline - time.monotonic())):
                s = key.fileobj
                try:
                    chunk = s.recv(1 << 16)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    chunk = b""
                if chunk:
                    result[s][0] += chunk
                else:
                    result[s][1] = True
                    sel.unregister(s)
                    open_count -= 1
    finally:
        sel.close()
    return {s: tuple(v) for s, v in result.items()}


class Conn(RawClient):
    """RawClient plus EOF detection that also counts a reset as closed."""

    def __init__(self, port, timeout=5.0, rcvbuf=None):
        self.sock = connect(port, timeout, rcvbuf)
        self.buffer = b""

    def call(self, *args, timeout=5.0):
        self.send(self.command(*args))
        return self.read_reply(timeout)

    def wait_closed(self, timeout=5.0):
        """(bytes received until EOF/reset or timeout, closed)."""
        data, self.buffer = self.buffer, b""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return data, False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 16)
            except socket.timeout:
                return data, False
            except ConnectionResetError:
                return data, True
            if not chunk:
                return data, True
            data += chunk


def authed(port, password=PASSWORD, **kw):
    c = Conn(port, **kw)
    assert c.call("AUTH", password) == OK
    return c


def info_field(conn, name):
    text = conn.call("INFO").decode()
    for line in text.split("\r\n"):
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    raise KeyError(name)


# -- pub/sub stream reader ----------------------------------------------------------------------
class RespStream:
    """Incremental RESP2 parser for a subscriber's stream: feed() bytes, frames() yields each
    complete top-level reply as a list (arrays) or bytes (other types). Linear in the input."""

    def __init__(self):
        self.buf = bytearray()
        self.pos = 0

    def feed(self, data):
        if self.pos > 1 << 20 and self.pos * 2 > len(self.buf):
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += data

    def pending(self):
        return len(self.buf) - self.pos

    def _line(self, at):
        end = self.buf.find(b"\r\n", at)
        if end < 0:
            return None, at
        return bytes(self.buf[at:end]), end + 2

    def _value(self, at):
        line, nxt = self._line(at)
        if line is None:
            return None, at
        kind = line[:1]
        if kind == b"$":
            n = int(line[1:])
            if n < 0:
                return (None,), nxt
            if len(self.buf) < nxt + n + 2:
                return None, at
            return (bytes(self.buf[nxt:nxt + n]),), nxt + n + 2
        if kind == b"*":
            n = int(line[1:])
            items = []
            for _ in range(max(n, 0)):
                item, nxt = self._value(nxt)
                if item is None:
                    return None, at
                items.append(item[0])
            return (items,), nxt
        return (line,), nxt

    def frames(self):
        while True:
            value, nxt = self._value(self.pos)
            if value is None:
                return
            self.pos = nxt
            yield value[0]


class SequenceChecker:
    """Checks per-publisher sequence numbers in payloads `b"<publisher>:<seq>:..."`: every
    publisher's numbers must arrive as 0, 1, 2, ... with no gap, duplicate or reordering."""

    def __init__(self):
        self.next = {}
        self.count = 0
        self.errors = []

    def see(self, payload):
        publisher, seq, _ = payload.split(b":", 2)
        seq = int(seq)
        expected = self.next.get(publisher, 0)
        if seq != expected and len(self.errors) < 10:
            self.errors.append(f"publisher {publisher!r}: got {seq}, expected {expected}")
        self.next[publisher] = max(expected, seq + 1)
        self.count += 1


# -- traffic ------------------------------------------------------------------------------------
class FastSubscriber:
    """A subscriber (SUBSCRIBE channel, or PSUBSCRIBE pattern) read by a thread as fast as
    data arrives, checking every message's per-publisher sequence."""

    def __init__(self, port, channel=None, pattern=None, password=None):
        import threading
        self.conn = authed(port, password) if password else Conn(port)
        if pattern:
            reply = self.conn.call("PSUBSCRIBE", pattern)
            assert reply == subscribe_reply("psubscribe", pattern, 1), reply
            self.kind = b"pmessage"
        else:
            assert self.conn.call("SUBSCRIBE", channel) == subscribe_reply("subscribe", channel, 1)
            self.kind = b"message"
        self.checker = SequenceChecker()
        self.closed = False
        self.bad_frames = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        stream = RespStream()
        sock = self.conn.sock
        sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                chunk = sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                self.closed = True
                return
            stream.feed(chunk)
            for frame in stream.frames():
                if not isinstance(frame, list) or frame[0] != self.kind:
                    if len(self.bad_frames) < 5:
                        self.bad_frames.append(frame)
                    continue
                self.checker.see(frame[-1])

    def finish(self, expected, timeout=20.0):
        """Waits until `expected` messages arrived; returns the checker. Asserts order, no
        loss, no duplicates, and that the server did not close this subscriber."""
        deadline = time.monotonic() + timeout
        while self.checker.count < expected and time.monotonic() < deadline and not self.closed:
            time.sleep(0.01)
        time.sleep(0.05)  # anything beyond `expected` would be a duplicate
        self._stop.set()
        self._thread.join(5)
        assert not self.closed, f"the fast {self.kind.decode()} subscriber was disconnected"
        assert self.bad_frames == [], self.bad_frames
        assert self.checker.errors == [], self.checker.errors
        assert self.checker.count == expected, f"{self.checker.count} of {expected} messages"
        self.conn.close()
        return self.checker


class Publisher:
    """A thread that PUBLISHes `b"<name>:<seq>:<padding>"` in pipelined batches and checks that
    every PUBLISH gets an integer reply of at least `min_receivers`."""

    def __init__(self, port, channel, name=b"P", size=1024, batch=20, pause=0.0,
                 min_receivers=1, password=None, followers=(), max_lag_bytes=512 * 1024):
        import threading
        self.conn = authed(port, password) if password else Conn(port, timeout=10)
        self.channel, self.name, self.size, self.batch, self.pause = \
            channel, name, size, batch, pause
        self.min_receivers = min_receivers
        # Flow control for the test itself: the checked (fast) subscribers are Python threads
        # that a busy box can starve; never let them fall further behind than max_lag_bytes,
        # so that only the subscribers meant to be slow ever meet the output-buffer limits.
        self.followers = followers
        self.max_lag = max(batch, max_lag_bytes // max(size, 1))
        self.sent = 0
        self.replies = []
        self.error = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def wait_for_followers(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        for f in self.followers:
            while f.checker.count < self.sent - self.max_lag and not f.closed:
                if time.monotonic() > deadline:
                    raise AssertionError(f"a fast subscriber is stuck at {f.checker.count} "
                                         f"of {self.sent} messages")
                time.sleep(0.001)

    def publish_now(self, count):
        """Publishes `count` messages from the calling thread (before start())."""
        self.conn.send(b"".join(encode("PUBLISH", self.channel, self.message(self.sent + i))
                                for i in range(count)))
        for _ in range(count):
            reply = self.conn.read_reply(timeout=10)
            assert reply[:1] == b":", reply
            self.replies.append(int(reply[1:-2]))
        self.sent += count
        self.wait_for_followers()
        return self.replies[-count:]

    def message(self, seq):
        head = b"%s:%d:" % (self.name, seq)
        return head + b"x" * max(0, self.size - len(head))

    def _run(self):
        try:
            while not self._stop.is_set():
                self.conn.send(b"".join(encode("PUBLISH", self.channel, self.message(self.sent + i))
                                        for i in range(self.batch)))
                for _ in range(self.batch):
                    reply = self.conn.read_reply(timeout=10)
                    assert reply[:1] == b":", reply
                    self.replies.append(int(reply[1:-2]))
                self.sent += self.batch
                self.wait_for_followers()
                if self.pause:
                    time.sleep(self.pause)
        except Exception as error:  # reported by stop()
            self.error = error

    def stop(self):
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join(30)
        assert not self._thread.is_alive(), "the publisher is stuck waiting for replies"
        assert self.error is None, f"publisher failed: {self.error!r}"
        assert len(self.replies) == self.sent
        assert min(self.replies, default=self.min_receivers) >= self.min_receivers, \
            f"PUBLISH reached only {min(self.replies)} subscribers"
        self.conn.close()
        return self.sent
