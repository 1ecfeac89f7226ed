"""Real clients over TLS: redis-cli --tls (Debian's 7.0.15, built with TLS) and redis-py with
ssl=True, against backplane-server with mutual TLS; the same redis-cli runs are repeated against
Debian's redis-server with the same certificates and must print the same."""
import pytest
import redis

from clients_util import CliProcess, cli
from servers import BACKPLANE_SERVER, REDIS_SERVER
from tls_certs import Certs, start_tls_server


@pytest.fixture(scope="module")
def certs():
    return Certs()


@pytest.fixture(scope="module")
def servers(certs):
    with start_tls_server(str(BACKPLANE_SERVER), certs) as ours, \
            start_tls_server(REDIS_SERVER, certs) as theirs:
        yield ours, theirs


def tls_args(certs, server, cert=True):
    args = ["-p", str(server.tls_port), "--tls", "--cacert", certs.ca]
    if cert:
        args += ["--cert", certs.client_cert, "--key", certs.client_key]
    return args


@pytest.mark.parametrize("command", [["PING"], ["ECHO", "hello"], ["PUBLISH", "c", "m"],
                                     ["PUBSUB", "NUMSUB", "c"], ["HELLO", "3", "SETNAME", "x"],
                                     ["NOSUCH"]])
def test_redis_cli_tls_same_output_as_redis(certs, servers, command):
    ours, theirs = servers
    mine = cli(*tls_args(certs, ours), *command)
    reference = cli(*tls_args(certs, theirs), *command)
    if command[0] == "HELLO":  # server name, version and id differ; the shape must not
        assert mine.returncode == reference.returncode == 0
        assert mine.stdout.count(b"\n") == reference.stdout.count(b"\n")
    else:
        assert mine.as_tuple() == reference.as_tuple()
    if command == ["PING"]:
        assert mine.as_tuple() == (0, b"PONG\n", b"")


def test_redis_cli_without_client_certificate_is_refused(certs, servers):
    ours, theirs = servers
    mine = cli(*tls_args(certs, ours, cert=False), "PING")
    reference = cli(*tls_args(certs, theirs, cert=False), "PING")
    assert b"PONG" not in mine.stdout and b"PONG" not in reference.stdout
    # Both fail; whether redis-cli prints "Server closed the connection" or dies of SIGPIPE
    # depends on whether its PING is written before the server's close arrives.
    assert mine.returncode != 0 and reference.returncode != 0


def test_redis_cli_tls_subscriber_gets_plain_publisher_messages(certs, servers):
    ours, _ = servers
    with CliProcess(*tls_args(certs, ours), "SUBSCRIBE", "news") as subscriber:
        subscriber.wait_for(b"subscribe\nnews\n1\n")
        payload = "p" * 100_000
        assert cli("-p", str(ours.plain_port), "PUBLISH", "news", payload).stdout == b"1\n"
        subscriber.wait_for(b"message\nnews\n" + payload.encode() + b"\n")


def connect(certs, server, **kwargs):
    return redis.Redis(host="localhost", port=server.tls_port, ssl=True,
                       ssl_ca_certs=certs.ca, ssl_certfile=certs.client_cert,
                       ssl_keyfile=certs.client_key, socket_timeout=10, **kwargs)


def test_redis_py_ssl_commands_and_pubsub(certs, servers):
    ours, _ = servers
    with connect(certs, ours) as client, connect(certs, ours) as other:
        assert client.ping() is True
        assert client.echo("x" * 100_000) == b"x" * 100_000
        with client.pubsub() as pubsub:
            pubsub.subscribe("ch")
            assert pubsub.get_message(timeout=5) == {"type": "subscribe", "pattern": None,
                                                     "channel": b"ch", "data": 1}
            big = b"z" * (1 << 20)
            assert other.publish("ch", big) == 1
            assert other.publish("ch", "small") == 1
            first = pubsub.get_message(timeout=10)
            second = pubsub.get_message(timeout=10)
            assert first["data"] == big and second["data"] == b"small"


def test_redis_py_ssl_pipeline(certs, servers):
    ours, _ = servers
    with connect(certs, ours) as client:
        pipe = client.pipeline(transaction=False)
        for i in range(1000):
            pipe.echo(str(i))
        assert pipe.execute() == [str(i).encode() for i in range(1000)]


def test_redis_py_ssl_without_certificate_fails(certs, servers):
    ours, _ = servers
    client = redis.Redis(host="localhost", port=ours.tls_port, ssl=True, ssl_ca_certs=certs.ca,
                         socket_timeout=5)
    with pytest.raises(redis.exceptions.ConnectionError):
        client.ping()
    client.close()
