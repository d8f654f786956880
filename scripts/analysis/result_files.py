"""The melon result files (*.json) under one or more folders, searched
recursively, each parsed; shared by the analysis scripts."""
import json
import os


def results(dirs):
    for top in dirs:
        for root, _, files in os.walk(top):
            for name in sorted(files):
                if name.endswith(".json"):
                    with open(os.path.join(root, name)) as f:
                        yield json.load(f)
