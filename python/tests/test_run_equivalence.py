"""melon.run gives `melon run`'s result; a Recommender fed the same stream
(catalogue declared in the file's order, the run's past pre-trained, the
rest streamed in uneven calls) ranks every online batch as `melon run`
does. Ranked against every item (negatives="all"): sampled negatives of a
run also avoid the items a user interacts with later in the file, which a
live session cannot know."""
import json

import numpy as np
import pytest

import melon

from conftest import synthetic_stream


@pytest.fixture
def stream_file(tmp_path):
    users, items, times = synthetic_stream()
    path = tmp_path / "stream.csv"
    with open(path, "w") as f:
        f.write("user,item,time\n")
        for u, i, t in zip(users, items, times):
            f.write(f"{u},{i},{int(t)}\n")
    return path, users, items, times


SETTINGS = dict(model="bpr", strategy="default", seed=3, batch_size=100,
                epochs=2, negatives="all", threads=1)


def test_same_per_batch_metrics_as_melon_run(stream_file):
    path, users, items, times = stream_file
    result = melon.run(data=str(path), **SETTINGS)
    assert result["settings"]["strategy"] == "default"
    n_online = result["dataset"]["test_batches"]
    past = (result["dataset"]["batches"] - n_online) * SETTINGS["batch_size"]

    rec = melon.Recommender(**SETTINGS)
    _, first = np.unique(items, return_index=True)
    rec.declare_items(items[np.sort(first)])        # the file's order
    rec.fit(users[:past], items[:past], times[:past])
    ranks = np.concatenate([rec.partial_fit(users[k:k + 37], items[k:k + 37],
                                            times[k:k + 37])
                            for k in range(past, len(users), 37)])
    rec.flush()
    assert np.all(ranks >= 1)
    bs = SETTINGS["batch_size"]
    hr = [np.mean(ranks[k:k + bs] <= 10) for k in range(0, len(ranks), bs)]
    gain = np.where(ranks <= 10, 1.0 / np.log2(ranks + 1.0), 0.0)
    ndcg = [np.mean(gain[k:k + bs]) for k in range(0, len(ranks), bs)]
    assert len(hr) == n_online == rec.stats["batches"]
    np.testing.assert_allclose(hr, result["per_batch"]["HR@10"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ndcg, result["per_batch"]["NDCG@10"], rtol=0, atol=1e-12)
    assert rec.stats["last_loss"] == pytest.approx(result["per_batch"]["loss"][-1],
                                                   rel=1e-12)
    assert rec.stats["hr10"] == pytest.approx(result["metrics"]["HR@10"], rel=1e-12)


def test_run_errors_carry_melon_run_message(stream_file):
    path = stream_file[0]
    with pytest.raises(melon.MelonError, match="no-such-option"):
        melon.run(data=str(path), model="bpr", strategy="default",
                  no_such_option=1)
    with pytest.raises(melon.MelonError, match="missing.csv"):
        melon.run(data=str(path.parent / "missing.csv"), strategy="default")


def test_results_frame(stream_file, tmp_path):
    path = stream_file[0]
    pandas = pytest.importorskip("pandas")
    folder = tmp_path / "results"
    folder.mkdir()
    for seed in (1, 2):
        result = melon.run(data=str(path), strategy="default", seed=seed,
                           epochs=1, threads=1)
        (folder / f"seed{seed}.json").write_text(json.dumps(result))
    frame = melon.results_frame(folder)
    assert isinstance(frame, pandas.DataFrame) and len(frame) == 2
    assert list(frame["settings.seed"]) == [1, 2]
    assert frame["metrics.HR@10"].between(0, 1).all()


def test_results_frame_without_pandas(tmp_path, monkeypatch):
    import builtins
    real = builtins.__import__

    def no_pandas(name, *args, **kw):
        if name == "pandas":
            raise ImportError("No module named 'pandas'")
        return real(name, *args, **kw)
    monkeypatch.setattr(builtins, "__import__", no_pandas)
    with pytest.raises(ImportError, match="needs pandas"):
        melon.results_frame(tmp_path)
