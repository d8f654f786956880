"""Pre-train BPR-MF with MeLON on the first 80% of MovieLens 100K (in
time order), stream the rest in batches of 256 (each batch ranked before the
model learns from it), print HR@10, and recommend for one user.

    make python && /usr/bin/python3 examples/quickstart.py [u.data.gz]

The data: ml-100k's u.data(.gz) from $MELON_CACHE_DIR, ~/.cache/melon or
../shared/data (`melon fetch ml-100k` downloads it)."""
import gzip
import os
import sys

import numpy as np

import melon

# The update strategy: MeLON (the authors' code form) by default; users
# first seen in the stream get rows in the model and in MeLON's state as
# they come. MELON_STRATEGY=default (Adam on each batch) compares.
STRATEGY = os.environ.get("MELON_STRATEGY", "melon")


def find_ml100k():
    here = os.path.dirname(os.path.abspath(__file__))
    roots = [os.environ.get("MELON_CACHE_DIR", ""),
             os.path.expanduser("~/.cache/melon"),
             os.path.join(here, "..", "..", "shared", "data")]
    for root in filter(None, roots):
        for name in ("u.data.gz", "u.data"):
            path = os.path.join(root, "ml-100k", name)
            if os.path.exists(path):
                return path
    return None


def load(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        table = np.loadtxt(f, dtype=np.int64)
    order = np.argsort(table[:, 3], kind="stable")   # by time
    return table[order, 0], table[order, 1], table[order, 3].astype(float)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else find_ml100k()
    if not path:
        sys.exit("ml-100k not found: run `melon fetch ml-100k` or pass u.data.gz")
    users, items, times = load(path)
    past = int(0.8 * len(users)) // 256 * 256

    options = {"melon_variant": "official"} if STRATEGY == "melon" else {}
    rec = melon.Recommender(model="bpr", strategy=STRATEGY, seed=1, batch_size=256,
                            **options)
    rec.declare_items(np.unique(items))          # the catalogue
    rec.fit(users[:past], items[:past], times[:past], epochs=5)
    ranks = rec.partial_fit(users[past:], items[past:], times[past:])
    rec.flush()                                   # the last, short batch
    ranked = ranks[ranks > 0]
    print(f"{len(ranked)} streamed events ranked against 99 negatives: "
          f"HR@10 {np.mean(ranked <= 10):.4f}")

    user = users[-1]
    ids, scores = rec.recommend(user, N=5)
    print(f"top 5 for user {user}: " +
          ", ".join(f"{i} ({s:.3f})" for i, s in zip(ids, scores)))


if __name__ == "__main__":
    main()
