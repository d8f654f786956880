"""The Python binding's cost: Recommender.partial_fit in batches of 256
against the bare library call (melon_observe_ids through cffi, its arrays
prepared beforehand) on the same stream, in the same process.

    PYTHONPATH=python /usr/bin/python3 bench/bench_python.py [u.data.gz]

ml-100k (BPR-MF, Default, 99 negatives, one thread): pre-train on the
first 80% (not timed), then stream the rest in batches of 256 with each
form in turn; nine rounds, medians. Both sessions are seeded alike, so
they do the same work."""
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))

import melon  # noqa: E402
from melon._lib import check, ffi, lib, new_err  # noqa: E402
import quickstart  # noqa: E402

SETTINGS = dict(model="bpr", strategy="default", seed=1, batch_size=256,
                threads=1, epochs=1)
BATCH = 256
ROUNDS = 9


def pretrained(users, items, times, past):
    rec = melon.Recommender(**SETTINGS)
    rec.declare_items(np.unique(items))
    rec.fit(users[:past], items[:past], times[:past])
    return rec


def stream_binding(rec, users, items, times, past):
    start = time.perf_counter()
    for k in range(past, len(users), BATCH):
        rec.partial_fit(users[k:k + BATCH], items[k:k + BATCH], times[k:k + BATCH])
    return time.perf_counter() - start


def stream_bare(rec, users, items, times, past):
    s = rec._s
    u = ffi.cast("int64_t *", ffi.from_buffer(users))
    i = ffi.cast("int64_t *", ffi.from_buffer(items))
    t = ffi.cast("double *", ffi.from_buffer(times))
    ranks = ffi.new("int32_t[]", BATCH)
    err = new_err()
    start = time.perf_counter()
    for k in range(past, len(users), BATCH):
        n = min(BATCH, len(users) - k)
        check(lib.melon_observe_ids(s, u + k, i + k, t + k, n, ranks, err), err)
    return time.perf_counter() - start


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else quickstart.find_ml100k()
    if not path:
        sys.exit("bench_python: ml-100k not found (melon fetch ml-100k)")
    users, items, times = quickstart.load(path)
    users = np.ascontiguousarray(users)
    items = np.ascontiguousarray(items)
    past = int(0.8 * len(users)) // BATCH * BATCH
    batches = (len(users) - past + BATCH - 1) // BATCH
    binding, bare = [], []
    for round_ in range(ROUNDS):
        a = pretrained(users, items, times, past)
        b = pretrained(users, items, times, past)
        if round_ % 2:
            bare.append(stream_bare(b, users, items, times, past))
            binding.append(stream_binding(a, users, items, times, past))
        else:
            binding.append(stream_binding(a, users, items, times, past))
            bare.append(stream_bare(b, users, items, times, past))
        assert a.stats["hr10"] == b.stats["hr10"], "the two forms diverged"
    ratios = np.array(binding) / np.array(bare)
    print(f"ml-100k, {batches} online batches of {BATCH}, BPR-MF Default, "
          f"1 thread, {ROUNDS} rounds (medians)")
    print(f"  bare melon_observe_ids   {1e3 * np.median(bare) / batches:8.3f} ms/batch")
    print(f"  Recommender.partial_fit  {1e3 * np.median(binding) / batches:8.3f} ms/batch")
    print(f"  ratio partial_fit / bare {np.median(ratios):8.3f} "
          f"(rounds {', '.join(f'{r:.3f}' for r in ratios)})")


if __name__ == "__main__":
    main()
