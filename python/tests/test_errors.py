"""Bad settings, arrays and times raise exceptions with the library's
message; a failed call leaves the recommender as it was."""
import numpy as np
import pytest

import melon


def test_unknown_setting_refused():
    with pytest.raises(melon.MelonError, match="unknown setting 'no-such-thing'"):
        melon.Recommender(model="bpr", strategy="default", no_such_thing=3)


@pytest.mark.parametrize("kw, message", [
    (dict(batch_size=0), "batch-size '0'"),
    (dict(lr="fast"), "lr 'fast'"),
    (dict(model="svd"), "model 'svd'"),
    (dict(strategy="nope"), "strategy 'nope'"),
    (dict(optimizer="sgd", dense_adam=True), "dense-adam=1 needs optimizer=adam"),
])
def test_bad_values_refused(kw, message):
    settings = dict(model="bpr", strategy="default") | kw
    with pytest.raises(melon.MelonError, match=message):
        melon.Recommender(**settings)


def test_strategy_not_applicable():
    with pytest.raises(melon.NotApplicableError):
        melon.Recommender(model="ncf", strategy="sml")


def ready(small, stream):
    users, items, times = stream
    rec = melon.Recommender(**small)
    rec.fit(users[:500], items[:500], times[:500])
    rec.partial_fit(users[500:520], items[500:520], times[500:520])
    return rec


def twin_ranks(rec, stream):
    users, items, times = stream
    got = rec.partial_fit(users[520:700], items[520:700], times[520:700])
    rec.flush()
    return got


@pytest.mark.parametrize("bad, error, message", [
    (lambda u, i, t: (u[:5], i[:4], None), ValueError, "users has 5 entries but items has 4"),
    (lambda u, i, t: (u[:5], i[:5], t[:3]), ValueError, "times has 3 entries"),
    (lambda u, i, t: (u[:5].astype(float), i[:5], None), TypeError, "integers or strings, not float64"),
    (lambda u, i, t: (u[:5], i[:5], np.array(["x"] * 5)), TypeError, "times"),
    (lambda u, i, t: (u[:5], [1, 2, None, 4, 5], None), TypeError, "NoneType"),
    (lambda u, i, t: (u[:5], i[:5], np.array([1, 2, np.nan, 4, 5.0])), melon.MelonError, "time"),
    (lambda u, i, t: (u[:5], i[:5], np.array([1, 2, np.inf, 4, 5.0])), melon.MelonError, "time"),
    (lambda u, i, t: (["a", "b", "", "d", "e"], i[:5], None), melon.MelonError, "empty"),
    (lambda u, i, t: (["a", "b", "x" * 300, "d", "e"], i[:5], None), melon.MelonError, "300 bytes"),
    (lambda u, i, t: (u[:5].reshape(5, 1), i[:5], None), ValueError, "1-d"),
])
def test_bad_events_change_nothing(small, stream, bad, error, message):
    users, items, times = stream
    rec = ready(small, stream)
    before = rec.stats
    with pytest.raises(error, match=message):
        rec.partial_fit(*bad(users, items, times))
    assert rec.stats == before or _same_nan(rec.stats, before)
    # it continues exactly as a twin that never saw the bad call
    assert np.array_equal(twin_ranks(rec, stream), twin_ranks(ready(small, stream), stream))


def _same_nan(a, b):
    return all(a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]) for k in a)


def test_fit_twice_refused(small, stream):
    users, items, times = stream
    rec = melon.Recommender(**small)
    rec.fit(users[:100], items[:100])
    with pytest.raises(melon.MelonError):
        rec.fit(users[100:200], items[100:200])
    with pytest.raises(melon.MelonError, match="epochs"):
        rec.fit(users[100:200], items[100:200], epochs=3)


def test_bad_n_and_closed(small, stream):
    users, items, _ = stream
    rec = melon.Recommender(**small)
    rec.fit(users[:100], items[:100])
    with pytest.raises(ValueError, match="N"):
        rec.recommend(users[0], N=0)
    rec.close()
    with pytest.raises(melon.MelonError, match="closed"):
        rec.recommend(users[0])


@pytest.mark.parametrize("model", ["bpr", "pop"])
def test_unknown_user_in_strict_mode(small, stream, model):
    users, items, _ = stream
    rec = melon.Recommender(**(small | {"model": model}))
    rec.fit(users[:300], items[:300])
    ids, _ = rec.recommend(424242, N=3)              # popularity fallback
    assert len(ids) == 3
    with pytest.raises(melon.UnknownUserError, match="user '424242' has not been seen"):
        rec.recommend(424242, N=3, strict=True)
    with pytest.raises(KeyError):
        rec.recommend([users[0], 424242], N=3, strict=True)
    assert rec.recommend(users[0], N=3, strict=True)[0].shape == (3,)


def test_failed_fit_with_new_epochs_keeps_the_old_session(small):
    rec = melon.Recommender(**small)
    with pytest.raises(melon.MelonError, match="empty"):
        rec.fit(["a", ""], ["x", "y"], epochs=4)
    assert rec.get_setting("epochs") == "1" and not rec.stats["pretrained"]
    rec.fit(["a", "b"], ["x", "y"], epochs=4)
    assert rec.get_setting("epochs") == "4" and rec.stats["pretrained"]
