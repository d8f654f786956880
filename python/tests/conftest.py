"""The package from this checkout (python/), the library and the melon
command from $MELON_LIBRARY / $MELON_BIN or the checkout's build/."""
import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
CHECKOUT = os.path.dirname(os.path.dirname(HERE))


def synthetic_stream(n=3000, n_users=60, n_items=250, seed=7):
    """Users uniform, items Zipf-like, one event a minute: (users, items,
    times) as int64, int64, float64."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n) + 1000
    items = (rng.zipf(1.3, n) % n_items) + 5000
    times = 1.6e9 + 60.0 * np.arange(n)
    return users.astype(np.int64), items.astype(np.int64), times


@pytest.fixture
def stream():
    return synthetic_stream()


@pytest.fixture
def small():
    """A few settings that make a session quick: 20 negatives, 1 thread."""
    return dict(model="bpr", strategy="default", seed=1, batch_size=50,
                epochs=1, negatives=20, threads=1)
