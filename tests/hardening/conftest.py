import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from servers import start_backplane  # noqa: E402


@pytest.fixture
def start():
    """Factory: start(**directives) launches backplane-server on a free port; every server is
    stopped by its PID when the test ends (SIGTERM, then SIGKILL after 5 s)."""
    started = []

    def _start(**directives):
        for attempt in range(5):
            try:
                server = start_backplane(**directives)
                break
            except RuntimeError as error:
                # the free port was taken by another process in the meantime: pick another
                if "already in use" not in str(error) or attempt == 4:
                    raise
        started.append(server)
        return server

    yield _start
    for server in started:
        server.__exit__(None, None, None)
