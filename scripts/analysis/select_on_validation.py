#!/usr/bin/env python3
"""Picks, per dataset and family of configurations, the configuration with
the best mean validation HR@10 over seeds, from result files of runs made
with --validation (they rank the tail of the past, never the test stream).

usage: select_on_validation.py DIR... --family NAME=PREFIX[,PREFIX...] ...

Every result file under the DIRs (searched recursively) that ranked a
validation tail belongs to the configuration (LABEL, EPOCHS); test-stream
results are ignored. A family gathers the labels equal to one of its
prefixes or starting with PREFIX-. Prints one line per dataset, model and
family: DATASET MODEL FAMILY LABEL EPOCHS MEAN_HR@10 SEEDS.
"""
import sys
from collections import defaultdict

from result_files import results


def load(dirs):
    runs = defaultdict(list)
    for r in results(dirs):
        s = r["settings"]
        if not s.get("validation"):
            continue  # a test-stream run: never used to select
        key = (r["dataset"]["name"], s["model"], s.get("label", s["strategy"]), s["epochs"])
        runs[key].append(r["metrics"]["HR@10"])
    return runs


def main(argv):
    dirs, families = [], []
    k = 0
    while k < len(argv):
        if argv[k] == "--family":
            name, prefixes = argv[k + 1].split("=", 1)
            families.append((name, prefixes.split(",")))
            k += 2
        else:
            dirs.append(argv[k])
            k += 1
    runs = load(dirs)
    datasets = sorted({(d, m) for d, m, _, _ in runs})
    for dataset, model in datasets:
        for family, prefixes in families:
            best = None
            for (d, m, label, epochs), xs in runs.items():
                if (d, m) != (dataset, model):
                    continue
                if not any(label == p or label.startswith(p + "-") for p in prefixes):
                    continue
                mean = sum(xs) / len(xs)
                if best is None or mean > best[2]:
                    best = (label, epochs, mean, len(xs))
            if best:
                print(f"{dataset} {model} {family} {best[0]} {best[1]} {best[2]:.4f} {best[3]}")


if __name__ == "__main__":
    main(sys.argv[1:])
