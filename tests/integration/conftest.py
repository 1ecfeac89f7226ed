import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from itest_util import PASSWORD, launch  # noqa: E402


@pytest.fixture
def start():
    """Factory: start(**directives) launches a server under test; all are stopped afterwards."""
    started = []

    def _start(*args, **kwargs):
        server = launch(*args, **kwargs)
        started.append(server)
        return server

    yield _start
    for server in started:
        server.__exit__(None, None, None)


@pytest.fixture(scope="module")
def plain():
    """A default server shared by a module's tests (each test uses its own connections)."""
    with launch() as server:
        yield server


@pytest.fixture(scope="module")
def secured():
    """A server with requirepass, shared by a module's tests."""
    with launch(requirepass=PASSWORD) as server:
        yield server
