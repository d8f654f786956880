#!/usr/bin/env python3
"""Is there personal signal in a stream's online part? Compares popularity
with a whole-past item-kNN (cosine on co-occurrence of users) on the same
sampled-negative protocol as melon: HR@10 against 99 negatives the user
never interacts with, for online interactions whose user has at least
MIN_PAST interactions in the past.

usage: knn_vs_pop.py FILE[,FILE...] [MIN_PAST] [SAMPLES]
Files: TSV or CSV; the first two fields are user and item, the last is the
time; lines whose last field is not a number (headers) are skipped.
"""
import gzip
import math
import random
import sys
from collections import Counter, defaultdict


def read(path):
    opener = gzip.open if path.endswith(".gz") else open
    rows = []
    with opener(path, "rt") as f:
        for line in f:
            fields = line.strip().replace(",", "\t").split("\t")
            try:
                rows.append((fields[0], fields[1], float(fields[-1])))
            except ValueError:
                continue
    return rows


def main(argv):
    rows = []
    for path in argv[0].split(","):
        rows += read(path)
    min_past = int(argv[1]) if len(argv) > 1 else 5
    samples = int(argv[2]) if len(argv) > 2 else 1500
    rows.sort(key=lambda r: r[2])  # stable: ties keep file order
    n_batches = -(-len(rows) // 256)
    past_end = int(n_batches * 0.8) * 256
    past, online = rows[:past_end], rows[past_end:]
    items = sorted({i for _, i, _ in rows})
    everything = defaultdict(set)
    for u, i, _ in rows:
        everything[u].add(i)
    past_items = defaultdict(set)
    item_users = defaultdict(set)
    for u, i, _ in past:
        past_items[u].add(i)
        item_users[i].add(u)
    popularity = Counter(i for _, i, _ in past)

    def cosine(a, b):
        ua, ub = item_users[a], item_users[b]
        return len(ua & ub) / math.sqrt(len(ua) * len(ub)) if ua and ub else 0.0

    rng = random.Random(0)
    hits = {"pop": 0, "knn": 0}
    n = 0
    for u, i, _ in online:
        if len(past_items[u]) < min_past:
            continue
        n += 1
        if n > samples:
            n -= 1
            break
        negatives = []
        while len(negatives) < 99:
            j = rng.choice(items)
            if j not in everything[u] and j not in negatives:
                negatives.append(j)
        candidates = [i] + negatives
        scorers = {"pop": lambda c: popularity[c],
                   "knn": lambda c: sum(cosine(c, j) for j in past_items[u])}
        for name, score in scorers.items():
            s = [score(c) for c in candidates]
            rank = 1 + sum(x >= s[0] for x in s[1:])
            hits[name] += rank <= 10
    print(f"{argv[0]}: {n} online interactions of users with >= {min_past} past: "
          + ", ".join(f"{k} HR@10 {v / n:.3f}" for k, v in hits.items()))


if __name__ == "__main__":
    main(sys.argv[1:])
