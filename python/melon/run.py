"""melon.run (the `melon run` command, its result as a dict) and
melon.results_frame (a folder of result files as a pandas DataFrame)."""
import json
import os
import shutil
import subprocess
import tempfile

from ._lib import MelonError

_HERE = os.path.dirname(os.path.abspath(__file__))


def melon_binary():
    """$MELON_BIN, else the checkout's build/melon, else melon on PATH."""
    env = os.environ.get("MELON_BIN")
    if env:
        return env
    built = os.path.normpath(os.path.join(_HERE, "..", "..", "build", "melon"))
    if os.access(built, os.X_OK):
        return built
    found = shutil.which("melon")
    if not found:
        raise MelonError("the melon command was not found: build it with "
                         "`make` in the checkout or set MELON_BIN")
    return found


def run_arguments(data, model, strategy, seed, settings):
    """`melon run`'s command-line options for these keywords."""
    if isinstance(data, (list, tuple)):
        data = ",".join(os.fspath(d) for d in data)
    args = ["--data", os.fspath(data), "--model", str(model),
            "--strategy", str(strategy), "--seed", str(seed)]
    for name, value in settings.items():
        option = "--" + name.replace("_", "-")
        if value is True:
            args.append(option)
        elif value is False or value is None:
            continue
        elif isinstance(value, (list, tuple)):
            args += [option, ",".join(str(v) for v in value)]
        else:
            args += [option, repr(value) if isinstance(value, float) else str(value)]
    return args


def run(data, model="bpr", strategy="melon", seed=1, **settings):
    """Runs `melon run` (pre-train on the past, replay the stream batch by
    batch) and returns its result file as a dict: "metrics", "per_batch",
    "settings", "timing", ... Every option of `melon run` is a keyword,
    with underscores for dashes (batch_size=256, negatives="all", quiet
    options are set). A failed run raises MelonError with its message."""
    for own in ("out", "quiet", "progress", "no_progress"):
        if own in settings:
            raise TypeError(f"melon.run: {own} is set by melon.run itself")
    with tempfile.TemporaryDirectory(prefix="melon-run-") as tmp:
        out = os.path.join(tmp, "result.json")
        cmd = [melon_binary(), "run"] + run_arguments(data, model, strategy,
                                                       seed, settings)
        cmd += ["--out", out, "--quiet", "--no-progress"]
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
        if proc.returncode != 0:
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
            raise MelonError("\n".join(lines) or
                             f"melon run exited with status {proc.returncode}")
        with open(out, encoding="utf-8") as f:
            return json.load(f)


def _flatten(prefix, value, row):
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else k, v, row)
    elif not isinstance(value, list):
        row[prefix] = value


def results_frame(directory):
    """One row per result file (*.json written by `melon run --out` or
    `melon bench`) under directory: the file, its settings, dataset,
    metrics and timing as columns (nested names joined by dots; per-batch
    lists left out). Needs pandas."""
    try:
        import pandas
    except ImportError:
        raise ImportError("melon.results_frame needs pandas, which is not "
                          "installed (Debian: apt-get install python3-pandas)"
                          ) from None
    rows = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(".json"):
                continue
            path = os.path.join(root, name)
            try:
                with open(path, encoding="utf-8") as f:
                    result = json.load(f)
            except (OSError, ValueError) as e:
                raise MelonError(f"{path}: not a readable result file ({e})") from None
            if not isinstance(result, dict) or "metrics" not in result:
                continue
            row = {"file": os.path.relpath(path, directory)}
            _flatten("", result, row)
            rows.append(row)
    return pandas.DataFrame(rows)
