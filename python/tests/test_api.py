"""The Recommender's calls on int and string ids: settings, fit,
partial_fit's ranks (pending, filled in later, flush), recommend single
and batch, history and stats."""
import numpy as np
import pytest

import melon


def test_settings_are_keywords(small):
    rec = melon.Recommender(**{**small, "batch_size": 64, "dense_adam": True,
                               "lr": 0.01})
    assert rec.get_setting("batch_size") == "64"
    assert rec.get_setting("dense-adam") == "on"
    assert float(rec.get_setting("lr")) == pytest.approx(0.01)
    assert rec.get_setting("strategy") == "default"


def test_ranks_pending_until_their_batch_runs(small, stream):
    users, items, times = stream
    rec = melon.Recommender(**small)
    rec.fit(users[:500], items[:500], times[:500])
    a = rec.partial_fit(users[500:530], items[500:530], times[500:530])
    assert a.dtype == np.int32 and len(a) == 30
    assert np.all(a == melon.RANK_PENDING)
    assert rec.stats["pending"] == 30
    b = rec.partial_fit(users[530:610], items[530:610], times[530:610])
    # 30 + 80 events: two batches of 50 ran, 10 wait
    assert rec.stats["pending"] == 10 and rec.stats["batches"] == 2
    assert np.all(a >= 1) and np.all(a <= 21)        # filled in place
    assert np.all(b[:70] >= 1) and np.all(b[70:] == melon.RANK_PENDING)
    last = rec.flush()
    assert len(last) == 10 and np.all(last >= 1)
    assert np.array_equal(b[70:], last)
    assert rec.stats["pending"] == 0 and rec.stats["batches"] == 3
    assert rec.stats["evaluated"] == 110
    hr = np.mean(np.concatenate([a, b]) <= 10)
    assert rec.stats["hr10"] == pytest.approx(hr)


def test_ranks_same_in_any_chunking(small, stream):
    # with the catalogue declared: negatives are drawn from the items known
    # when a batch runs, which a call's later events would otherwise add
    users, items, times = stream
    ranks = []
    for chunk in (1000, 50, 7):
        rec = melon.Recommender(**small)
        rec.declare_items(np.unique(items))
        rec.fit(users[:500], items[:500], times[:500])
        ends = list(range(500, 1500, chunk)) + [1500]
        got = [rec.partial_fit(users[a:b], items[a:b], times[a:b])
               for a, b in zip(ends, ends[1:])]
        rec.flush()
        ranks.append(np.concatenate(got))
    assert np.all(ranks[0] >= 1)
    assert np.array_equal(ranks[0], ranks[1])
    assert np.array_equal(ranks[0], ranks[2])


def test_string_ids_and_int_ids_are_one_id_space(small, stream):
    users, items, times = stream
    by_int = melon.Recommender(**small)
    by_str = melon.Recommender(**small)
    by_int.fit(users[:500], items[:500])
    by_str.fit(users[:500].astype(str), [str(i) for i in items[:500]])
    r1 = by_int.partial_fit(users[500:700], items[500:700])
    r2 = by_str.partial_fit(users[500:700].astype(str), items[500:700].astype(str))
    assert np.array_equal(r1, r2)
    ids1, s1 = by_int.recommend(users[0], N=5)
    ids2, s2 = by_str.recommend(str(users[0]), N=5)
    assert ids1.dtype == np.int64 and ids2.dtype.kind == "U"
    assert np.array_equal(ids1.astype(str), ids2)
    assert np.array_equal(s1, s2)


def test_recommend_single_and_batch(small, stream):
    users, items, times = stream
    rec = melon.Recommender(**small)
    rec.fit(users[:1000], items[:1000], times[:1000])
    seen = set(rec.user_items(users[0]))
    assert len(seen) > 0 and set(items[:1000][users[:1000] == users[0]]) == seen
    ids, scores = rec.recommend(users[0], N=10)
    assert len(ids) == 10 and np.all(np.diff(scores) <= 0)
    assert not seen & set(ids)
    ids_all, _ = rec.recommend(users[0], N=300, filter_already_liked_items=False)
    assert seen <= set(ids_all)
    many = np.array([users[0], users[1], 424242])
    bids, bscores = rec.recommend(many, N=10)
    assert bids.shape == (3, 10) and bscores.shape == (3, 10)
    assert np.array_equal(bids[0], ids) and np.allclose(bscores[0], scores)
    # an unknown user gets the most popular items, scored by their counts
    pop, counts = rec.recommend(424242, N=3)
    values, n = np.unique(items[:1000], return_counts=True)
    assert np.array_equal(np.sort(counts)[::-1], counts)
    assert counts[0] == n.max() and pop[0] in values[n == n.max()]
    assert np.array_equal(bids[2, :3], pop)


def test_rows_padded_when_fewer_items_than_n(small):
    rec = melon.Recommender(**small)
    rec.fit(["a", "a", "b"], ["x", "y", "z"])
    ids, scores = rec.recommend("a", N=5)
    assert list(ids) == ["z"] and len(scores) == 1
    bids, bscores = rec.recommend(["a", "b"], N=3)
    assert list(bids[0]) == ["z", "", ""] and np.isnan(bscores[0, 1:]).all()


def test_fit_epochs_and_stats(small, stream):
    users, items, times = stream
    rec = melon.Recommender(**small)
    rec.declare_items(np.unique(items))
    rec.fit(users[:500], items[:500], times[:500], epochs=3)
    assert rec.get_setting("epochs") == "3"
    st = rec.stats
    assert st["pretrained"] and st["pretrain_events"] == 500
    assert st["items"] == len(np.unique(items))
    assert "bpr/default" in repr(rec)


def test_datetime_times(small, stream):
    users, items, times = stream
    rec = melon.Recommender(**small)
    when = (times[:100] * 1e9).astype("datetime64[ns]")
    rec.fit(users[:100], items[:100], when)
    assert rec.stats["pretrain_events"] == 100
