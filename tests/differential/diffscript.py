"""Differential scripts: parse them, run them against a server, compare transcripts.

A script file (tests/differential/scripts/*.txt) holds one or more scripts. Each starts with a
header line `=== <name>`; blank lines and lines starting with `#` are ignored. Every other line
is one step:

    config: requirepass s3cret        directive for BOTH servers (before the first step)
    a: PING                           send `PING` as a RESP multibulk on connection `a`,
                                      read 1 reply
    a*3: SUBSCRIBE x y z              same, but read 3 replies
    a raw: "PING\\r\\n"               send raw bytes, read 1 reply
    a raw*0: "\\r\\n"                 send raw bytes, read no reply
    a read*2:                         read 2 replies without sending (e.g. pushed messages)
    a drain:                          read whatever arrives until 150 ms of silence
    a shutdown:                       half-close (SHUT_WR) connection `a`
    a close:                          close connection `a`
    sleep: 0.1                        pause the script
    a mask=id: CLIENT ID              apply a mask to the replies of this step (see MASKS)
    a capture=aid: CLIENT ID          store the integer reply as ${aid} (and mask it)

Connections are named by a lowercase word and opened on first use. Arguments are separated by
blanks; `"..."` is a quoted piece with Python escapes (\\r \\n \\x00 \\" \\\\), `"ab"*300` repeats a
quoted piece, adjacent pieces concatenate (`"FOO""x"*300`). Bare words are literal, except
that `${var}` is replaced by a captured value; `${a.addr}` is the local address of connection
`a` as the server sees it (127.0.0.1:port) and `${a.laddr}` the server's address.

After the last step every connection is drained together until 150 ms of silence, and the
transcript records the bytes left and whether the server closed each connection.

MASKS (the documented exceptions, nothing else):
    id      an integer reply `:<n>` (CLIENT ID, COMMAND COUNT) and the value that follows an
            `id` field in an array (HELLO)
    bulk    the contents (and length) of every bulk string: INFO, CLIENT LIST/INFO, TIME
    type    only the first byte of the reply (its type): COMMAND output
    port    the server's own TCP port number inside the reply is replaced by <PORT>: a harness
            artefact, the two servers listen on different ports
    help    only the first line and the closing HELP entry of a HELP reply: CLIENT HELP and
            CONFIG HELP list the subcommands each server implements
"""
import codecs
import re
import select
import socket
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"
READ_TIMEOUT = 3.0
SILENCE = 0.15
MASKS = {"id", "bulk", "type", "port", "help"}


class ScriptError(Exception):
    pass


@dataclass
class Step:
    line: str          # the source line, for messages
    lineno: int
    kind: str          # send, raw, read, drain, shutdown, close, sleep
    conn: str = ""
    count: int = 1
    payload: list = field(default_factory=list)  # pieces: bytes or ("var", name)
    masks: tuple = ()
    capture: str = ""
    seconds: float = 0.0


@dataclass
class Script:
    name: str
    path: Path
    lineno: int
    config: dict = field(default_factory=dict)
    steps: list = field(default_factory=list)

    @property
    def where(self):
        return f"{self.path.name}:{self.lineno}"


# ---------------------------------------------------------------------------------------------
# Parsing

_TOKEN = re.compile(r'\s*((?:"(?:[^"\\]|\\.)*"(?:\*\d+)?)+|[^\s"]+)')
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"(?:\*(\d+))?')
_VAR = re.compile(r"\$\{([A-Za-z0-9_.]+)\}")


def _unescape(text):
    return codecs.escape_decode(text.encode("latin-1"))[0]


def tokenize(text, lineno):
    """Splits a step's argument text into tokens; each token is a list of pieces."""
    tokens = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            if text[pos:].strip() == "":
                break
            raise ScriptError(f"line {lineno}: cannot parse arguments at {text[pos:]!r}")
        tok = m.group(1)
        pos = m.end()
        pieces = []
        if tok.startswith('"'):
            for q in _QUOTED.finditer(tok):
                piece = _unescape(q.group(1))
                pieces.append(piece * int(q.group(2)) if q.group(2) else piece)
        else:
            last = 0
            for v in _VAR.finditer(tok):
                if v.start() > last:
                    pieces.append(tok[last:v.start()].encode())
                pieces.append(("var", v.group(1)))
                last = v.end()
            if last < len(tok):
                pieces.append(tok[last:].encode())
        tokens.append(pieces)
    return tokens


def _split_count(word, lineno):
    m = re.fullmatch(r"([a-z][a-z0-9_]*|)(?:\*(\d+))?", word)
    if not m:
        raise ScriptError(f"line {lineno}: bad step prefix word {word!r}")
    return m.group(1), (int(m.group(2)) if m.group(2) is not None else None)


def parse_step(line, lineno):
    prefix, sep, rest = line.partition(":")
    if not sep:
        raise ScriptError(f"line {lineno}: a step needs 'prefix: arguments': {line!r}")
    words = prefix.split()
    if not words:
        raise ScriptError(f"line {lineno}: empty step prefix")
    if words[0] == "sleep":
        return Step(line, lineno, "sleep", seconds=float(rest.strip()))
    conn, count = _split_count(words[0], lineno)
    kind, masks, capture = "send", [], ""
    for word in words[1:]:
        if word.startswith("mask="):
            masks += word[5:].split(",")
        elif word.startswith("capture="):
            capture = word[8:]
        else:
            op, c = _split_count(word, lineno)
            if op not in ("raw", "read", "drain", "shutdown", "close"):
                raise ScriptError(f"line {lineno}: unknown operation {op!r}")
            kind = op
            if c is not None:
                count = c
    for m in masks:
        if m not in MASKS:
            raise ScriptError(f"line {lineno}: unknown mask {m!r}")
    step = Step(line, lineno, kind, conn=conn, count=1 if count is None else count,
                masks=tuple(masks), capture=capture)
    tokens = tokenize(rest, lineno)
    if kind == "send":
        if not tokens:
            raise ScriptError(f"line {lineno}: nothing to send")
        step.payload = tokens
    elif kind == "raw":
        step.payload = [piece for tok in tokens for piece in tok]
        if not step.payload:
            raise ScriptError(f"line {lineno}: nothing to send")
    elif tokens:
        raise ScriptError(f"line {lineno}: {kind} takes no arguments")
    if kind in ("drain", "shutdown", "close") and count is None:
        step.count = 0
    return step


def parse_file(path):
    scripts = []
    current = None
    for lineno, raw_line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("==="):
            name = line[3:].strip()
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
                raise ScriptError(f"{path}:{lineno}: bad script name {name!r}")
            current = Script(name, Path(path), lineno)
            scripts.append(current)
            continue
        if current is None:
            raise ScriptError(f"{path}:{lineno}: step before the first '=== name' header")
        if line.startswith("config:"):
            if current.steps:
                raise ScriptError(f"{path}:{lineno}: config after the first step")
            key, _, value = line[7:].strip().partition(" ")
            current.config[key] = value.strip()
            continue
        try:
            current.steps.append(parse_step(line, lineno))
        except ScriptError as e:
            raise ScriptError(f"{path}: {e}") from None
    for s in scripts:
        if not s.steps:
            raise ScriptError(f"{s.where}: script {s.name} has no steps")
    return scripts


def load_scripts(directory=SCRIPTS_DIR):
    scripts = []
    seen = {}
    for path in sorted(Path(directory).glob("*.txt")):
        for s in parse_file(path):
            if s.name in seen:
                raise ScriptError(f"duplicate script name {s.name} ({seen[s.name]} and {s.where})")
            seen[s.name] = s.where
            scripts.append(s)
    return scripts


# ---------------------------------------------------------------------------------------------
# RESP parsing and masking

class Incomplete(Exception):
    pass


def parse_reply(buf, pos=0):
    """Parses one RESP2/3 reply at buf[pos:]; returns (node, end). Raises Incomplete."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete
    kind = buf[pos:pos + 1]
    head = buf[pos + 1:end]
    nxt = end + 2
    if kind in (b"$", b"=", b"!"):
        n = int(head)
        if n < 0:
            return (kind, None, buf[pos:nxt]), nxt
        if len(buf) < nxt + n + 2:
            raise Incomplete
        return (kind, buf[nxt:nxt + n], buf[pos:nxt + n + 2]), nxt + n + 2
    if kind in (b"*", b">", b"~", b"%", b"|"):
        n = int(head)
        if kind in (b"%", b"|") and n > 0:
            n *= 2
        children = []
        for _ in range(max(n, 0)):
            child, nxt = parse_reply(buf, nxt)
            children.append(child)
        return (kind, children, buf[pos:nxt]), nxt
    return (kind, head, buf[pos:nxt]), nxt


def _render(node, masks, port, top=True):
    kind, value, raw = node
    if kind in (b"*", b">", b"~", b"%", b"|") and value is not None:
        out = [kind + str(len(value) // (2 if kind in (b"%", b"|") else 1)).encode() + b"\r\n"]
        mask_next = False
        for child in value:
            if mask_next and "id" in masks and child[0] == b":":
                out.append(b":<id>\r\n")
            else:
                out.append(_render(child, masks, port, top=False))
            mask_next = child[0] == b"$" and child[1] == b"id"
        return b"".join(out)
    if kind == b":" and "id" in masks and top:
        return b":<id>\r\n"
    if kind in (b"$", b"=") and value is not None and "bulk" in masks:
        return b"$<bulk>\r\n"
    if "port" in masks and port:
        return raw.replace(str(port).encode(), b"<PORT>")
    return raw


def mask_reply(raw, masks, port=None):
    if not masks:
        return raw
    node, _ = parse_reply(raw)
    if "type" in masks:
        return raw[:1] + b"<masked>"
    if "help" in masks:
        # HELP lists the subcommands each server has: keep the first line and the closing
        # HELP entry, which every Redis HELP reply shares.
        kind, children, _ = node
        return kind + b"<help>" + children[0][2] + b"".join(child[2] for child in children[-2:])
    return _render(node, masks, port)


# ---------------------------------------------------------------------------------------------
# Running

class Conn:
    def __init__(self, port, wrap=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if wrap is not None:
            self.sock = wrap(self.sock)
        self.buf = b""
        self.eof = False
        self.closed_by_us = False
        self.desynced = False

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server already closed; the reads will show it

    def _fill(self, timeout):
        if self.eof:
            return False
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(1 << 20)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_reply(self, timeout=READ_TIMEOUT):
        """One reply's raw bytes, or a marker string on EOF/timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                _, end = parse_reply(self.buf)
                raw, self.buf = self.buf[:end], self.buf[end:]
                return raw
            except Incomplete:
                pass
            except ValueError:
                raw, self.buf = self.buf, b""
                self.desynced = True
                return ("<UNPARSABLE>", raw)
            left = deadline - time.monotonic()
            if left <= 0:
                self.desynced = True
                return ("<TIMEOUT>", self.buf)
            try:
                if not self._fill(left):
                    raw, self.buf = self.buf, b""
                    return ("<EOF>", raw)
            except socket.timeout:
                continue


def drain(conns, silence=SILENCE, limit=3.0):
    """Reads all connections until each is closed or `silence` passes with no data."""
    out = {name: b"" for name in conns}
    for name, c in conns.items():
        out[name], c.buf = c.buf, b""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        live = {c.sock: name for name, c in conns.items() if not c.eof and not c.closed_by_us}
        if not live:
            break
        ready, _, _ = select.select(list(live), [], [], silence)
        if not ready:
            break
        for sock in ready:
            name = live[sock]
            try:
                sock.setblocking(False)
                chunk = sock.recv(1 << 20)
            except (BlockingIOError, ssl.SSLWantReadError):  # no data yet (or half a TLS record)
                continue
            except ConnectionResetError:
                chunk = b""
            finally:
                sock.setblocking(True)
            if chunk:
                out[name] += chunk
            else:
                conns[name].eof = True
    return out


def _expand(pieces, vars_):
    data = b""
    for p in pieces:
        if isinstance(p, tuple):
            if p[1] not in vars_:
                raise ScriptError(f"unknown variable ${{{p[1]}}}")
            data += str(vars_[p[1]]).encode()
        else:
            data += p
    return data


def encode_command(args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def run_script(script, port, wrap=None):
    """Runs `script` against the server on `port`; returns the transcript (a list of entries).
    `wrap`, when given, turns each new socket into another (a TLS one)."""
    conns = {}
    vars_ = {}
    transcript = []

    def conn(name):
        if name not in conns:
            conns[name] = Conn(port, wrap)
            local = conns[name].sock.getsockname()
            vars_[f"{name}.addr"] = f"{local[0]}:{local[1]}"
            vars_[f"{name}.laddr"] = f"127.0.0.1:{port}"
        return conns[name]

    try:
        for step in script.steps:
            if step.kind == "sleep":
                time.sleep(step.seconds)
                continue
            c = conn(step.conn)
            if step.kind == "send":
                c.send(encode_command([_expand(tok, vars_) for tok in step.payload]))
            elif step.kind == "raw":
                c.send(_expand(step.payload, vars_))
            elif step.kind == "shutdown":
                try:
                    c.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
            elif step.kind == "close":
                c.sock.close()
                c.closed_by_us = True
                continue
            elif step.kind == "drain":
                data = drain({step.conn: c})[step.conn]
                transcript.append((step.lineno, step.conn, "drain", data, c.eof))
                continue
            replies = []
            for _ in range(step.count):
                if c.desynced:
                    # An earlier read timed out: don't wait again, take what is there.
                    data = drain({step.conn: c}, silence=0.05)[step.conn]
                    replies.append(("<DESYNCED>", data))
                    break
                r = c.read_reply()
                if isinstance(r, tuple):
                    replies.append(r)
                    break
                if step.capture:
                    vars_[step.capture] = int(r[1:-2])
                    r = mask_reply(r, ("id",))
                replies.append(mask_reply(r, step.masks, port))
            if step.count or replies:
                transcript.append((step.lineno, step.conn, "replies", replies))
        leftovers = drain(conns)
        for name in sorted(conns):
            c = conns[name]
            if c.closed_by_us:
                continue
            transcript.append(("end", name, "leftover", leftovers[name],
                               "closed" if c.eof else "open"))
    finally:
        for c in conns.values():
            if not c.closed_by_us:
                c.sock.close()
    return transcript


def describe_difference(script, expected, actual, expected_label="redis", actual_label="ours"):
    """A readable report of every differing step of two transcripts (None if equal)."""
    if expected == actual:
        return None
    lines = {s.lineno: s.line for s in script.steps}
    out = [f"script {script.name} ({script.where}) differs:"]
    shown = 0
    for i in range(max(len(expected), len(actual))):
        e = expected[i] if i < len(expected) else None
        a = actual[i] if i < len(actual) else None
        if e == a:
            continue
        shown += 1
        if shown > 12:
            out.append("  ... (more differences)")
            break
        ref = e or a
        if ref[0] == "end":
            where = f"end of script, connection {ref[1]}"
        else:
            where = f"line {ref[0]}: {lines.get(ref[0], '')}"
        out.append(f"  at {where}")
        out.append(f"    {expected_label}: {_fmt(e)}")
        out.append(f"    {actual_label}:   {_fmt(a)}")
    return "\n".join(out)


def _fmt(entry):
    if entry is None:
        return "(nothing)"
    if entry[2] == "replies":
        return " ".join(repr(r) for r in entry[3]) or "(no replies)"
    if entry[2] == "drain":
        return f"{entry[3]!r} {'closed' if entry[4] else 'open'}"
    return f"{entry[3]!r} connection {entry[4]}"


def main(argv):
    """`python3 diffscript.py [--ours] NAME-or-glob...`: print transcripts (to write scripts)."""
    import fnmatch
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
    from servers import start_backplane, start_redis
    start = start_redis
    if argv and argv[0] == "--ours":
        start, argv = start_backplane, argv[1:]
    for script in load_scripts():
        if not any(fnmatch.fnmatch(script.name, pat) for pat in argv):
            continue
        with start(**script.config) as server:
            transcript = run_script(script, server.port)
        print(f"=== {script.name}")
        lines = {s.lineno: s.line for s in script.steps}
        for entry in transcript:
            label = lines.get(entry[0], entry[0]) if entry[0] != "end" else f"end {entry[1]}"
            print(f"  {label}\n      {_fmt(entry)}")


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
