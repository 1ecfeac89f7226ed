"""The differential scripts again, over TLS: Debian's redis-server (built with TLS) and
backplane-server both run with tls-port and the same test certificates, every connection of a
script is a TLS one, and the transcripts must be byte-identical as over plain TCP.

The pub/sub, protocol, RESP3, auth and misc scripts are used: they cover pipelining, partial
requests, large payloads and closing connections, which is where a TLS layer could differ.
"""
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from diffscript import describe_difference, load_scripts, run_script  # noqa: E402
from servers import BACKPLANE_SERVER, REDIS_SERVER  # noqa: E402
from tls_certs import Certs, start_tls_server  # noqa: E402

FILES = {"pubsub.txt", "protocol.txt", "resp3.txt", "auth.txt", "misc.txt", "sharded.txt"}
# A half-close (`shutdown:`) drops the TLS layer in the client, which then sees raw records:
# those scripts only make sense over plain TCP.
SCRIPTS = [s for s in load_scripts()
           if s.path.name in FILES and not any(step.kind == "shutdown" for step in s.steps)]


@pytest.fixture(scope="module")
def certs():
    return Certs()


def _run(binary, certs, script):
    context = certs.client_context()
    with start_tls_server(binary, certs, script.config) as server:
        transcript = run_script(
            script, server.tls_port,
            wrap=lambda sock: context.wrap_socket(sock, server_hostname="localhost"))
        if not server.alive():
            transcript.append(("end", "server", "crashed", server.log_text()[-2000:], ""))
        return transcript


def test_redis_server_supports_tls():
    """Debian's redis-server is built with TLS; the comparison below depends on it."""
    assert len(SCRIPTS) >= 100


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_tls_differential(certs, script):
    with ThreadPoolExecutor(2) as pool:
        theirs = pool.submit(_run, REDIS_SERVER, certs, script)
        ours = pool.submit(_run, str(BACKPLANE_SERVER), certs, script)
        # One line each, so that a traceback says which server failed.
        theirs = theirs.result()
        ours = ours.result()
    difference = describe_difference(script, theirs, ours)
    assert difference is None, difference
