"""A subscriber run as a separate process by test_faults.py, so that it can be SIGKILLed or
SIGSTOPped. Stand-alone (standard library only); run with `python3 -S`.

usage: fault_subscriber.py PORT CHANNEL MODE [ARG] [RCVBUF]
  MODE slow:   subscribe, print "ready", then read 1 KiB every 5 ms forever.
  MODE record: subscribe (CLIENT SETNAME ARG first), print "ready", read and check every
               message's per-publisher sequence until EOF or until a line arrives on stdin;
               print a JSON summary and exit.
"""
import json
import os
import select
import socket
import sys
import time


def encode(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def main():
    port, channel, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    arg = sys.argv[4] if len(sys.argv) > 4 else ""
    rcvbuf = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    setname = encode("CLIENT", "SETNAME", arg) if mode == "record" and arg else b""
    s.sendall(setname + encode("SUBSCRIBE", channel))
    want = (b"+OK\r\n" if setname else b"") + b"*3\r\n$9\r\nsubscribe\r\n"
    got = b""
    while not got.endswith(b":1\r\n"):
        got += s.recv(4096)
    assert got.startswith(want), got
    print("ready", flush=True)
    if mode == "slow":
        while True:
            if not s.recv(1024):
                return
            time.sleep(0.005)
    # record: parse `*3 $7 message $N channel $N payload` frames
    buf = bytearray()
    pos = 0
    expected = {}
    count, errors, eof, done = 0, [], False, False
    stdin = sys.stdin.fileno()
    while not done:
        ready, _, _ = select.select([s, stdin], [], [], 5)
        if stdin in ready:
            os.read(stdin, 100)
            done = True
            s.settimeout(0.5)  # read what is still in flight until 0.5 s of silence
            try:
                while True:
                    chunk = s.recv(1 << 20)
                    if not chunk:
                        eof = True
                        break
                    buf += chunk
            except socket.timeout:
                pass
            except ConnectionResetError:
                eof = True
        elif s in ready:
            try:
                chunk = s.recv(1 << 20)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                eof = done = True
            buf += chunk
        while True:  # consume complete frames
            at = pos
            if buf[at:at + 4] != b"*3\r\n":
                if len(buf) - at >= 4 and len(errors) < 10:
                    errors.append(f"bad frame start {bytes(buf[at:at + 20])!r}")
                break
            at += 4
            fields = []
            for _ in range(3):
                end = buf.find(b"\r\n", at)
                if end < 0:
                    break
                n = int(buf[at + 1:end])
                if len(buf) < end + 2 + n + 2:
                    break
                fields.append(bytes(buf[end + 2:end + 2 + n]))
                at = end + 2 + n + 2
            if len(fields) < 3:
                break
            pos = at
            name, seq, _ = fields[2].split(b":", 2)
            seq = int(seq)
            want_seq = expected.get(name, 0)
            if seq != want_seq and len(errors) < 10:
                errors.append(f"{name!r}: got {seq}, expected {want_seq}")
            expected[name] = max(want_seq, seq + 1)
            count += 1
        if pos > 1 << 20:
            del buf[:pos]
            pos = 0
    print(json.dumps({"count": count, "errors": errors, "eof": eof,
                      "leftover": len(buf) - pos}), flush=True)


if __name__ == "__main__":
    main()
