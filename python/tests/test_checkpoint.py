"""save and load: a recommender loaded from a checkpoint (taken with
events pending) continues exactly as the saved one; damaged files are
refused with the library's message."""
import numpy as np
import pytest

import melon


def test_round_trip_continues_exactly(small, stream, tmp_path):
    users, items, times = stream
    rec = melon.Recommender(**small)
    rec.fit(users[:500], items[:500], times[:500])
    rec.partial_fit(users[500:630], items[500:630], times[500:630])  # 30 pending
    path = tmp_path / "model.ckpt"
    rec.save(path)
    back = melon.Recommender.load(path)
    assert back.stats == rec.stats or back.stats["observed"] == rec.stats["observed"]
    assert back.get_setting("batch_size") == "50"
    a = rec.partial_fit(users[630:900], items[630:900], times[630:900])
    b = back.partial_fit(users[630:900], items[630:900], times[630:900])
    assert np.all(a[:220] >= 1) and np.array_equal(a, b)
    assert np.array_equal(rec.flush(), back.flush())
    for user in (users[0], users[5]):
        ia, sa = rec.recommend(user, N=10)
        ib, sb = back.recommend(user, N=10)
        assert np.array_equal(ia, ib) and np.array_equal(sa, sb)


def test_damaged_checkpoint_refused(small, stream, tmp_path):
    users, items, times = stream
    rec = melon.Recommender(**small)
    rec.fit(users[:200], items[:200])
    path = tmp_path / "model.ckpt"
    rec.save(str(path))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(melon.MelonError, match="model.ckpt"):
        melon.Recommender.load(path)
    path.write_bytes(bytes(data[:100]))
    with pytest.raises(melon.MelonError):
        melon.Recommender.load(path)
    with pytest.raises(melon.MelonError):
        melon.Recommender.load(tmp_path / "missing.ckpt")
