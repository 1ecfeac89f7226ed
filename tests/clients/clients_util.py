"""Helpers for driving the real client programs (redis-cli, redis-py) against a server.

Every process started here is stopped by its PID: `CliProcess` is a context manager whose exit
kills the redis-cli it started, and `cli()` waits for (or kills) the one-shot redis-cli it ran.
"""
import os
import select
import signal
import subprocess
import time

REDIS_CLI = os.environ.get("REDIS_CLI", "/usr/bin/redis-cli")
AUTH_WARNING = (b"Warning: Using a password with '-a' or '-u' option on the command line "
                b"interface may not be safe.\n")
WRONGPASS = b"WRONGPASS invalid username-password pair or user is disabled."
NOAUTH = b"NOAUTH Authentication required."


class CliResult:
    def __init__(self, returncode, stdout, stderr):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def as_tuple(self):
        return (self.returncode, self.stdout, self.stderr)

    def __repr__(self):
        return f"CliResult(rc={self.returncode}, stdout={self.stdout!r}, stderr={self.stderr!r})"


def cli(*args, stdin=b"", timeout=10.0, env=None):
    """Runs `redis-cli args...` to completion; stdin (bytes) comes from a pipe."""
    proc = subprocess.Popen([REDIS_CLI, *[str(a) if isinstance(a, int) else a for a in args]],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=None if env is None else {**os.environ, **env})
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"redis-cli {args!r} did not finish in {timeout}s: "
                             f"stdout={out!r} stderr={err!r}")
    return CliResult(proc.returncode, out, err)


class CliProcess:
    """A long-running redis-cli (SUBSCRIBE, PSUBSCRIBE, or interactive mode fed through a pipe).

    Its stdout is collected incrementally; `wait_for` blocks until an expected piece appears.
    Leaving the `with` block kills the process by PID and collects the rest of its output.
    """

    def __init__(self, *args, interactive=False):
        self.proc = subprocess.Popen(
            [REDIS_CLI, *[str(a) if isinstance(a, int) else a for a in args]],
            stdin=subprocess.PIPE if interactive else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        self.out = b""
        self.err = b""
        self.returncode = None
        os.set_blocking(self.proc.stdout.fileno(), False)

    def send(self, data: bytes):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def _read_some(self, timeout):
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], max(timeout, 0))
        if not ready:
            return True
        chunk = os.read(fd, 65536)
        if not chunk:
            return False
        self.out += chunk
        return True

    def wait_for(self, expected: bytes, timeout=5.0) -> bytes:
        """Waits until stdout (so far) contains `expected`; returns all stdout so far."""
        deadline = time.monotonic() + timeout
        while expected not in self.out:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"redis-cli never printed {expected!r}; stdout so far: "
                                     f"{self.out!r}")
            if not self._read_some(remaining):
                raise AssertionError(f"redis-cli closed stdout before printing {expected!r}; "
                                     f"stdout: {self.out!r}, exit {self.proc.poll()}")
        return self.out

    def quiet_for(self, seconds=0.2) -> bytes:
        """Collects whatever stdout arrives within `seconds`."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            if not self._read_some(remaining):
                break
        return self.out

    def stop(self):
        """Kills the process by PID (if still running); returns (stdout, stderr)."""
        if self.returncode is not None:
            return self.out, self.err
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(10)
        os.set_blocking(self.proc.stdout.fileno(), True)
        self.out += self.proc.stdout.read()
        self.err = self.proc.stderr.read()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        self.returncode = self.proc.returncode
        return self.out, self.err

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def redis_repr(data: bytes) -> bytes:
    """What redis-cli's sdscatrepr() prints for a bulk string (quoted, with \\xNN escapes)."""
    out = bytearray(b'"')
    named = {ord("\\"): b"\\\\", ord('"'): b'\\"', ord("\n"): b"\\n", ord("\r"): b"\\r",
             ord("\t"): b"\\t", 7: b"\\a", 8: b"\\b"}
    for byte in data:
        if byte in named:
            out += named[byte]
        elif 0x20 <= byte <= 0x7E:
            out.append(byte)
        else:
            out += b"\\x%02x" % byte
    out += b'"'
    return bytes(out)


def wait_until(predicate, timeout=5.0, interval=0.01, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)
