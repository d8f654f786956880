#!/usr/bin/env python3
"""One metric of every strategy on every dataset and model, as a Markdown
matrix (strategies in rows, dataset/model pairs in columns): the mean over
seeds of the result files under a folder, with the number of seeds when
fewer than the most any cell has, and the best mean of each column in bold.

usage: metric_matrix.py RESULTS_DIR [METRIC]   (default metric: HR@10)
"""
import sys
from collections import defaultdict

from result_files import results


def main(argv):
    top = argv[0]
    metric = argv[1] if len(argv) > 1 else "HR@10"
    cells = defaultdict(list)
    for r in results([top]):
        s = r["settings"]
        column = (r["dataset"]["name"], s["model"])
        cells[(s.get("label", s["strategy"]), column)].append(r["metrics"][metric])
    columns = sorted({c for _, c in cells})
    order = {"default": 0, "eals": 1, "mwnet": 2, "metasgd": 3, "s2meta": 4, "sml": 5,
             "melon-i": 6, "melon-p": 7, "melon": 8, "melon-official": 9}
    rows = sorted({s for s, _ in cells}, key=lambda s: (order.get(s, 99), s))
    most = max(len(v) for v in cells.values())
    best = {c: max(sum(v) / len(v) for (s, cc), v in cells.items() if cc == c) for c in columns}
    print(f"| {metric} | " + " | ".join(f"{d}, {m}" for d, m in columns) + " |")
    print("| --- | " + " | ".join("---:" for _ in columns) + " |")
    for s in rows:
        out = []
        for c in columns:
            v = cells.get((s, c))
            if not v:
                out.append("n/a")
                continue
            mean = sum(v) / len(v)
            text = f"{mean:.3f}" + (f" ({len(v)} seeds)" if len(v) < most else "")
            out.append(f"**{text}**" if mean == best[c] else text)
        print(f"| {s} | " + " | ".join(out) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
