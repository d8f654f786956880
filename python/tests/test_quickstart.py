"""examples/quickstart.py on ml-100k (skipped when the data is absent)."""
import os
import re
import subprocess
import sys

import pytest

from conftest import CHECKOUT

sys.path.insert(0, os.path.join(CHECKOUT, "examples"))
import quickstart  # noqa: E402


def test_quickstart_on_ml100k():
    path = quickstart.find_ml100k()
    if not path:
        pytest.skip("ml-100k is not in the cache or ../shared/data")
    env = dict(os.environ, PYTHONPATH=os.path.join(CHECKOUT, "python"))
    proc = subprocess.run([sys.executable, os.path.join(CHECKOUT, "examples",
                                                        "quickstart.py"), path],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    hr = float(re.search(r"HR@10 ([0-9.]+)", proc.stdout).group(1))
    assert 0.3 < hr < 0.7
    assert re.search(r"top 5 for user \d+: \d+ \(", proc.stdout)
