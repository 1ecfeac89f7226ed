"""TLS: the tls-* directives, mutual TLS, plain and TLS ports side by side, pub/sub across the
two, partial writes of large messages over TLS, run-time reconfiguration, and clients that
stall in or garble the handshake. Clients are raw TLS sockets (python ssl) and the replies are
compared byte for byte."""
import os
import random
import socket
import ssl
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from itest_util import (AGAINST_REDIS, BACKPLANE_SERVER, PONG, REDIS_SERVER, Client,  # noqa: E402
                        ServerProcess, bulk, directive_args, encode, free_port, message)
from tls_certs import Certs  # noqa: E402


@pytest.fixture(scope="module")
def certs():
    return Certs()


def launch_tls(certs, port="free", tls_port="free", **directives):
    """Starts the server with TLS on a free tls-port (and a free plain port unless port=0)."""
    if port == "free":
        port = free_port()
    if tls_port == "free":
        tls_port = free_port()
    binary = REDIS_SERVER if AGAINST_REDIS else str(BACKPLANE_SERVER)
    options = certs.server_directives(**{k.replace("_", "-"): v for k, v in directives.items()})
    argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--tls-port", str(tls_port)]
    argv += directive_args(options)
    if AGAINST_REDIS:
        argv += ["--save", "", "--appendonly", "no"]
    # The TLS listener opens last, after the certificates are loaded: wait for it.
    server = ServerProcess(argv, tls_port, "backplane")
    server.plain_port = port
    server.tls_port = tls_port
    return server.wait_ready()


@pytest.fixture
def start_tls(certs):
    started = []

    def _start(**kwargs):
        server = launch_tls(certs, **kwargs)
        started.append(server)
        return server

    yield _start
    for server in started:
        server.__exit__(None, None, None)


class TlsClient(Client):
    """A Client whose socket speaks TLS (handshake done on connect)."""

    def __init__(self, port, context, timeout=5.0, server_hostname="localhost"):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = context.wrap_socket(raw, server_hostname=server_hostname)
        self.buffer = b""
        self.closed = False
        self.reset = False

    def _recv(self, timeout):
        try:
            return super()._recv(timeout)
        except ssl.SSLError:
            self.closed = True
            return b""


def handshake_refused(port, context):
    """True when the server refuses the client's certificate: the handshake or the first reply
    fails (with TLS 1.3 the client learns of it only when it reads)."""
    try:
        client = TlsClient(port, context)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return True
    with client:
        try:
            client.send(encode("PING"))
        except ssl.SSLError:
            return True
        data, closed = client.wait_closed(timeout=3)
        return data == b"" and closed


def test_ping_echo_quit_over_tls_exact_bytes(start_tls, certs):
    server = start_tls()
    with TlsClient(server.tls_port, certs.client_context()) as client:
        assert client.call("PING") == PONG
        assert client.call("ECHO", "x" * 70000) == bulk("x" * 70000)
        # Pipelined requests in one record, replies in order.
        client.send(encode("PING", "a") + encode("PING", "b") + encode("HELLO", "3"))
        assert client.read_reply() == b"$1\r\na\r\n"
        assert client.read_reply() == b"$1\r\nb\r\n"
        assert client.read_reply().startswith(b"%7\r\n$6\r\nserver\r\n")
        client.send(encode("QUIT"))
        data, closed = client.wait_closed()
        assert data == b"+OK\r\n" and closed


def test_mutual_tls_requires_a_certificate_from_the_ca(start_tls, certs):
    server = start_tls()
    assert handshake_refused(server.tls_port, certs.client_context(cert=False))
    assert handshake_refused(server.tls_port, certs.client_context(stranger=True))
    with TlsClient(server.tls_port, certs.client_context()) as client:
        assert client.call("PING") == PONG


def test_auth_clients_no_accepts_any_client(start_tls, certs):
    server = start_tls(tls_auth_clients="no")
    for context in (certs.client_context(cert=False), certs.client_context(stranger=True)):
        with TlsClient(server.tls_port, context) as client:
            assert client.call("PING") == PONG


def test_auth_clients_optional_checks_a_certificate_only_when_sent(start_tls, certs):
    server = start_tls(tls_auth_clients="optional")
    with TlsClient(server.tls_port, certs.client_context(cert=False)) as client:
        assert client.call("PING") == PONG
    with TlsClient(server.tls_port, certs.client_context()) as client:
        assert client.call("PING") == PONG
    assert handshake_refused(server.tls_port, certs.client_context(stranger=True))


def test_no_ca_needed_only_without_client_authentication(certs, tmp_path):
    port = free_port()
    binary = str(BACKPLANE_SERVER)
    argv = [binary, "--port", str(port), "--tls-port", str(free_port()), "--tls-cert-file",
            certs.server_cert, "--tls-key-file", certs.server_key]
    server = ServerProcess(argv, port, "backplane")
    server.proc.wait(10)
    log = server.log_text()
    server.__exit__(None, None, None)
    assert server.proc.returncode == 1
    assert ("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, "
            "tls-replication or tls-auth-clients are enabled!") in log
    assert "Failed to configure TLS. Check logs for more info." in log
    with ServerProcess(argv + ["--tls-auth-clients", "no"], port, "backplane").wait_ready():
        pass


@pytest.mark.parametrize("missing, text", [("tls-cert-file", "No tls-cert-file configured!"),
                                           ("tls-key-file", "No tls-key-file configured!")])
def test_startup_fails_without_certificate_or_key(certs, missing, text):
    directives = certs.server_directives()
    del directives[missing]
    argv = [str(BACKPLANE_SERVER), "--port", "0", "--tls-port", str(free_port())]
    server = ServerProcess(argv + directive_args(directives), 0, "backplane")
    server.proc.wait(10)
    log = server.log_text()
    server.__exit__(None, None, None)
    assert server.proc.returncode == 1
    assert text in log


def test_plain_and_tls_side_by_side(start_tls, certs):
    server = start_tls()
    with Client(server.plain_port) as plain, \
            TlsClient(server.tls_port, certs.client_context()) as secure:
        assert plain.call("PING") == PONG
        assert secure.call("PING") == PONG
        assert plain.call("CONFIG", "GET", "tls-port") == (
            b"*2\r\n$8\r\ntls-port\r\n" + bulk(str(server.tls_port)))
        # TLS on the plain port is not understood; plain RESP on the TLS port is refused.
        with Client(server.tls_port) as confused:
            confused.send(encode("PING"))
            data, closed = confused.wait_closed()
            assert closed and PONG not in data


def test_tls_only_with_port_zero(start_tls, certs):
    server = start_tls(port=0)
    with TlsClient(server.tls_port, certs.client_context()) as client:
        assert client.call("CONFIG", "GET", "port") == b"*2\r\n$4\r\nport\r\n$1\r\n0\r\n"
        assert client.call("PING") == PONG


def test_pubsub_between_tls_and_plain_with_large_payloads(start_tls, certs):
    server = start_tls()
    payloads = [os.urandom(1 << 20).hex()[: 1 << 20] for _ in range(3)] + ["small"]
    with TlsClient(server.tls_port, certs.client_context()) as tls_subscriber, \
            Client(server.plain_port) as plain_subscriber, \
            Client(server.plain_port) as plain_publisher, \
            TlsClient(server.tls_port, certs.client_context()) as tls_publisher:
        for subscriber in (tls_subscriber, plain_subscriber):
            assert subscriber.call("SUBSCRIBE", "news") == (
                b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n")
        for publisher in (plain_publisher, tls_publisher):
            for payload in payloads:
                publisher.send(encode("PUBLISH", "news", payload))
            for _ in payloads:
                assert publisher.read_reply(timeout=20) == b":2\r\n"
        expected = b"".join(message("news", p) for p in payloads) * 2
        for subscriber in (tls_subscriber, plain_subscriber):
            assert subscriber.read_exact(len(expected), timeout=30) == expected


def test_slow_tls_reader_gets_every_byte(start_tls, certs):
    """A subscriber that reads slowly fills the socket: the server's SSL_write stops midway and
    resumes when the socket drains, without losing or reordering bytes."""
    server = start_tls()
    context = certs.client_context()
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", server.tls_port))
    subscriber = TlsClient.__new__(TlsClient)
    subscriber.sock = context.wrap_socket(raw, server_hostname="localhost")
    subscriber.buffer, subscriber.closed, subscriber.reset = b"", False, False
    with subscriber, Client(server.plain_port) as publisher:
        subscriber.call("SUBSCRIBE", "c")
        payloads = [bytes([65 + i % 26]) * (100_000 + i) for i in range(40)]
        for payload in payloads:
            publisher.send(encode("PUBLISH", "c", payload))
        for _ in payloads:
            assert publisher.read_reply(timeout=20) == b":1\r\n"
        time.sleep(0.5)
        expected = b"".join(message("c", p) for p in payloads)
        received = b""
        while len(received) < len(expected):
            received += subscriber.read_exact(min(8192, len(expected) - len(received)),
                                              timeout=30)
        assert received == expected


def test_stalled_handshake_does_not_block_others(start_tls, certs):
    server = start_tls(timeout=2)
    stallers = []
    for _ in range(5):
        staller = socket.create_connection(("127.0.0.1", server.tls_port))
        staller.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # half a ClientHello
        stallers.append(staller)
    silent = socket.create_connection(("127.0.0.1", server.tls_port))  # sends nothing at all
    started = time.monotonic()
    with TlsClient(server.tls_port, certs.client_context()) as client:
        assert client.call("PING") == PONG
    assert time.monotonic() - started < 2
    # The idle timeout closes clients that never finish the handshake.
    for stuck in stallers + [silent]:
        stuck.settimeout(6)
        assert stuck.recv(100) == b""
        stuck.close()


def test_garbage_on_the_tls_port(start_tls, certs):
    """Random bytes, some of them starting like a handshake record: the server answers at
    most with a TLS alert and closes every such connection by the time the client's side ends."""
    server = start_tls()
    rng = random.Random(1234)
    for round_number in range(60):
        with socket.create_connection(("127.0.0.1", server.tls_port), timeout=5) as garbage:
            length = rng.choice([1, 5, 100, 5000, 70000])
            data = bytes(rng.getrandbits(8) for _ in range(length))
            if round_number % 3 == 0:
                data = b"\x16\x03\x01" + data  # looks like a handshake record at first
            received = b""
            try:
                garbage.sendall(data)
                garbage.shutdown(socket.SHUT_WR)
                while chunk := garbage.recv(65536):
                    received += chunk
            except (ConnectionResetError, BrokenPipeError):
                pass
            except OSError as error:  # closed before our shutdown
                assert error.errno == 107, error
            assert PONG not in received
            assert received == b"" or received[:1] == b"\x15"  # nothing, or an alert record
    assert server.alive()
    with TlsClient(server.tls_port, certs.client_context()) as client:
        assert client.call("PING") == PONG


def test_garbage_after_the_handshake_closes_only_that_client(start_tls, certs):
    server = start_tls()
    with TlsClient(server.tls_port, certs.client_context()) as victim, \
            TlsClient(server.tls_port, certs.client_context()) as bystander:
        assert victim.call("PING") == PONG
        # Raw bytes under the TLS layer: a corrupt record.
        os.write(victim.sock.fileno(), b"\x17\x03\x03\x00\x20" + b"\x00" * 32)
        data, closed = victim.wait_closed()
        assert closed
        assert bystander.call("PING") == PONG


def test_config_get_tls_defaults():
    port = free_port()
    with ServerProcess([str(BACKPLANE_SERVER), "--bind", "127.0.0.1", "--port", str(port)], port,
                       "backplane").wait_ready() as server:
        with Client(port) as client:
            expected = {
                "tls-port": "0", "tls-cert-file": "", "tls-key-file": "",
                "tls-key-file-pass": "", "tls-ca-cert-file": "", "tls-ca-cert-dir": "",
                "tls-auth-clients": "yes", "tls-protocols": "", "tls-ciphers": "",
                "tls-ciphersuites": "", "tls-prefer-server-ciphers": "no",
                "tls-session-caching": "yes", "tls-session-cache-size": "20480",
                "tls-session-cache-timeout": "300", "tls-dh-params-file": "",
                "tls-replication": "no", "tls-cluster": "no",
            }
            for name, value in expected.items():
                assert client.call("CONFIG", "GET", name) == (
                    b"*2\r\n" + bulk(name) + bulk(value)), name
            assert client.call("CONFIG", "SET", "tls-auth-clients", "maybe") == (
                b"-ERR CONFIG SET failed (possibly related to argument 'tls-auth-clients') - "
                b"argument(s) must be one of the following: no, yes, optional\r\n")
            # Without tls-port nothing is loaded, so any path is accepted (as in Redis).
            assert client.call("CONFIG", "SET", "tls-cert-file", "/nonexistent") == b"+OK\r\n"
            # Opening the TLS port needs a working configuration.
            assert client.call("CONFIG", "SET", "tls-port", str(free_port())) == (
                b"-ERR CONFIG SET failed (possibly related to argument 'tls-port') - Unable to "
                b"update TLS configuration. Check server logs.\r\n")
            assert client.call("CONFIG", "GET", "tls-port") == b"*2\r\n$8\r\ntls-port\r\n$1\r\n0\r\n"


def test_config_set_tls_port_opens_and_closes_the_listener(certs):
    port = free_port()
    argv = [str(BACKPLANE_SERVER), "--bind", "127.0.0.1", "--port", str(port)]
    argv += directive_args(certs.server_directives())
    with ServerProcess(argv, port, "backplane").wait_ready(), Client(port) as admin:
        tls_port = free_port()
        assert admin.call("CONFIG", "SET", "tls-port", str(tls_port)) == b"+OK\r\n"
        with TlsClient(tls_port, certs.client_context()) as client:
            assert client.call("PING") == PONG
            assert admin.call("CONFIG", "SET", "tls-port", "0") == b"+OK\r\n"
            # Open connections stay; the listener is gone.
            assert client.call("PING") == PONG
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", tls_port), timeout=2)


def test_config_set_reloads_certificates_for_new_connections(start_tls, certs):
    server = start_tls()
    with Client(server.plain_port) as admin, \
            TlsClient(server.tls_port, certs.client_context()) as before:
        assert before.sock.getpeercert()["subject"] == ((("commonName", "localhost"),),)
        assert admin.call("CONFIG", "SET", "tls-cert-file", certs.server2_cert, "tls-key-file",
                          certs.server2_key) == b"+OK\r\n"
        with TlsClient(server.tls_port, certs.client_context()) as after:
            assert after.sock.getpeercert()["subject"] == ((("commonName", "reloaded"),),)
            assert after.call("PING") == PONG
        assert before.call("PING") == PONG
        # A broken setting is refused and the working context stays.
        assert admin.call("CONFIG", "SET", "tls-cert-file", "/nonexistent") == (
            b"-ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to "
            b"update TLS configuration. Check server logs.\r\n")
        assert admin.call("CONFIG", "GET", "tls-cert-file") == (
            b"*2\r\n$13\r\ntls-cert-file\r\n" + bulk(certs.server2_cert))
        assert admin.call("CONFIG", "SET", "tls-protocols", "TLSv9") == (
            b"-ERR CONFIG SET failed (possibly related to argument 'tls-protocols') - Unable to "
            b"update TLS configuration. Check server logs.\r\n")
        with TlsClient(server.tls_port, certs.client_context()) as again:
            assert again.call("PING") == PONG
        # tls-auth-clients applies to new connections.
        assert admin.call("CONFIG", "SET", "tls-auth-clients", "no") == b"+OK\r\n"
        with TlsClient(server.tls_port, certs.client_context(cert=False)) as anonymous:
            assert anonymous.call("PING") == PONG


def test_encrypted_key_with_tls_key_file_pass(start_tls, certs):
    server = start_tls(tls_cert_file=certs.server_pass_cert, tls_key_file=certs.server_pass_key,
                       tls_key_file_pass="keypass")
    with TlsClient(server.tls_port, certs.client_context()) as client:
        assert client.call("PING") == PONG


def test_tls_protocols_limits_versions(start_tls, certs):
    server = start_tls(tls_protocols="TLSv1.2")
    context = certs.client_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    assert handshake_refused(server.tls_port, context)
    with TlsClient(server.tls_port, certs.client_context()) as client:
        assert client.sock.version() == "TLSv1.2"
        assert client.call("PING") == PONG


def test_tls_ciphersuites_and_prefer_server_ciphers(start_tls, certs):
    server = start_tls(tls_ciphersuites="TLS_CHACHA20_POLY1305_SHA256",
                       tls_prefer_server_ciphers="yes", tls_session_caching="no")
    with TlsClient(server.tls_port, certs.client_context()) as client:
        assert client.sock.cipher()[0] == "TLS_CHACHA20_POLY1305_SHA256"
        assert client.call("PING") == PONG


def test_invalid_tls_protocols_is_a_startup_error(certs):
    argv = [str(BACKPLANE_SERVER), "--port", "0", "--tls-port", str(free_port())]
    argv += directive_args(certs.server_directives(**{"tls-protocols": "TLSv9"}))
    server = ServerProcess(argv, 0, "backplane")
    server.proc.wait(10)
    log = server.log_text()
    server.__exit__(None, None, None)
    assert server.proc.returncode == 1
    assert ("Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', "
            "'TLSv1.2' and 'TLSv1.3'.") in log


def test_many_tls_clients_pipelining(start_tls, certs):
    server = start_tls()
    clients = [TlsClient(server.tls_port, certs.client_context()) for _ in range(20)]
    try:
        for client in clients:
            client.send(encode("PING") * 500)
        for client in clients:
            assert client.read_exact(len(PONG) * 500, timeout=20) == PONG * 500
    finally:
        for client in clients:
            client.close()


@pytest.mark.parametrize("which, text", [
    ("missing", "Failed to load /nonexistent/dh.pem: No such file or directory"),
    ("not-dh", "failed to read DH params."),
])
def test_bad_dh_params_file_is_a_startup_error(certs, which, text):
    path = "/nonexistent/dh.pem" if which == "missing" else certs.ca
    argv = [str(BACKPLANE_SERVER), "--port", "0", "--tls-port", str(free_port())]
    argv += directive_args(certs.server_directives(**{"tls-dh-params-file": path}))
    server = ServerProcess(argv, 0, "backplane")
    server.proc.wait(10)
    log = server.log_text()
    server.__exit__(None, None, None)
    assert server.proc.returncode == 1
    assert text in log
    assert "Failed to configure TLS. Check logs for more info." in log
