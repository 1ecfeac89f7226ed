"""Client faults while messages flow (redis-behaviour.md 3.1): subscribers killed with SIGKILL
mid-stream, a subscriber stopped with SIGSTOP and resumed, connections reset (SO_LINGER 0)
while large messages are queued for them. Each time the server survives, the publisher gets a
reply to every PUBLISH, and fast subscribers receive every message exactly once, in order."""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from hutil import (PONG, Conn, FastSubscriber, Publisher, encode, info_field, reset_close,
                   subscribe_reply, wait_until)

HELPER = Path(__file__).resolve().parent / "fault_subscriber.py"
PYTHON = sys.executable


def spawn_subscribers(port, channel, mode, count, arg="", rcvbuf=0):
    procs = [subprocess.Popen([PYTHON, "-S", str(HELPER), str(port), channel, mode, arg,
                               str(rcvbuf)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in range(count)]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready"
    except BaseException:
        kill_all(procs)
        raise
    return procs


def kill_all(procs):
    for p in procs:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
        p.wait()


def numsub(conn, channel):
    reply = conn.call("PUBSUB", "NUMSUB", channel)
    return int(reply.rsplit(b":", 1)[1][:-2])


def baseline_reached(port, clients, channels):
    with Conn(port) as c:
        def ok():
            return (int(info_field(c, "connected_clients")) == clients + 1 and
                    all(numsub(c, ch) == n for ch, n in channels.items()))
        return wait_until(ok, timeout=5)


def test_subscribers_killed_mid_stream(start):
    # a limit high enough that none of the slow ones is cut before it is killed (the frames
    # are shared between the queues, so this costs far less than 50 x 64 MB)
    server = start(client_output_buffer_limit="pubsub 64mb 0 0")
    procs = spawn_subscribers(server.port, "faults", "slow", 50)
    try:
        fast = FastSubscriber(server.port, channel="faults")
        fast_pattern = FastSubscriber(server.port, pattern="fau*")
        with Conn(server.port) as c:
            assert numsub(c, "faults") == 51
        pub = Publisher(server.port, "faults", size=1024, batch=20, pause=0.002,
                        min_receivers=2, followers=(fast, fast_pattern)).start()
        time.sleep(0.5)
        answered_before_kills = len(pub.replies)
        rng = random.Random(1)
        victims = procs[:]
        rng.shuffle(victims)
        for i in range(0, len(victims), 5):  # five at a time, every 100 ms, mid-stream
            for p in victims[i:i + 5]:
                os.kill(p.pid, signal.SIGKILL)
            time.sleep(0.1)
        time.sleep(0.5)
        sent = pub.stop()
        assert sent > 500
        assert answered_before_kills > 0
        # everyone was still subscribed when the kills began
        assert pub.replies[answered_before_kills - 1] == 52, pub.replies[answered_before_kills - 1]
        assert pub.replies[-1] == 2  # and the killed ones were dropped from the channel
        fast.finish(sent)
        fast_pattern.finish(sent)
    finally:
        kill_all(procs)
    assert server.alive()
    assert baseline_reached(server.port, 0, {"faults": 0}), "killed subscribers were not cleaned up"
    with Conn(server.port) as c:
        assert c.call("PING") == PONG


def _stopped_subscriber_run(server, during_stop, size):
    """Starts a recording subscriber with a 16 KiB receive buffer, SIGSTOPs it, publishes
    `during_stop` messages of `size` bytes, SIGCONTs it; returns (its report, publisher sent,
    largest omem seen for it in CLIENT LIST)."""
    [proc] = spawn_subscribers(server.port, "stopped", "record", 1, arg="recorder", rcvbuf=16384)
    try:
        fast = FastSubscriber(server.port, channel="stopped")
        pub = Publisher(server.port, "stopped", size=size, batch=10, min_receivers=1,
                        followers=(fast,), max_lag_bytes=256 * 1024)
        max_omem = 0
        with Conn(server.port) as observer:
            # a few messages before the stop
            assert pub.publish_now(10) == [2] * 10
            time.sleep(0.2)
            os.kill(proc.pid, signal.SIGSTOP)
            try:
                for i in range(during_stop):
                    pub.publish_now(1)
                    if i % 25 == 0:
                        for line in observer.call("CLIENT", "LIST").split(b"\n"):
                            if b" name=recorder " in line:
                                max_omem = max(max_omem, int(line.split(b" omem=")[1].split()[0]))
                time.sleep(0.3)
            finally:
                os.kill(proc.pid, signal.SIGCONT)
            # and some after the resume, at a pace a reader with a 16 KiB buffer keeps up with
            for _ in range(20):
                pub.publish_now(10)
                time.sleep(0.01)
            sent = pub.stop()
        fast.finish(sent)
        out, _ = proc.communicate("done\n", timeout=20)
        return json.loads(out), sent, max_omem
    finally:
        kill_all([proc])


def test_stopped_subscriber_light_traffic_gets_everything(start):
    """100 KiB published while the subscriber is stopped fit in the socket buffers and the
    output queue: after SIGCONT it receives every message, in order."""
    server = start(client_output_buffer_limit="pubsub 1mb 256kb 60")
    report, sent, _ = _stopped_subscriber_run(server, during_stop=100, size=1024)
    assert report["errors"] == [], report
    assert not report["eof"], "the stopped subscriber was disconnected below the limit"
    assert report["count"] == sent and report["leftover"] == 0, (report, sent)
    assert server.alive()


def test_stopped_subscriber_heavy_traffic_is_cut_at_the_limit(start):
    """10 MB published while it is stopped exceed the 1 MB hard limit plus any socket buffer:
    the subscriber is cut (a prefix of the stream in order, then EOF), its queue never grows
    past the limit plus one message, and the fast subscriber still gets everything."""
    server = start(client_output_buffer_limit="pubsub 1mb 256kb 60")
    report, sent, max_omem = _stopped_subscriber_run(server, during_stop=1280, size=8192)
    assert report["errors"] == [], report
    assert report["eof"], f"the stopped subscriber was not cut: {report}"
    assert 10 <= report["count"] < sent, (report, sent)
    assert max_omem <= 1024 * 1024 + 8192 + 100, f"omem reached {max_omem}"
    assert server.alive()
    assert baseline_reached(server.port, 0, {"stopped": 0})


def test_resets_while_large_messages_are_queued(start):
    """Thirty subscribers with 4 KiB receive buffers fall behind on 64 KiB messages, then reset
    their connections (SO_LINGER 0) one after another mid-frame; four clients that pipelined
    large ECHOs without reading do the same. The publisher and the fast subscribers see
    nothing of it."""
    server = start()
    victims = []
    for _ in range(30):
        v = Conn(server.port, rcvbuf=4096)
        assert v.call("SUBSCRIBE", "rst") == subscribe_reply("subscribe", "rst", 1)
        victims.append(v)
    fast = FastSubscriber(server.port, channel="rst")
    fast_pattern = FastSubscriber(server.port, pattern="rs?")
    pub = Publisher(server.port, "rst", size=64 * 1024, batch=5, pause=0.005,
                    min_receivers=2, followers=(fast, fast_pattern),
                    max_lag_bytes=4 * 1024 * 1024).start()
    echoers = []
    try:
        for _ in range(4):
            e = Conn(server.port, rcvbuf=4096)
            e.send(encode("ECHO", b"e" * 65536) * 64)
            echoers.append(e)
        time.sleep(0.4)
        for i, v in enumerate(victims):
            if i % 2:
                v.sock.recv(1000)  # leave the victim somewhere in the middle of a frame
            reset_close(v.sock)
            time.sleep(0.01)
        for e in echoers:
            reset_close(e.sock)
        time.sleep(0.3)
        sent = pub.stop()
        assert max(pub.replies[:5]) == 32
        fast.finish(sent)
        fast_pattern.finish(sent)
    finally:
        for c in victims + echoers:
            c.close()
    assert server.alive()
    assert baseline_reached(server.port, 0, {"rst": 0})
