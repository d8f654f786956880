#!/usr/bin/env python3
"""Mean and standard error over seeds of melon result files.

usage: summarise.py RESULT.json... [--metrics HR@10,NDCG@10]

Groups the files by (dataset, model, strategy) and prints a Markdown table
with one line per group: mean +- standard error of each metric over the
seeds, and the number of seeds.
"""
import json
import math
import sys
from collections import defaultdict


def main(argv):
    metrics = ["HR@10", "NDCG@10"]
    files = []
    k = 0
    while k < len(argv):
        if argv[k] == "--metrics":
            metrics = argv[k + 1].split(",")
            k += 2
        else:
            files.append(argv[k])
            k += 1
    groups = defaultdict(list)
    for path in files:
        with open(path) as f:
            r = json.load(f)
        key = (r["dataset"]["name"], r["settings"]["model"], r["settings"].get("label", r["settings"]["strategy"]))
        groups[key].append(r)
    print("| dataset | model | strategy | " + " | ".join(metrics) + " | seeds |")
    print("| --- | --- | --- | " + " | ".join("---:" for _ in metrics) + " | ---: |")
    for key in sorted(groups):
        runs = groups[key]
        cells = []
        for m in metrics:
            xs = [r["metrics"][m] for r in runs]
            mean = sum(xs) / len(xs)
            se = (math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1) / len(xs))
                  if len(xs) > 1 else 0.0)
            cells.append(f"{mean:.4f} ± {se:.4f}")
        print(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(cells) + f" | {len(runs)} |")


if __name__ == "__main__":
    main(sys.argv[1:])
