import pytest

from tests.trends.support import make_history


@pytest.fixture
def history(seeded, clock):
    return make_history(seeded)
