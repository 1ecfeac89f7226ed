#!/usr/bin/python3
"""Soak test for backplane-server (not part of CI).

Runs a steady load for --minutes (default 10) against a server it starts (or --port of a
running one): publishers PUBLISH sequenced, timestamped messages at a fixed rate, subscribers
(some with SUBSCRIBE, some with PSUBSCRIBE) check every message, and churn clients connect,
subscribe, read a little and disconnect (some with a reset) all the time.

Every --window seconds (default 60) it prints one row:
  end         the end of the window, minutes:seconds from the start
  published   PUBLISHes answered in that window
  delivered   messages received by the checked subscribers in that window
  lost        messages missing from a subscriber's per-publisher sequence (gaps), for
              subscribers the server did not cut off; the last row also counts the tail
              (messages never received after the publishers stopped and 10 s of draining)
  dup/reord   messages whose sequence number was not the next one expected
  cut         checked subscribers disconnected by the server (counted at the end; a cut
              fails the run unless --allow-cut)
  churn       churn-client cycles (connect, command, disconnect)
  p50/p99/max delivery latency (publisher's send to subscriber's recv) of that window, ms
  rss MB      server RSS at the window's end (/proc when this script started the server,
              else INFO used_memory_rss)
  clients     INFO connected_clients at the window's end (the script's own INFO connection
              included)

Exits 0 when nothing was lost, duplicated or reordered, no checked subscriber was cut off
(unless --allow-cut), and the server stayed up (and, when this script started it, exited 0 on
SIGTERM); 1 otherwise.

usage: /usr/bin/python3 tests/soak/soak.py [--minutes 10] [--port PORT] [--password PW]
       [--server PATH] [--publishers 4] [--subscribers 8] [--pattern-subscribers 3]
       [--churn 4] [--rate 250] [--payload 256] [--window 60] [--allow-cut]
"""
import argparse
import multiprocessing as mp
import os
import random
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DRAIN_SECONDS = 10.0


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def connect(port, password=None, timeout=10.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if password:
        s.sendall(encode("AUTH", password))
        reply = b""
        while not reply.endswith(b"\r\n"):
            reply += s.recv(100)
        if reply != b"+OK\r\n":
            raise RuntimeError(f"AUTH failed: {reply!r}")
    return s


def channel_of(i):
    return f"soak:ch{i}"


def window_of(t0, window, last, now=None):
    now = time.monotonic() if now is None else now
    return min(int((now - t0) / window), last)


# -- publishers ---------------------------------------------------------------------------------
def publisher_worker(cfg, t0, stop, final_counts, final_ready, out):
    """All publishers in one process, one connection each. Every 10 ms each sends its quota of
    PUBLISHes pipelined and reads the replies. Payload: b"P<i>:<seq>:<monotonic ns>:pad"."""
    try:
        conns = [connect(cfg.port, cfg.password) for _ in range(cfg.publishers)]
        seqs = [0] * cfg.publishers
        pad = b"x" * cfg.payload
        tick = 0.01
        quota = [0.0] * cfg.publishers
        stats = {"published": 0, "errors": 0}
        win = 0
        next_tick = time.monotonic()
        while not stop.is_set():
            now = time.monotonic()
            w = window_of(t0, cfg.window, cfg.windows - 1, now)
            if w != win:
                out.put(("pub", win, stats))
                stats = {"published": 0, "errors": 0}
                win = w
            for i, s in enumerate(conns):
                quota[i] += cfg.rate * tick
                n = int(quota[i])
                if not n:
                    continue
                quota[i] -= n
                ch = channel_of(i)
                batch = []
                for _ in range(n):
                    body = b"P%d:%d:%d:" % (i, seqs[i], time.monotonic_ns())
                    body += pad[:max(0, cfg.payload - len(body))]
                    batch.append(encode("PUBLISH", ch, body))
                    seqs[i] += 1
                s.sendall(b"".join(batch))
                got = b""
                while got.count(b"\r\n") < n:
                    chunk = s.recv(65536)
                    if not chunk:
                        raise RuntimeError(f"publisher {i}: connection closed")
                    got += chunk
                for line in got.split(b"\r\n")[:n]:
                    if line[:1] != b":":
                        stats["errors"] += 1
                stats["published"] += n
            next_tick += tick
            delay = next_tick - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_tick = time.monotonic()  # behind: do not try to catch up in a burst
        out.put(("pub", win, stats))
        for i, n in enumerate(seqs):
            final_counts[i] = n
        final_ready.set()
        for s in conns:
            s.close()
    except Exception as error:  # noqa: BLE001 - reported to the main process
        out.put(("error", "publisher", repr(error)))
        final_ready.set()


# -- checked subscribers ------------------------------------------------------------------------
class Checked:
    """One subscriber connection: incremental frame parser plus per-publisher sequence check."""

    def __init__(self, sock, pattern):
        self.sock = sock
        self.pattern = pattern
        self.buf = bytearray()
        self.pos = 0
        self.next = {}
        self.cut = False

    def frames(self):
        buf = self.buf
        while True:
            at = self.pos
            if len(buf) - at < 4:
                return
            if buf[at] != 0x2A:  # '*'
                raise RuntimeError(f"unexpected reply {bytes(buf[at:at + 40])!r}")
            end = buf.find(b"\r\n", at)
            if end < 0:
                return
            count = int(buf[at + 1:end])
            at = end + 2
            fields = []
            for _ in range(count):
                end = buf.find(b"\r\n", at)
                if end < 0:
                    return
                if buf[at] == 0x3A:  # ':' (subscribe confirmations)
                    fields.append(bytes(buf[at + 1:end]))
                    at = end + 2
                    continue
                n = int(buf[at + 1:end])
                if len(buf) < end + 2 + n + 2:
                    return
                fields.append(bytes(buf[end + 2:end + 2 + n]))
                at = end + 2 + n + 2
            self.pos = at
            if self.pos > 1 << 20:
                del buf[:self.pos]
                self.pos = 0
            yield fields


def subscriber_worker(cfg, index, shared_t0, started, final_counts, final_ready, out):
    """A share of the checked subscribers, multiplexed with selectors."""
    try:
        sel = selectors.DefaultSelector()
        subs = []
        channels = [channel_of(i) for i in range(cfg.publishers)]
        for k in range(cfg.subscribers):
            if k % cfg.sub_procs != index:
                continue
            s = connect(cfg.port, cfg.password)
            pattern = k < cfg.pattern_subscribers
            if pattern:
                s.sendall(encode("PSUBSCRIBE", "soak:ch*"))
                want = 1
            else:
                s.sendall(encode("SUBSCRIBE", *channels))
                want = len(channels)
            sub = Checked(s, pattern)
            got = 0
            while got < want:  # the confirmations
                sub.buf += s.recv(65536)
                got += sum(1 for _ in sub.frames())
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, sub)
            subs.append(sub)
        out.put(("ready", index))
        started.wait()
        t0 = shared_t0.value  # windows count from when the publishers start

        def fresh():
            return {"delivered": 0, "lost": 0, "dup": 0, "lat": array("I")}

        stats = fresh()
        win = 0
        drain_deadline = None
        while True:
            now = time.monotonic()
            w = window_of(t0, cfg.window, cfg.windows - 1, now)
            if w != win:
                out.put(("sub", win, stats))
                stats, win = fresh(), w
            if final_ready.is_set():
                if drain_deadline is None:
                    drain_deadline = now + DRAIN_SECONDS
                finals = list(final_counts)
                done = all(sub.cut or all(sub.next.get(b"P%d" % i, 0) >= finals[i]
                                          for i in range(cfg.publishers)) for sub in subs)
                if done or now > drain_deadline:
                    break
            for key, _ in sel.select(0.2):
                sub = key.data
                try:
                    chunk = sub.sock.recv(1 << 20)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    chunk = b""
                received = time.monotonic_ns()
                if not chunk:
                    sub.cut = True
                    sel.unregister(sub.sock)
                    continue
                sub.buf += chunk
                lat = stats["lat"]
                for fields in sub.frames():
                    payload = fields[-1]
                    name, seq, sent, _ = payload.split(b":", 3)
                    seq = int(seq)
                    expected = sub.next.get(name, 0)
                    if seq > expected:
                        stats["lost"] += seq - expected
                    elif seq < expected:
                        stats["dup"] += 1
                    sub.next[name] = max(expected, seq + 1)
                    stats["delivered"] += 1
                    lat.append(min(max(0, (received - int(sent)) // 1000), 0xFFFFFFFF))
        finals = list(final_counts)
        tail = 0
        for sub in subs:
            if sub.cut:
                continue
            for i in range(cfg.publishers):
                tail += max(0, finals[i] - sub.next.get(b"P%d" % i, 0))
        stats["lost"] += tail
        out.put(("sub", win, stats))
        out.put(("subfinal", index, {"cut": sum(s.cut for s in subs), "tail": tail,
                                     "checked": len(subs)}))
        for sub in subs:
            sub.sock.close()
    except Exception as error:  # noqa: BLE001
        out.put(("error", f"subscriber worker {index}", repr(error)))


# -- churn --------------------------------------------------------------------------------------
def churn_worker(cfg, t0, stop, out):
    """cfg.churn clients in turn: connect, SUBSCRIBE / PSUBSCRIBE a live channel or PUBLISH to
    an unwatched one, read a little, disconnect with FIN or RST."""
    rng = random.Random(os.getpid())
    stats = {"cycles": 0, "errors": 0}
    win = 0
    linger = struct.pack("ii", 1, 0)
    try:
        while not stop.is_set():
            now = time.monotonic()
            w = window_of(t0, cfg.window, cfg.windows - 1, now)
            if w != win:
                out.put(("churn", win, stats))
                stats, win = {"cycles": 0, "errors": 0}, w
            socks = []
            for _ in range(cfg.churn):
                try:
                    s = connect(cfg.port, cfg.password, timeout=5)
                except OSError:
                    stats["errors"] += 1
                    continue
                kind = rng.randrange(3)
                if kind == 0:
                    s.sendall(encode("SUBSCRIBE", channel_of(rng.randrange(cfg.publishers))))
                elif kind == 1:
                    s.sendall(encode("PSUBSCRIBE", "soak:*"))
                else:
                    s.sendall(encode("PUBLISH", "soak:unwatched", "x" * 64) + encode("PING"))
                socks.append(s)
            time.sleep(rng.uniform(0.005, 0.05))
            for s in socks:
                try:
                    s.settimeout(1)
                    if not s.recv(65536):
                        stats["errors"] += 1  # closed by the server
                except OSError:
                    stats["errors"] += 1
                if rng.random() < 0.3:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                s.close()
                stats["cycles"] += 1
        out.put(("churn", win, stats))
    except Exception as error:  # noqa: BLE001
        out.put(("error", "churn", repr(error)))


# -- main ---------------------------------------------------------------------------------------
def info(port, password):
    try:
        s = connect(port, password, timeout=5)
    except OSError:
        return {}
    try:
        s.sendall(encode("INFO"))
        data = b""
        while True:
            if data.startswith(b"$") and b"\r\n" in data:
                n = int(data[1:data.index(b"\r\n")])
                if len(data) >= data.index(b"\r\n") + 2 + n + 2:
                    break
            chunk = s.recv(65536)
            if not chunk:
                return {}
            data += chunk
        fields = {}
        for line in data.decode(errors="replace").split("\r\n"):
            if ":" in line:
                k, v = line.split(":", 1)
                fields[k] = v
        return fields
    finally:
        s.close()


def rss_mb(pid, port, password):
    if pid:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return float("nan")
    fields = info(port, password)
    return int(fields.get("used_memory_rss", 0)) / 1024 / 1024


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(p * len(sorted_values)))]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(path, password):
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="soak-backplane-", suffix=".log", delete=False)
    argv = [path, "--port", str(port), "--bind", "127.0.0.1"]
    if password:
        argv += ["--requirepass", password]
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}, log {log.name}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port, log.name
        except OSError:
            time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    raise SystemExit("server did not start")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--window", type=float, default=60.0, help="seconds per report row")
    ap.add_argument("--port", type=int, help="use a running server instead of starting one")
    ap.add_argument("--password")
    ap.add_argument("--server", default=os.environ.get(
        "BACKPLANE_SERVER", str(ROOT / "build" / "server" / "backplane-server")))
    ap.add_argument("--publishers", type=int, default=4)
    ap.add_argument("--subscribers", type=int, default=8, help="checked subscribers")
    ap.add_argument("--pattern-subscribers", type=int, default=3,
                    help="how many of the checked subscribers use PSUBSCRIBE")
    ap.add_argument("--sub-procs", type=int, default=2, help="processes for the subscribers")
    ap.add_argument("--churn", type=int, default=4, help="churn clients at a time")
    ap.add_argument("--rate", type=float, default=250.0, help="messages/s per publisher")
    ap.add_argument("--payload", type=int, default=256, help="message size in bytes")
    ap.add_argument("--allow-cut", action="store_true",
                    help="do not fail when the server disconnects a checked subscriber")
    cfg = ap.parse_args()
    cfg.windows = max(1, round(cfg.minutes * 60 / cfg.window))
    duration = cfg.minutes * 60

    proc = None
    log_name = None
    if cfg.port is None:
        proc, cfg.port, log_name = start_server(cfg.server, cfg.password)
        print(f"started {cfg.server} pid {proc.pid} on port {cfg.port} (log {log_name})")
    pid = proc.pid if proc else None
    print(f"{cfg.publishers} publishers x {cfg.rate:g} msg/s x {cfg.payload} B, "
          f"{cfg.subscribers} checked subscribers ({cfg.pattern_subscribers} PSUBSCRIBE), "
          f"{cfg.churn} churn clients, {cfg.minutes:g} min", flush=True)

    ctx = mp.get_context("fork")
    out = ctx.Queue()
    stop = ctx.Event()
    final_ready = ctx.Event()
    final_counts = ctx.Array("q", cfg.publishers)
    shared_t0 = ctx.Value("d", 0.0)
    started = ctx.Event()
    subs = [ctx.Process(target=subscriber_worker,
                        args=(cfg, i, shared_t0, started, final_counts, final_ready, out),
                        daemon=True)
            for i in range(cfg.sub_procs)]
    for p in subs:
        p.start()
    errors = []
    ready = 0
    while ready < cfg.sub_procs:
        msg = out.get(timeout=30)
        if msg[0] == "ready":
            ready += 1
        elif msg[0] == "error":
            errors.append(msg[1:])
            break
    if errors:
        print("ERROR:", *errors[0])
        return 1
    t0 = shared_t0.value = time.monotonic()  # windows count from when the publishers start
    started.set()
    pub = ctx.Process(target=publisher_worker,
                      args=(cfg, t0, stop, final_counts, final_ready, out), daemon=True)
    churn = ctx.Process(target=churn_worker, args=(cfg, t0, stop, out), daemon=True)
    pub.start()
    churn.start()

    header = (f"{'end':>6} {'published':>10} {'delivered':>10} {'lost':>6} {'dup/reord':>9} "
              f"{'cut':>4} {'churn':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
              f"{'rss MB':>7} {'clients':>7}")
    print(header)
    print("-" * len(header), flush=True)
    rows = {w: {"pub": None, "sub": [], "churn": None} for w in range(cfg.windows)}
    finals = []
    totals = {"published": 0, "delivered": 0, "lost": 0, "dup": 0, "pub_errors": 0,
              "churn": 0, "churn_errors": 0}
    printed = 0
    samples = {}  # window -> (RSS MB, connected_clients) read when the window ended
    end_at = t0 + duration
    hard_deadline = end_at + DRAIN_SECONDS + 30

    def complete(w):
        r = rows[w]
        return r["pub"] is not None and r["churn"] is not None and len(r["sub"]) == cfg.sub_procs

    def print_row(w):
        r = rows[w]
        lat = array("I")
        delivered = lost = dup = 0
        for s in r["sub"]:
            lat.extend(s["lat"])
            delivered += s["delivered"]
            lost += s["lost"]
            dup += s["dup"]
        lat = sorted(lat)
        rss, clients = samples.get(w, (float("nan"), "?"))
        cut = sum(f["cut"] for f in finals)
        totals["published"] += r["pub"]["published"]
        totals["pub_errors"] += r["pub"]["errors"]
        totals["delivered"] += delivered
        totals["lost"] += lost
        totals["dup"] += dup
        totals["churn"] += r["churn"]["cycles"]
        totals["churn_errors"] += r["churn"]["errors"]
        end = (w + 1) * cfg.window
        label = f"{int(end // 60)}:{int(end % 60):02d}"
        print(f"{label:>6} {r['pub']['published']:>10} {delivered:>10} {lost:>6} {dup:>9} "
              f"{cut if w == cfg.windows - 1 else '-':>4} {r['churn']['cycles']:>7} "
              f"{percentile(lat, 0.5) / 1000:>8.2f} {percentile(lat, 0.99) / 1000:>8.2f} "
              f"{(lat[-1] if lat else float('nan')) / 1000:>8.2f} "
              f"{rss:>7.1f} {clients:>7}", flush=True)

    while printed < cfg.windows and time.monotonic() < hard_deadline:
        now = time.monotonic()
        sampled = len(samples)
        if sampled < cfg.windows and now >= t0 + (sampled + 1) * cfg.window - 0.5:
            samples[sampled] = (rss_mb(pid, cfg.port, cfg.password),
                                info(cfg.port, cfg.password).get("connected_clients", "?"))
        if now >= end_at and not stop.is_set():
            stop.set()
        if proc and proc.poll() is not None:
            errors.append(("server", f"exited with {proc.returncode}"))
            break
        try:
            msg = out.get(timeout=0.5)
        except Exception:  # noqa: BLE001 - queue.Empty
            continue
        kind = msg[0]
        if kind == "error":
            errors.append(msg[1:])
            print(f"ERROR in {msg[1]}: {msg[2]}", flush=True)
            stop.set()
            break
        if kind == "subfinal":
            finals.append(msg[2])
        elif kind == "pub":
            rows[msg[1]]["pub"] = msg[2]
        elif kind == "churn":
            rows[msg[1]]["churn"] = msg[2]
        elif kind == "sub":
            rows[msg[1]]["sub"].append(msg[2])
        while printed < cfg.windows and complete(printed) and (
                printed < cfg.windows - 1 or len(finals) == cfg.sub_procs):
            print_row(printed)
            printed += 1
    stop.set()
    final_ready.set()  # (after an error) let the subscriber workers finish at once
    # keep reading the queue meanwhile: a worker cannot exit with unread items in it
    join_deadline = time.monotonic() + DRAIN_SECONDS + 5
    while any(p.is_alive() for p in [pub, churn] + subs) and time.monotonic() < join_deadline:
        try:
            out.get(timeout=0.1)
        except Exception:  # noqa: BLE001 - queue.Empty
            pass
    for p in [pub, churn] + subs:
        p.join(0.1)
        if p.is_alive():
            errors.append((p.name, "did not finish"))
            os.kill(p.pid, signal.SIGKILL)
            p.join()
        elif p.exitcode != 0:
            errors.append((p.name, f"exit code {p.exitcode}"))
    if printed < cfg.windows:
        errors.append(("report", f"only {printed} of {cfg.windows} windows complete"))

    checked = sum(f["checked"] for f in finals)
    cut = sum(f["cut"] for f in finals)
    print("-" * len(header))
    print(f"total: published {totals['published']}, delivered {totals['delivered']} "
          f"(expected {totals['published'] * checked} for {checked} subscribers, {cut} cut off), "
          f"lost {totals['lost']} (tail {sum(f['tail'] for f in finals)}), "
          f"dup/reordered {totals['dup']}, publish errors {totals['pub_errors']}, "
          f"churn cycles {totals['churn']} ({totals['churn_errors']} errors)")
    failed = bool(errors) or totals["lost"] or totals["dup"] or totals["pub_errors"]
    if cut and not cfg.allow_cut:
        failed = True
        print(f"{cut} checked subscribers were disconnected by the server (see --allow-cut)")
    if cut == 0 and totals["delivered"] != totals["published"] * checked:
        failed = True
        print("delivered count does not match published x subscribers")
    if proc:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                code = proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                code = proc.wait()
        else:
            code = proc.returncode
        print(f"server exit code {code}")
        if code != 0:
            failed = True
            print(Path(log_name).read_text(errors="replace")[-3000:])
        else:
            os.unlink(log_name)
    for e in errors:
        print("error:", *e)
    print("FAIL" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
