#!/usr/bin/env bash
# `melon bench` and `melon report`: a tiny grid run for real, resumption,
# option checking, and the report's tables, marks and figures on result
# files with known values. usage: bench_report.sh MELON_BINARY SOURCE_DIR
set -u
melon=$1
. "$(dirname "$0")/lib.sh"

python3 - "$tmp/a.csv" "$tmp/b.tsv" <<'PY'
import sys, random
r = random.Random(3)
with open(sys.argv[1], "w") as f:
    f.write("user_id,item_id,timestamp\n")
    for t in range(600):
        u = r.randrange(40); f.write(f"u{u},i{(u * 3 + r.randrange(20)) % 180},{t}\n")
with open(sys.argv[2], "w") as f:
    for t in range(500):
        u = r.randrange(30); f.write(f"{u}\t{(u * 5 + r.randrange(15)) % 150}\t{t}.0\n")
PY

# --- the tiny grid: 2 datasets x 1 model x 2 strategies x 1 seed
grid=(--data "$tmp/a.csv" --data small="$tmp/b.tsv" --models bpr
      --strategies default,fast=default:--lr=0.01 --seeds 1 --batch-size 50
      --epochs 1 --dim 8 --results "$tmp/res")
"$melon" bench "${grid[@]}" --dry-run >"$tmp/dry" 2>&1
check "dry run lists 4 cells" grep -q "^4 cells" "$tmp/dry"
"$melon" bench "${grid[@]}" --jobs 2 >"$tmp/out" 2>"$tmp/err"
check "bench exits 0" [ $? = 0 ]
check "4 result files" [ "$(find "$tmp/res" -name '*.json' | wc -l)" = 4 ]
check "dataset folders named" [ -f "$tmp/res/small/bpr-fast-seed1.json" ]
check "label and extra option reach the run" python3 -c "
import json; r = json.load(open('$tmp/res/small/bpr-fast-seed1.json'))
assert r['settings']['label'] == 'fast' and abs(r['settings']['lr'] - 0.01) < 1e-9
assert r['settings']['batch_size'] == 50"
check "progress line mentions cells" grep -q "done" "$tmp/err"
stamp=$(stat -c %Y "$tmp/res/small/bpr-fast-seed1.json")
sleep 1
rm "$tmp/res/small/bpr-default-seed1.json"
"$melon" bench "${grid[@]}" >"$tmp/out" 2>"$tmp/err"
check "resume exits 0" [ $? = 0 ]
check "resume redoes only the missing cell" [ -f "$tmp/res/small/bpr-default-seed1.json" ]
check "resume leaves finished cells alone" [ "$(stat -c %Y "$tmp/res/small/bpr-fast-seed1.json")" = "$stamp" ]
"$melon" report "$tmp/res" --out "$tmp/rep" 2>"$tmp/err"
check "report exits 0" [ $? = 0 ]
check "report has Table 2 for both datasets" grep -q "^\*\*small, bpr\*\*" "$tmp/rep/report.md"
check "report has Table 4" grep -q "Table 4" "$tmp/rep/report.md"
check "figure 5 drawn as SVG" [ -s "$tmp/rep/figures/fig5-small-bpr.svg" ]
check "figure 5 drawn as PNG" [ -s "$tmp/rep/figures/fig5-small-bpr.png" ]

# --- usage errors
"$melon" bench --data "$tmp/a.csv" >/dev/null 2>"$tmp/err"
check "missing --results exits 2" [ $? = 2 ]
"$melon" bench --data "$tmp/a.csv" --results "$tmp/x" --strategies nosuch >/dev/null 2>"$tmp/err"
check "unknown strategy exits 2" [ $? = 2 ]
check "unknown strategy named" grep -q nosuch "$tmp/err"
"$melon" bench --data "$tmp/a.csv" --results "$tmp/x" --out y >/dev/null 2>"$tmp/err"
check "reserved run option refused" [ $? = 2 ]
"$melon" bench --data "$tmp/a.csv" --results "$tmp/x" --frob 1 >/dev/null 2>"$tmp/err"
check "unknown option exits 2" [ $? = 2 ]
mkdir -p "$tmp/empty"
"$melon" report "$tmp/empty" --out "$tmp/rep2" >/dev/null 2>"$tmp/err"
check "report of an empty folder fails" [ $? = 1 ]

# --- the report's arithmetic on results with known values: "melon" beats
# "default" by 0.02 on every seed (significant), "mwnet" is between them,
# "default-dense" below them all.
mkdir -p "$tmp/known"
python3 - "$tmp/known" <<'PY'
import json, sys
names = ["HR@5", "HR@10", "HR@20", "NDCG@5", "NDCG@10", "NDCG@20"]
for seed, noise in zip([1, 2, 3], [0.000, 0.004, -0.002]):
    for strategy, base, t in [("mwnet", 0.31, 0.002), ("default-dense", 0.29, 0.001),
                              ("default", 0.30, 0.001), ("melon", 0.32, 0.010)]:
        m = {k: base + noise + 0.1 * j for j, k in enumerate(names)}
        r = {"dataset": {"name": "toy"}, "settings": {"model": "bpr",
             "strategy": strategy.split("-")[0], "label": strategy, "seed": seed}, "metrics": m,
             "per_batch": {"NDCG@10": [m["NDCG@10"]] * 3},
             "timing": {"update_s_per_batch": {"mean": 3 * t, "median": t}}}
        # losses: mwnet seed 2 rises to 3.0 (> 2 x 0.4 and > 2 ln 2: diverged);
        # melon seed 3 to 1.2 (< 2 ln 2: not); default seed 3 carries the
        # run's own warning
        if (strategy, seed) == ("mwnet", 2): r["pretrain_loss"] = [0.7, 0.4, 3.0]
        if (strategy, seed) == ("melon", 3):
            r["pretrain_loss"] = [0.7, 0.5, 1.2]
            r["per_batch"]["loss"] = [0.5, 0.6, 0.9]
        if (strategy, seed) == ("default", 3): r["warning"] = "a reason of its own"
        json.dump(r, open(f"{sys.argv[1]}/{strategy}-{seed}.json", "w"))
PY
"$melon" report "$tmp/known" --out "$tmp/krep" --no-figures 2>"$tmp/err"
check "known report exits 0" [ $? = 0 ]
k="$tmp/krep/report.md"
# HR@5 of melon: mean 0.32 + (0 + 0.004 - 0.002)/3 = 0.320667
check "mean over seeds" grep -q "| melon | \*\*0.3207 ± 0.0018\*\* †" "$k"
check "second best underlined" grep -q "| mwnet | <u>0.3107 ± 0.0018</u>" "$k"
check "improvement over the best baseline" grep -q "+3.2% vs mwnet (p 0.000)" "$k"
check "agrees with the paper's direction" grep -q "agrees: significantly best on every metric" "$k"
check "time ratio to Default" grep -q "10 ms (10.0×)" "$k"
check "Default with dense Adam right after Default" bash -c \
  "grep -A1 '^| default |' '$k' | head -2 | tail -1 | grep -q '^| default-dense |'"
check "no figures section with --no-figures" bash -c "! grep -q 'Figure 5' '$k'"
check "diverged runs listed" grep -q "^## Runs whose loss diverged" "$k"
check "a rising loss is named" grep -q "| toy | bpr | mwnet | 2 | the mean loss of pre-training epoch 3 is 3, more than twice the lowest before it (0.4)" "$k"
check "a run's own warning is kept" grep -q "| toy | bpr | default | 3 | a reason of its own |" "$k"
check "a loss below 2 ln 2 is not" bash -c "! grep -q '| melon | 3 |' '$k'"
check "no diverged section for the sane grid" bash -c "! grep -q 'diverged' '$tmp/rep/report.md'"

# --- what must not be pooled or claimed: runs of one label at two learning
# rates; seeds 1-3 against seeds 1-2; one seed; no MeLON or ablation runs;
# the popularity floor in Figure 5
python3 - "$tmp" <<'PY'
import json, os, sys
names = ["HR@5", "HR@10", "HR@20", "NDCG@5", "NDCG@10", "NDCG@20"]
def result(folder, dataset, model, strategy, seed, base, lr=0.001, label=None):
    os.makedirs(folder, exist_ok=True)
    m = {k: base + 0.01 * seed + 0.1 * j for j, k in enumerate(names)}
    r = {"dataset": {"name": dataset, "files": [f"/somewhere/{seed}.csv"], "min_user": 0},
         "settings": {"model": model, "strategy": strategy, "label": label or strategy,
                      "seed": seed, "threads": seed, "epochs": 1, "lr": lr},
         "metrics": m, "per_batch": {"NDCG@10": [m["NDCG@10"]] * 4},
         "timing": {"update_s_per_batch": {"median": 0.001}}, "warning": ""}
    json.dump(r, open(f"{folder}/{model}-{label or strategy}-{lr}-{seed}.json", "w"))
t = sys.argv[1]
# two learning rates under one label; threads and file paths differ too
for seed in (1, 2, 3): result(f"{t}/mixed", "toy", "bpr", "default", seed, 0.30)
result(f"{t}/mixed", "toy", "bpr", "default", 1, 0.50, lr=0.05)
# melon on seeds 1-3, default on 1-2
for seed in (1, 2, 3): result(f"{t}/seeds", "toy", "bpr", "melon", seed, 0.32)
for seed in (1, 2): result(f"{t}/seeds", "toy", "bpr", "default", seed, 0.30)
# one seed each
for s, b in (("melon", 0.32), ("default", 0.30)): result(f"{t}/one", "toy", "bpr", s, 1, b)
# no melon runs, a popularity floor
for seed in (1, 2):
    result(f"{t}/floor", "toy", "bpr", "default", seed, 0.30)
    result(f"{t}/floor", "toy", "pop", "default", seed, 0.10)
PY
"$melon" report "$tmp/mixed" --out "$tmp/rmixed" --no-figures 2>"$tmp/err"
k="$tmp/rmixed/report.md"
check "runs at another learning rate are not pooled" grep -q "^| default (lr 0.05) | \*\*0.5100\*\* |.* 1 |$" "$k"
check "the others keep their own row" grep -q "^| default (lr 0.001) | <u>0.3200 ± 0.0058</u> |.* 3 |$" "$k"
check "threads and file paths do not split runs" bash -c "! grep -q 'threads\|files' '$k'"
check "rows at different settings are said to differ" \
  grep -q "^Besides the strategy, the rows differ in lr.$" "$k"
"$melon" report "$tmp/seeds" --out "$tmp/rseeds" --no-figures 2>"$tmp/err"
k="$tmp/rseeds/report.md"
# HR@5 over seeds 1-2: melon 0.335, default 0.315: +6.3%
check "3 seeds against 2: compared over the 2 in common" grep -q "+6.3% vs default (p 0.000, over the 2 common seeds)" "$k"
check "and the table says the seeds differ" grep -q "The rows ran different seeds" "$k"
"$melon" report "$tmp/one" --out "$tmp/rone" --no-figures 2>"$tmp/err"
k="$tmp/rone/report.md"
check "one seed: no standard error" grep -q "^| melon | \*\*0.3300\*\* | \*\*0.4300\*\* |" "$k"
check "one seed: no ± anywhere" bash -c "! grep -q '± 0.0000' '$k'"
check "one seed: no p-value" grep -q "+6.5% vs default (p n/a)" "$k"
check "one seed: no test claimed" grep -q "higher on 6 of 6 metrics; no test (fewer than two common seeds)" "$k"
check "one seed: no significance mark" bash -c "! grep -q '[†‡] |' '$k'"
"$melon" report "$tmp/floor" --out "$tmp/rfloor" 2>"$tmp/err"
k="$tmp/rfloor/report.md"
check "no MeLON runs: no MeLON table" bash -c "! grep -q 'MeLON against the best baseline' '$k'"
check "no ablation runs: no Table 3" bash -c "! grep -q 'Table 3' '$k'"
check "figure 5 draws the popularity floor" grep -q '"popularity (floor)"' "$tmp/rfloor/figures/fig5-toy-bpr.dat"
check "as a dashed line" grep -q "dt 2" "$tmp/rfloor/figures/fig5-toy-bpr.gp"
check "figure 5 with the floor drawn" [ -s "$tmp/rfloor/figures/fig5-toy-bpr.svg" ]

# --- MRR, Recall and repeat/new pairs; rankings against every item in
# tables of their own; files from before --negatives pool with 99
python3 - "$tmp/beyond" <<'PY'
import json, os, sys
d = sys.argv[1]
os.makedirs(d)
names = ["HR@5", "HR@10", "HR@20", "NDCG@5", "NDCG@10", "NDCG@20"]
def result(seed, negatives, beyond=None):
    m = {k: 0.3 + 0.01 * seed for k in names}
    s = {"model": "bpr", "strategy": "default", "label": "default", "seed": seed}
    if negatives is not None: s["negatives"] = negatives
    r = {"dataset": {"name": "toy"}, "settings": s, "metrics": m,
         "per_batch": {"NDCG@10": [0.3] * 3},
         "timing": {"update_s_per_batch": {"median": 0.001}}, "warning": ""}
    if beyond:
        m["MRR@10"], m["Recall@10"], repeat, new = beyond
        r["metrics_by_pair"] = {"repeat": {"HR@10": repeat}, "new": {"HR@10": new}}
    json.dump(r, open(f"{d}/{seed}-{negatives}.json", "w"))
result(1, None)                            # before --negatives: 99, no MRR
result(2, 99, (0.2, 0.4, None, 0.5))       # no repeat pairs: null
result(1, "all", (0.05, 0.1, 0.3, 0.02))
result(2, "all", (0.07, 0.2, 0.5, 0.04))
PY
"$melon" report "$tmp/beyond" --out "$tmp/rbeyond" --no-figures 2>"$tmp/err"
k="$tmp/rbeyond/report.md"
check "files without negatives pool with 99" grep -q "^| default | \*\*0.3150 ± 0.0050\*\* |.* 2 |$" "$k"
check "and are not named apart" bash -c "! grep -q 'default (negatives' '$k'"
check "rankings against every item get their own table" grep -q "^\*\*toy (all items), bpr\*\*" "$k"
check "MRR, Recall and pairs table" grep -q "^## MRR, Recall, repeat and new pairs" "$k"
check "its means and standard errors" grep -q "^| toy (all items) | bpr | default | 0.0600 ± 0.0100 | 0.1500 ± 0.0500 | 0.4000 ± 0.1000 | 0.0300 ± 0.0100 | 2 |$" "$k"
check "n/a where a seed lacks them" grep -q "^| toy | bpr | default | n/a | n/a | n/a | n/a | 2 |$" "$k"
check "no MRR table for older results" bash -c "! grep -q 'MRR' '$tmp/rfloor/report.md'"

finish
