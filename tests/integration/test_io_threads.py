"""io-threads: the setting itself, and pub/sub across several event loops.

With io-threads 4 the clients of one test are spread over four loops (each new client goes to
the loop with the fewest), so publishers and subscribers below sit on different threads.
"""
import os
import re
import subprocess
import threading

import pytest

from itest_util import AGAINST_REDIS, Client, encode, free_port, server_argv

IMMUTABLE = (b"-ERR CONFIG SET failed (possibly related to argument 'io-threads') - can't set "
             b"immutable config\r\n")


def config_pair(name, value):
    return b"*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(name), name, len(value), value)


OVERRIDDEN = pytest.mark.skipif("io-threads" in os.environ.get("BACKPLANE_EXTRA_ARGS", ""),
                                reason="BACKPLANE_EXTRA_ARGS overrides the default and the file")


@OVERRIDDEN
def test_default_is_one_thread(start):
    server = start()
    with Client(server.port) as c:
        assert c.call("CONFIG", "GET", "io-threads") == config_pair(b"io-threads", b"1")
        assert c.call("CONFIG", "GET", "io-threads-do-reads") == \
            config_pair(b"io-threads-do-reads", b"no")


def test_flag_sets_it_and_config_set_refuses(start):
    server = start(io_threads=4, io_threads_do_reads="yes")
    with Client(server.port) as c:
        assert c.call("CONFIG", "GET", "io-threads") == config_pair(b"io-threads", b"4")
        assert c.call("CONFIG", "GET", "io-threads-do-reads") == \
            config_pair(b"io-threads-do-reads", b"yes")
        assert c.call("CONFIG", "SET", "io-threads", "2") == IMMUTABLE
        assert c.call("CONFIG", "GET", "io-threads") == config_pair(b"io-threads", b"4")


@OVERRIDDEN
def test_config_file_sets_it(start, tmp_path):
    conf = tmp_path / "threads.conf"
    conf.write_text("io-threads 2\nio-threads-do-reads no\n")
    server = start(conf)
    with Client(server.port) as c:
        assert c.call("CONFIG", "GET", "io-threads") == config_pair(b"io-threads", b"2")


@pytest.mark.parametrize("value", ["0", "129", "two"])
def test_out_of_range_fails_startup(value):
    argv = server_argv(port=free_port(), io_threads=value)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "FATAL CONFIG FILE ERROR" in output
    expected = ("argument couldn't be parsed into an integer" if value == "two"
                else "argument must be between 1 and 128 inclusive")
    assert expected in output, output


def read_messages(client, channel, count, timeout=20.0):
    """`count` RESP2 `message` pushes on `channel`; returns their payloads in arrival order."""
    head = b"*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n" % (len(channel), channel)
    payloads = []
    for _ in range(count):
        assert client.read_exact(len(head), timeout) == head
        length = client.read_line(timeout)
        assert length.startswith(b"$")
        payloads.append(client.read_exact(int(length[1:]) + 2, timeout)[:-2])
    return payloads


def test_publishers_and_subscribers_on_different_loops(start):
    """Every message reaches every subscriber exactly once, in each publisher's order, and every
    PUBLISH counts exactly the receivers, while four publishers publish at once."""
    server = start(io_threads=4)
    publishers, subscribers, per_publisher = 4, 8, 400
    subs = [Client(server.port) for _ in range(subscribers)]
    pattern_subs = [Client(server.port) for _ in range(2)]
    pubs = [Client(server.port) for _ in range(publishers)]
    try:
        for s in subs:
            assert s.call("SUBSCRIBE", "fan") == b"*3\r\n$9\r\nsubscribe\r\n$3\r\nfan\r\n:1\r\n"
        for s in pattern_subs:
            assert s.call("PSUBSCRIBE", "f*") == b"*3\r\n$10\r\npsubscribe\r\n$2\r\nf*\r\n:1\r\n"
        with Client(server.port) as admin:
            assert admin.call("PUBSUB", "NUMSUB", "fan") == b"*2\r\n$3\r\nfan\r\n:8\r\n"
            assert admin.call("PUBSUB", "NUMPAT") == b":1\r\n"  # distinct patterns
            assert admin.call("PUBSUB", "CHANNELS") == b"*1\r\n$3\r\nfan\r\n"

        counts = [None] * publishers

        def publish(index):
            client = pubs[index]
            batch = b"".join(encode("PUBLISH", "fan", f"p{index}:{seq}")
                             for seq in range(per_publisher))
            client.send(batch)
            counts[index] = client.read_exact(len(b":10\r\n") * per_publisher, 30.0)

        threads = [threading.Thread(target=publish, args=(i,)) for i in range(publishers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for received in counts:
            assert received == b":10\r\n" * per_publisher

        total = publishers * per_publisher
        for s in subs:
            payloads = read_messages(s, b"fan", total)
            check_order_and_completeness(payloads, publishers, per_publisher)
        head = b"*4\r\n$8\r\npmessage\r\n$2\r\nf*\r\n$3\r\nfan\r\n"
        for s in pattern_subs:
            payloads = []
            for _ in range(total):
                assert s.read_exact(len(head), 20.0) == head
                length = s.read_line(20.0)
                payloads.append(s.read_exact(int(length[1:]) + 2, 20.0)[:-2])
            check_order_and_completeness(payloads, publishers, per_publisher)
    finally:
        for c in subs + pattern_subs + pubs:
            c.close()


def check_order_and_completeness(payloads, publishers, per_publisher):
    seen = {i: [] for i in range(publishers)}
    for payload in payloads:
        match = re.fullmatch(rb"p(\d+):(\d+)", payload)
        assert match, payload
        seen[int(match.group(1))].append(int(match.group(2)))
    for sequence in seen.values():
        assert sequence == list(range(per_publisher))


def test_kill_from_another_loop_updates_counts_at_once(start):
    server = start(io_threads=4)
    with Client(server.port) as a, Client(server.port) as b, Client(server.port) as admin, \
            Client(server.port) as pub:
        # A killed client is out of the registry before CLIENT KILL replies, whichever loop
        # serves it; its own loop closes the socket right after.
        for c in (a, b):
            assert c.call("SUBSCRIBE", "k") == b"*3\r\n$9\r\nsubscribe\r\n$1\r\nk\r\n:1\r\n"
        assert pub.call("PUBLISH", "k", "x") == b":2\r\n"
        listed = admin.call("CLIENT", "LIST")
        ids = re.findall(rb"id=(\d+) [^\n]*sub=1", listed)
        assert len(ids) == 2
        assert admin.call("CLIENT", "KILL", "ID", ids[0].decode()) == b":1\r\n"
        assert pub.call("PUBLISH", "k", "y") == b":1\r\n"
        assert admin.call("PUBSUB", "NUMSUB", "k") == b"*2\r\n$1\r\nk\r\n:1\r\n"


@pytest.mark.skipif(AGAINST_REDIS, reason="Redis keeps one thread for commands either way")
def test_many_clients_connect_and_leave_while_publishing(start):
    """Clients spread over the loops come and go while messages flow; the server stays up and
    the counts end where they should."""
    server = start(io_threads=3)
    stop = threading.Event()
    errors = []

    def churn():
        try:
            while not stop.is_set():
                with Client(server.port) as c:
                    c.call("SUBSCRIBE", "churn")
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    workers = [threading.Thread(target=churn) for _ in range(3)]
    for w in workers:
        w.start()
    with Client(server.port) as stay, Client(server.port) as pub:
        assert stay.call("SUBSCRIBE", "churn") == b"*3\r\n$9\r\nsubscribe\r\n$5\r\nchurn\r\n:1\r\n"
        for i in range(300):
            reply = pub.call("PUBLISH", "churn", str(i))
            assert re.fullmatch(rb":[1-9][0-9]*\r\n", reply), reply
        stop.set()
        for w in workers:
            w.join()
        assert not errors
        assert read_messages(stay, b"churn", 300) == [str(i).encode() for i in range(300)]
        for _ in range(100):
            if pub.call("PUBSUB", "NUMSUB", "churn") == b"*2\r\n$5\r\nchurn\r\n:1\r\n":
                break
        assert pub.call("PUBSUB", "NUMSUB", "churn") == b"*2\r\n$5\r\nchurn\r\n:1\r\n"
    assert server.alive()
