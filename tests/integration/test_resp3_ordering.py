"""RESP3: a client that publishes to a channel it is subscribed to gets the PUBLISH reply
before the push, whatever the payload size (Redis 7.2 behaviour, PR #12326; Redis 7.0 sent the
push first). StackExchange.Redis 3 and the SignalR backplane publish and subscribe on one
RESP3 connection and depend on this order."""
import pytest

from servers import RawClient


def push(kind, *parts):
    out = b">%d\r\n$%d\r\n%s\r\n" % (len(parts) + 1, len(kind), kind)
    for part in parts:
        out += b"$%d\r\n%s\r\n" % (len(part), part)
    return out


@pytest.mark.parametrize("size", [5, 16 * 1024, 1024 * 1024])
def test_reply_comes_before_the_clients_own_message(backplane, size):
    payload = b"p" * size
    with RawClient(backplane.port) as client:
        assert client.call("HELLO", "3").startswith(b"%7\r\n")
        assert client.call("SUBSCRIBE", "me") == b">3\r\n$9\r\nsubscribe\r\n$2\r\nme\r\n:1\r\n"
        client.send(client.command("PUBLISH", "me", payload))
        assert client.read_reply() == b":1\r\n"
        assert client.read_reply() == push(b"message", b"me", payload)
        # A pattern subscription of the same client: reply, then message, then pmessage.
        assert client.call("PSUBSCRIBE", "m*") == b">3\r\n$10\r\npsubscribe\r\n$2\r\nm*\r\n:2\r\n"
        client.send(client.command("PUBLISH", "me", payload))
        assert client.read_reply() == b":2\r\n"
        assert client.read_reply() == push(b"message", b"me", payload)
        assert client.read_reply() == push(b"pmessage", b"m*", b"me", payload)
