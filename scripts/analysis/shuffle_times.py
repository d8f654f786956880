#!/usr/bin/env python3
"""Writes a copy of a user/item/time log whose times are replaced by a
random permutation (seeded), so that the online part of the stream holds
users the past already knows. A control for cold-start effects.

usage: shuffle_times.py IN OUT [SEED]   (IN: TSV/CSV, optionally gzip; the
first two fields are user and item; header lines are skipped)
"""
import gzip
import random
import sys


def main(argv):
    source, target = argv[0], argv[1]
    rng = random.Random(int(argv[2]) if len(argv) > 2 else 1)
    opener = gzip.open if source.endswith(".gz") else open
    pairs = []
    with opener(source, "rt") as f:
        for line in f:
            fields = line.strip().replace(",", "\t").split("\t")
            try:
                float(fields[-1])
            except ValueError:
                continue
            pairs.append((fields[0], fields[1]))
    order = list(range(len(pairs)))
    rng.shuffle(order)
    with open(target, "w") as out:
        for position, k in enumerate(order):
            out.write(f"{pairs[k][0]}\t{pairs[k][1]}\t{position}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
