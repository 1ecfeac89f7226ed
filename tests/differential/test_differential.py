"""Differential tests: every script in scripts/*.txt runs against Debian's redis-server (twice,
to prove the script is deterministic) and against backplane-server, each on a fresh server
started with the script's `config:` directives, and the transcripts must be byte-identical
except for the masks the script asks for (see diffscript.py for the format and the masks).

Environment:
  DIFF_REDIS_ONLY=1   run each script twice against redis only (to check new scripts)
"""
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from diffscript import describe_difference, load_scripts, run_script  # noqa: E402
from servers import start_backplane, start_redis  # noqa: E402

SCRIPTS = load_scripts()
REDIS_ONLY = os.environ.get("DIFF_REDIS_ONLY") == "1"


def _start(start, config):
    """Starts a server; retries when the free port picked was taken meanwhile (other test
    processes on the machine pick ports too)."""
    for attempt in range(5):
        try:
            return start(**config)
        except RuntimeError as error:
            if "already in use" not in str(error) or attempt == 4:
                raise


def _run(start, script):
    with _start(start, script.config) as server:
        transcript = run_script(script, server.port)
        if not server.alive():
            transcript.append(("end", "server", "crashed", server.log_text()[-2000:], ""))
        return transcript


def test_script_names_are_unique_and_plenty():
    assert len(SCRIPTS) >= 150
    assert len({s.name for s in SCRIPTS}) == len(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_differential(script):
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(_run, start_redis, script)
        second = pool.submit(_run, start_redis, script)
        ours = None if REDIS_ONLY else pool.submit(_run, start_backplane, script)
        # One line each, so that a traceback says which server failed.
        first = first.result()
        second = second.result()
        ours = None if ours is None else ours.result()
    nondeterministic = describe_difference(script, first, second, "redis run 1", "redis run 2")
    assert nondeterministic is None, "the script is not deterministic on redis:\n" + nondeterministic
    if ours is not None:
        difference = describe_difference(script, first, ours)
        assert difference is None, difference
