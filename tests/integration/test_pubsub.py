"""Pub/sub semantics (redis-behaviour.md section 6), exact bytes."""
import re
import selectors
import threading
import time

from itest_util import PONG, SUB_PONG, Client, bulk, encode, message, pmessage, subscribe_reply

NOT_ALLOWED = (b"-ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
               b"RESET are allowed in this context\r\n")


def test_subscribe_replies_and_counts(plain):
    with Client(plain.port) as c:
        c.send_command("SUBSCRIBE", "ch1", "ch2")
        expected = (b"*3\r\n$9\r\nsubscribe\r\n$3\r\nch1\r\n:1\r\n"
                    b"*3\r\n$9\r\nsubscribe\r\n$3\r\nch2\r\n:2\r\n")
        assert c.read_exact(len(expected)) == expected
        assert c.call("SUBSCRIBE", "ch1") == subscribe_reply("subscribe", "ch1", 2)
        assert c.call("PSUBSCRIBE", "c*") == b"*3\r\n$10\r\npsubscribe\r\n$2\r\nc*\r\n:3\r\n"
        assert c.call("PSUBSCRIBE", "c*") == subscribe_reply("psubscribe", "c*", 3)
        assert c.call("UNSUBSCRIBE", "zzz") == b"*3\r\n$11\r\nunsubscribe\r\n$3\r\nzzz\r\n:3\r\n"
        assert c.call("UNSUBSCRIBE", "ch1") == subscribe_reply("unsubscribe", "ch1", 2)
        assert c.call("PUNSUBSCRIBE", "c*") == subscribe_reply("punsubscribe", "c*", 1)
        assert c.call("UNSUBSCRIBE") == subscribe_reply("unsubscribe", "ch2", 0)
        assert c.call("UNSUBSCRIBE") == b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"
        assert c.call("PUNSUBSCRIBE") == b"*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n"
        assert c.call("PING") == PONG


def test_unsubscribe_when_never_subscribed(plain):
    with Client(plain.port) as c:
        assert c.call("UNSUBSCRIBE", "zzz") == b"*3\r\n$11\r\nunsubscribe\r\n$3\r\nzzz\r\n:0\r\n"
        assert c.call("PUNSUBSCRIBE") == b"*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n"
        assert c.call("ECHO", "free") == b"$4\r\nfree\r\n"


def test_message_and_pmessage_format(plain):
    with Client(plain.port) as s, Client(plain.port) as p:
        s.call("SUBSCRIBE", "ch1")
        s.call("PSUBSCRIBE", "x*")
        assert p.call("PUBLISH", "ch1", "hello") == b":1\r\n"
        assert s.read_reply() == b"*3\r\n$7\r\nmessage\r\n$3\r\nch1\r\n$5\r\nhello\r\n"
        assert p.call("PUBLISH", "xyz", "world") == b":1\r\n"
        assert s.read_reply() == b"*4\r\n$8\r\npmessage\r\n$2\r\nx*\r\n$3\r\nxyz\r\n$5\r\nworld\r\n"
        assert p.call("PUBLISH", "nobody", "x") == b":0\r\n"
        assert s.collect(silence=0.1) == (b"", False)


def test_channel_and_matching_pattern_get_message_then_pmessage(plain):
    with Client(plain.port) as s, Client(plain.port) as p:
        s.call("SUBSCRIBE", "ch2")
        s.call("PSUBSCRIBE", "c*")
        assert p.call("PUBLISH", "ch2", "world") == b":2\r\n"
        expected = (b"*3\r\n$7\r\nmessage\r\n$3\r\nch2\r\n$5\r\nworld\r\n"
                    b"*4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$3\r\nch2\r\n$5\r\nworld\r\n")
        assert s.read_exact(len(expected)) == expected


def test_ordering_on_one_channel_from_one_publisher(plain):
    with Client(plain.port) as s, Client(plain.port) as p:
        s.call("SUBSCRIBE", "seq")
        s.call("PSUBSCRIBE", "s*")
        p.send(b"".join(encode("PUBLISH", "seq", str(i)) for i in range(500)))
        assert p.read_exact(4 * 500) == b":2\r\n" * 500
        expected = b"".join(message("seq", str(i)) + pmessage("s*", "seq", str(i)) for i in range(500))
        assert s.read_exact(len(expected)) == expected


def test_subscribed_mode_rejects_other_commands(plain):
    with Client(plain.port) as c:
        c.call("SUBSCRIBE", "ch")
        for args, name in [(("ECHO", "x"), b"echo"), (("PUBLISH", "ch", "x"), b"publish"),
                           (("SELECT", "0"), b"select"), (("CLIENT", "ID"), b"client|id"),
                           (("CONFIG", "GET", "timeout"), b"config|get"), (("INFO",), b"info"),
                           (("PUBSUB", "NUMPAT"), b"pubsub|numpat"), (("TIME",), b"time"),
                           (("HELLO", "2"), b"hello")]:
            assert c.call(*args) == NOT_ALLOWED % name
        assert c.call("FOO", "k") == b"-ERR unknown command 'FOO', with args beginning with: 'k' \r\n"
        assert c.call("ECHO") == b"-ERR wrong number of arguments for 'echo' command\r\n"
        assert c.call("PING") == SUB_PONG


def test_ping_in_subscribed_mode(plain):
    with Client(plain.port) as c:
        c.call("PSUBSCRIBE", "p*")
        assert c.call("PING") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
        assert c.call("PING", "hi") == b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n"
        assert c.call("PING", "a\r\nb") == b"*2\r\n$4\r\npong\r\n$4\r\na\r\nb\r\n"
        assert c.call("PING", "a", "b") == b"-ERR wrong number of arguments for 'ping' command\r\n"
        c.call("PUNSUBSCRIBE")
        assert c.call("PING") == PONG
        assert c.call("PING", "hi") == b"$2\r\nhi\r\n"


def test_quit_in_subscribed_mode(plain):
    with Client(plain.port) as s, Client(plain.port) as p:
        s.call("SUBSCRIBE", "ch")
        s.send(encode("QUIT") + encode("PING"))
        assert s.wait_closed() == (b"+OK\r\n", True)
        assert _eventually(lambda: p.call("PUBSUB", "NUMSUB", "ch") == b"*2\r\n$2\r\nch\r\n:0\r\n")


def test_reset_in_subscribed_mode(plain):
    with Client(plain.port) as s, Client(plain.port) as p:
        s.call("SUBSCRIBE", "ch")
        s.call("PSUBSCRIBE", "c*")
        assert s.call("RESET") == b"+RESET\r\n"
        assert s.call("PING") == PONG
        assert s.call("ECHO", "back") == b"$4\r\nback\r\n"
        assert p.call("PUBLISH", "ch", "x") == b":0\r\n"
        assert s.collect(silence=0.1) == (b"", False)


def test_empty_channel_name(plain):
    with Client(plain.port) as s, Client(plain.port) as p:
        assert s.call("SUBSCRIBE", "") == b"*3\r\n$9\r\nsubscribe\r\n$0\r\n\r\n:1\r\n"
        assert p.call("PUBLISH", "", "payload") == b":1\r\n"
        assert s.read_reply() == b"*3\r\n$7\r\nmessage\r\n$0\r\n\r\n$7\r\npayload\r\n"
        assert p.call("PUBSUB", "NUMSUB", "") == b"*2\r\n$0\r\n\r\n:1\r\n"


def test_binary_payloads_and_channels(plain):
    payload = b"\x00\r\n*3\r\n$7\r\nmessage\r\n\xff\x00"
    channel = b"bin\x00\r\nchan"
    with Client(plain.port) as s, Client(plain.port) as p:
        s.call("SUBSCRIBE", channel)
        s.call("PSUBSCRIBE", b"bin\x00*")
        assert p.call("PUBLISH", channel, payload) == b":2\r\n"
        expected = message(channel, payload) + pmessage(b"bin\x00*", channel, payload)
        assert s.read_exact(len(expected)) == expected


def test_one_mib_payload(plain):
    payload = bytes(range(256)) * 4096  # 1 MiB, every byte value
    with Client(plain.port) as s, Client(plain.port) as p:
        s.call("SUBSCRIBE", "big")
        assert p.call("PUBLISH", "big", payload) == b":1\r\n"
        assert s.read_exact(len(message("big", payload)), timeout=10) == message("big", payload)
        assert p.call("PUBLISH", "big", "after") == b":1\r\n"
        assert s.read_reply() == message("big", "after")


def test_thousand_channels_in_one_subscribe(plain):
    names = [f"channel:{i}" for i in range(1000)]
    with Client(plain.port) as c, Client(plain.port) as p:
        c.send_command("SUBSCRIBE", *names)
        expected = b"".join(subscribe_reply("subscribe", n, i + 1) for i, n in enumerate(names))
        assert c.read_exact(len(expected)) == expected
        assert p.call("PUBSUB", "NUMSUB", "channel:0", "channel:999", "channel:1000") == (
            b"*6\r\n" + bulk("channel:0") + b":1\r\n" + bulk("channel:999") + b":1\r\n"
            + bulk("channel:1000") + b":0\r\n")
        assert p.call("PUBLISH", "channel:500", "x") == b":1\r\n"
        assert c.read_reply() == message("channel:500", "x")
        c.send_command("UNSUBSCRIBE", *names[::-1])
        expected = b"".join(subscribe_reply("unsubscribe", n, i) for i, n in
                            zip(range(999, -1, -1), names[::-1]))
        assert c.read_exact(len(expected)) == expected
        assert c.call("PING") == PONG


def test_pubsub_numsub_numpat_channels(start):
    server = start()
    with Client(server.port) as a, Client(server.port) as b, Client(server.port) as q:
        assert q.call("PUBSUB", "CHANNELS") == b"*0\r\n"
        assert q.call("PUBSUB", "NUMPAT") == b":0\r\n"
        a.send_command("SUBSCRIBE", "ch1", "ch2")
        a.read_reply(), a.read_reply()
        b.call("SUBSCRIBE", "ch2")
        a.call("PSUBSCRIBE", "p*")
        b.call("PSUBSCRIBE", "p*")
        b.call("PSUBSCRIBE", "q?")
        assert q.call("PUBSUB", "NUMSUB", "ch1", "ch2", "nobody") == (
            b"*6\r\n$3\r\nch1\r\n:1\r\n$3\r\nch2\r\n:2\r\n$6\r\nnobody\r\n:0\r\n")
        assert q.call("PUBSUB", "NUMSUB") == b"*0\r\n"
        assert q.call("PUBSUB", "NUMPAT") == b":2\r\n"
        assert q.call("PUBSUB", "CHANNELS", "ch1") == b"*1\r\n$3\r\nch1\r\n"
        assert q.call("PUBSUB", "CHANNELS", "nothing*") == b"*0\r\n"
        channels = q.call("PUBSUB", "CHANNELS")
        assert channels in (b"*2\r\n$3\r\nch1\r\n$3\r\nch2\r\n", b"*2\r\n$3\r\nch2\r\n$3\r\nch1\r\n")
        b.close()
        assert _eventually(lambda: q.call("PUBSUB", "NUMPAT") == b":1\r\n")
        assert q.call("PUBSUB", "NUMSUB", "ch2") == b"*2\r\n$3\r\nch2\r\n:1\r\n"


def _eventually(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_per_publisher_order_two_publishers_ten_subscribers(start):
    """2 publishers x 50,000 pipelined sequenced messages; 10 subscribers (3 also with a
    matching pattern). Every subscriber gets all 100,000 messages (and the 3 get a pmessage
    right after each message); each publisher's sequence is strictly increasing, no gaps."""
    server = start(client_output_buffer_limit="pubsub 0 0 0")
    per_publisher = 50_000
    subs = [Client(server.port) for _ in range(10)]
    pubs = [Client(server.port) for _ in range(2)]
    try:
        for i, s in enumerate(subs):
            assert s.call("SUBSCRIBE", "ch") == subscribe_reply("subscribe", "ch", 1)
            if i < 3:
                assert s.call("PSUBSCRIBE", "c*") == subscribe_reply("psubscribe", "c*", 2)
        # Expected byte counts let the readers stop exactly at the end.
        msg_len = sum(len(message("ch", f"{p}:{n}")) for p in range(2) for n in range(per_publisher))
        pmsg_len = sum(len(pmessage("c*", "ch", f"{p}:{n}")) for p in range(2) for n in range(per_publisher))
        want = [msg_len + (pmsg_len if i < 3 else 0) for i in range(10)]
        received = [bytearray() for _ in range(10)]
        replies = [bytearray() for _ in range(2)]

        def pump():
            sel = selectors.DefaultSelector()
            for i, s in enumerate(subs):
                s.sock.setblocking(False)
                sel.register(s.sock, selectors.EVENT_READ, ("sub", i))
            for i, p in enumerate(pubs):
                sel.register(p.sock, selectors.EVENT_READ, ("pub", i))
            pending = 12
            deadline = time.monotonic() + 60
            done = set()
            while pending and time.monotonic() < deadline:
                for key, _ in sel.select(1.0):
                    kind, i = key.data
                    try:
                        chunk = key.fileobj.recv(1 << 20)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        sel.unregister(key.fileobj)
                        pending -= 1
                        continue
                    buf = received[i] if kind == "sub" else replies[i]
                    buf += chunk
                    full = len(buf) >= (want[i] if kind == "sub" else 5 * per_publisher)
                    if full and (kind, i) not in done:
                        done.add((kind, i))
                        sel.unregister(key.fileobj)
                        pending -= 1

        reader = threading.Thread(target=pump)
        reader.start()
        payloads = [b"".join(encode("PUBLISH", "ch", f"{p}:{n}") for n in range(per_publisher))
                    for p in range(2)]
        senders = [threading.Thread(target=pubs[p].sock.sendall, args=(payloads[p],)) for p in range(2)]
        for t in senders:
            t.start()
        for t in senders:
            t.join(60)
        reader.join(90)
        assert not reader.is_alive(), "timed out waiting for deliveries"
        for p in range(2):
            assert bytes(replies[p]) == b":13\r\n" * per_publisher
        frame = re.compile(rb"\*3\r\n\$7\r\nmessage\r\n\$2\r\nch\r\n\$\d+\r\n(\d):(\d+)\r\n"
                           rb"|\*4\r\n\$8\r\npmessage\r\n\$2\r\nc\*\r\n\$2\r\nch\r\n\$\d+\r\n(\d):(\d+)\r\n")
        for i in range(10):
            data = bytes(received[i])
            assert len(data) == want[i], f"subscriber {i}: {len(data)} of {want[i]} bytes"
            frames = frame.findall(data)
            if i < 3:
                assert len(frames) == 4 * per_publisher
                for a, b in zip(frames[0::2], frames[1::2]):
                    assert a[0] and b[2] and (a[0], a[1]) == (b[2], b[3]), (a, b)
                frames = frames[0::2]
            else:
                assert len(frames) == 2 * per_publisher
                assert all(m[0] for m in frames)
            seqs = {b"0": [], b"1": []}
            for m in frames:
                seqs[m[0]].append(int(m[1]))
            for p in (b"0", b"1"):
                assert seqs[p] == list(range(per_publisher)), f"subscriber {i} publisher {p} out of order"
    finally:
        for c in subs + pubs:
            c.close()
