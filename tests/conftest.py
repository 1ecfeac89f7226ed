import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "support"))

from servers import RawClient, start_backplane, start_redis  # noqa: E402


@pytest.fixture
def backplane():
    """A backplane-server with default settings, for one test."""
    with start_backplane() as server:
        yield server


@pytest.fixture
def oracle():
    """Debian's redis-server, for differential tests."""
    with start_redis() as server:
        yield server


@pytest.fixture
def raw(backplane):
    with RawClient(backplane.port) as client:
        yield client
