#!/usr/bin/env python3
"""Summary of a learning-rate matrix written by `melon run --dump-lr-matrix
FILE.csv`: how many (interaction, parameter) rates it holds and their
mean, median, 10th and 90th percentiles and largest value.

usage: rate_stats.py FILE.csv...
"""
import csv
import sys


def rates(path):
    values = []
    with open(path) as f:
        reader = csv.reader(f)
        next(reader)  # the header: the parameters' names
        for row in reader:
            values.extend(float(v) for v in row[1:] if v != "")
    return values


def main(paths):
    print("| file | rates | mean | median | p10 | p90 | max |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for path in paths:
        v = sorted(rates(path))
        q = lambda p: v[int(p * (len(v) - 1))]
        print(f"| {path} | {len(v)} | {sum(v) / len(v):.4f} | {q(0.5):.4f} | "
              f"{q(0.1):.4f} | {q(0.9):.4f} | {v[-1]:.4f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
