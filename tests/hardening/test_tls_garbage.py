"""Hostile bytes on the TLS port: random garbage, truncated and mutated ClientHellos (taken from
a real handshake and then corrupted), valid handshakes followed by corrupt records, and clients
that leave mid-handshake. The server must stay up, keep serving others, and hold no trace of
the bad connections afterwards (CLIENT LIST back to one client); sanitizer builds run the same
test and fail on any report."""
import random
import socket
import ssl
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from servers import (BACKPLANE_SERVER, RawClient, ServerProcess, _directives,  # noqa: E402
                     free_port)
from tls_certs import Certs  # noqa: E402


def client_hello(context):
    """The first flight of a real TLS client, captured through memory BIOs."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def mutate(data, rng):
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        choice = rng.random()
        if choice < 0.5 and data:
            data[rng.randrange(len(data))] = rng.getrandbits(8)
        elif choice < 0.7:
            data = data[: rng.randrange(len(data) + 1)]
        elif choice < 0.85:
            position = rng.randrange(len(data) + 1)
            data[position:position] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))
        else:
            data += data[: rng.randint(0, len(data))]
    return bytes(data)


def send_and_drain(port, data, half_close, wait=2.0):
    """Sends `data`, half-closes (or not: then the server is left waiting), reads until EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        except (OSError, socket.timeout):  # reset, broken pipe, or closed before shutdown
            pass


def test_garbage_and_mutated_handshakes_on_the_tls_port():
    certs = Certs()
    port, tls_port = free_port(), free_port()
    argv = [str(BACKPLANE_SERVER), "--port", str(port), "--bind", "127.0.0.1", "--tls-port",
            str(tls_port), *_directives(certs.server_directives())]
    rng = random.Random(20261128)
    context = certs.client_context()
    hello = client_hello(context)
    assert hello[:1] == b"\x16"
    with ServerProcess(argv, tls_port, "backplane").wait_ready() as server:
        for round_number in range(300):
            kind = round_number % 4
            if kind == 0:
                data = bytes(rng.getrandbits(8) for _ in range(rng.choice([1, 7, 300, 20000])))
            elif kind == 1:
                data = mutate(hello, rng)
            elif kind == 2:
                data = hello[: rng.randrange(len(hello))]  # stops mid-ClientHello
            else:
                data = b"\x16\x03\x01" + rng.getrandbits(16).to_bytes(2, "big") + mutate(hello, rng)
            send_and_drain(tls_port, data, half_close=kind != 2 or round_number % 20 != 2,
                           wait=0.1 if kind == 2 else 2.0)
        # Complete handshakes followed by corrupt application records.
        for _ in range(20):
            raw = socket.create_connection(("127.0.0.1", tls_port), timeout=3)
            tls = context.wrap_socket(raw, server_hostname="localhost")
            tls.sendall(b"*1\r\n$4\r\nPING\r\n")
            assert tls.recv(100) == b"+PONG\r\n"
            length = rng.randint(1, 300)
            raw_fd = tls.fileno()
            socket.socket(fileno=socket.dup(raw_fd)).sendall(
                b"\x17\x03\x03" + length.to_bytes(2, "big") +
                bytes(rng.getrandbits(8) for _ in range(length)))
            try:
                while tls.recv(100):
                    pass
            except (ssl.SSLError, ConnectionResetError, socket.timeout):
                pass
            tls.close()
        assert server.alive()
        with context.wrap_socket(socket.create_connection(("127.0.0.1", tls_port), timeout=5),
                                 server_hostname="localhost") as tls:
            tls.sendall(b"*1\r\n$4\r\nPING\r\n")
            assert tls.recv(100) == b"+PONG\r\n"
        with RawClient(port) as admin:
            deadline = time.monotonic() + 10
            while True:
                listed = admin.call("CLIENT", "LIST")
                if listed.count(b"id=") == 1 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert listed.count(b"id=") == 1, listed
