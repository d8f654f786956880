#!/usr/bin/env bash
# The `melon run` command line: help, option checking, bad input, result
# files. usage: run.sh MELON_BINARY SOURCE_DIR
set -u
melon=$1
. "$(dirname "$0")/lib.sh"

# random_stream FILE N USERS ITEMS SEED: N interactions, one a second
random_stream() {
  python3 - "$@" <<'PY'
import sys, random
path, n, users, items, seed = sys.argv[1], *map(int, sys.argv[2:])
r = random.Random(seed)
with open(path, "w") as f:
    f.write("user_id,item_id,timestamp\n")
    for t in range(n):
        f.write(f"u{r.randrange(users)},i{r.randrange(items)},{1000 + t}\n")
PY
}
# a small valid stream: 300 interactions, 30 users, 150 items
random_stream "$tmp/ok.csv" 300 30 150 7

run --help
check "melon --help exits 0" [ "$(rc)" = 0 ]
check "melon --help lists run" out_has "run"
run run --help
check "run --help exits 0" [ "$(rc)" = 0 ]
for opt in --data --model --strategy --seed --epochs --train-ratio --batch-size \
           --threads --out --per-batch --optimizer --lr --l2 --dense-adam --tower-init \
           --min-user --min-item --columns --format --negatives; do
  check "run --help lists $opt" out_has -- "$opt"
done
check "run --help shows defaults" out_has "default: 256"
run run --data "$tmp/ok.csv" --bogus 1
check "unknown option exits 2" [ "$(rc)" = 2 ]
check "unknown option is named" err_has "bogus"
run run --data "$tmp/ok.csv" --epochs abc
check "non-integer epochs exits 2" [ "$(rc)" = 2 ]
check "bad value is named" err_has "abc"
run run --data "$tmp/ok.csv" --train-ratio 1.5
check "train ratio out of range exits 2" [ "$(rc)" = 2 ]
run run --data "$tmp/ok.csv" --model svd
check "unknown model exits 2" [ "$(rc)" = 2 ]
check "unknown model lists choices" err_has "bpr"
run run
check "missing --data exits 2" [ "$(rc)" = 2 ]
run frobnicate
check "unknown command exits 2" [ "$(rc)" = 2 ]

run run --data "$tmp/missing.csv" --out "$tmp/missing.json"
check "missing file fails" [ "$(rc)" = 1 ]
check "missing file is named" err_has "missing.csv"
check "no result after failure" [ ! -e "$tmp/missing.json" ]
printf 'user,item,time\na,b,1\na,c,notatime\n' >"$tmp/bad.csv"
run run --data "$tmp/bad.csv" --out "$tmp/bad.json"
check "bad timestamp fails" [ "$(rc)" = 1 ]
check "bad timestamp names line 3 and value" err_has "bad.csv:3.*notatime"
check "no result after bad timestamp" [ ! -e "$tmp/bad.json" ]
run run --data "$tmp/ok.csv" --min-user 1000 --out "$tmp/k.json"
check "k-core leaving nothing fails" [ "$(rc)" = 1 ]
check "no result after empty k-core" [ ! -e "$tmp/k.json" ]
run run --data "$tmp/ok.csv" --batch-size 512 --out "$tmp/short.json"
check "stream too short fails" [ "$(rc)" = 1 ]
check "no result for a short stream" [ ! -e "$tmp/short.json" ]

run run --data "$tmp/ok.csv" --batch-size 32 --epochs 2 --dim 8 --seed 3 \
    --out "$tmp/a.json" --per-batch "$tmp/a.csv" --threads 1
check "valid run exits 0" [ "$(rc)" = 0 ]
check "table printed" out_has "NDCG"
check "JSON parses with the protocol fields" python3 -c "
import json,sys
r=json.load(open('$tmp/a.json'))
assert r['settings']['seed']==3 and r['settings']['batch_size']==32
assert r['dataset']['interactions']==300 and r['dataset']['batches']==10
assert r['dataset']['test_batches']==2
for k in ('HR@5','HR@10','HR@20','NDCG@5','NDCG@10','NDCG@20'):
    assert 0<=r['metrics'][k]<=1
assert len(r['per_batch']['NDCG@10'])==2
assert r['timing']['update_s_per_batch']['median']>0
"
check "per-batch CSV has one row per online batch" [ "$(wc -l <"$tmp/a.csv")" = 3 ]
run run --data "$tmp/ok.csv" --batch-size 32 --epochs 2 --dim 8 --seed 3 \
    --out "$tmp/b.json" --threads 1 --quiet
check "quiet run prints no table" [ ! -s "$tmp/out" ]
check "same seed and threads give identical metrics" python3 -c "
import json
a=json.load(open('$tmp/a.json'));b=json.load(open('$tmp/b.json'))
assert a['metrics']==b['metrics'] and a['per_batch']['NDCG@10']==b['per_batch']['NDCG@10']
"
run run --data "$tmp/ok.csv" --batch-size 32 --epochs 1 --dim 8 --out /nonexistent-dir/r.json
check "unwritable result path fails" [ "$(rc)" = 1 ]

# NCF's tower initialisation: recorded in the result, named as a deviation
run run --data "$tmp/ok.csv" --model ncf --batch-size 32 --epochs 1 --dim 8 \
  --layers 8,8 --tower-init he --dense-adam --no-progress --quiet --out "$tmp/he.json"
check "ncf --tower-init he runs" [ "$(rc)" = 0 ]
check "the result says tower_init he, adam-dense, and the deviation" python3 -c "
import json; r = json.load(open('$tmp/he.json'))
assert r['settings']['tower_init'] == 'he' and r['settings']['optimizer'] == 'adam-dense'
assert any('tower-init he' in d for d in r['protocol_deviations'])"
check "the default run says tower_init normal" python3 -c "
import json; assert json.load(open('$tmp/a.json'))['settings']['tower_init'] == 'normal'"
run run --data "$tmp/ok.csv" --model ncf --tower-init glorot
check "unknown tower init exits 2" [ "$(rc)" = 2 ]
check "unknown tower init lists the choices" err_has "he"

# S2Meta's stop controller: runs end to end; a setting it cannot honour is
# refused with the reason
run run --data "$tmp/ok.csv" --model bpr --strategy s2meta --s2meta-flexible \
  --s2meta-steps 5 --s2meta-min-steps 2 --epochs 1 --batch-size 16 --dim 8 \
  --out "$tmp/flexible.json"
check "s2meta --s2meta-flexible runs" [ "$(rc)" = 0 ]
check "s2meta --s2meta-flexible writes its result" [ -s "$tmp/flexible.json" ]
run run --data "$tmp/ok.csv" --model bpr --strategy s2meta --s2meta-flexible \
  --epochs 1 --batch-size 16 --dim 8 --out "$tmp/flexible1.json"
check "s2meta --s2meta-flexible with one step fails" [ "$(rc)" = 1 ]
check "s2meta --s2meta-flexible with one step says why" err_has "needs 1 <= min-steps < steps"
check "no result left by the refused run" [ ! -e "$tmp/flexible1.json" ]

# a run whose loss explodes finishes, says so on stderr and in its result
run run --data "$tmp/ok.csv" --batch-size 32 --epochs 3 --dim 8 --optimizer sgd \
  --lr 100 --init-std 1 --no-progress --quiet --out "$tmp/diverged.json"
check "a diverging run still exits 0" [ "$(rc)" = 0 ]
check "a diverging run is named on stderr" err_has "warning: .*the default updates diverged"
check "with the options that set its learning rates, as a sentence" \
  err_has "melon run: the learning rate of default is set by --lr\.$"
check "its result carries the warning" python3 -c "
import json; assert 'diverged' in json.load(open('$tmp/diverged.json'))['warning']"
run run --data "$tmp/ok.csv" --batch-size 32 --epochs 2 --dim 8 --no-progress --quiet \
  --out "$tmp/sane.json"
check "a sane run has no warning" python3 -c "
import json; assert json.load(open('$tmp/sane.json'))['warning'] == ''"

# --negatives: N sampled items or every item; the ranks file says which
# interactions repeat a pair and how many negatives each was ranked against
random_stream "$tmp/repeats.csv" 400 20 40 11
for bad in 0 -3 x 2.5; do
  run run --data "$tmp/repeats.csv" --negatives "$bad"
  check "--negatives $bad exits 2" [ "$(rc)" = 2 ]
  check "--negatives $bad is named" err_has "negatives '$bad'"
done
run run --data "$tmp/repeats.csv" --negatives 40 --batch-size 40 --epochs 1 \
  --dim 8 --out "$tmp/n40.json"
check "--negatives as many as the items fails" [ "$(rc)" = 1 ]
check "--negatives as many as the items says why" err_has "40 negatives per interaction need more than 40 items"
check "no result after too many negatives" [ ! -e "$tmp/n40.json" ]
for neg in all 5 99; do
  run run --data "$tmp/repeats.csv" --negatives $neg --batch-size 40 --epochs 1 \
    --dim 8 --threads 1 --no-progress --out "$tmp/n$neg.json" --ranks "$tmp/n$neg.csv"
  if [ $neg = 99 ]; then
    check "--negatives 99 needs 99 items never taken" [ "$(rc)" = 1 ]
    continue
  fi
  check "--negatives $neg runs" [ "$(rc)" = 0 ]
  check "--negatives $neg: table names the negatives" out_has "ranked against"
  check "--negatives $neg: ranks, repeats and metrics agree with the stream" \
    python3 - "$tmp/repeats.csv" "$tmp/n$neg.csv" "$tmp/n$neg.json" $neg <<'PY'
import csv, json, sys
events = list(csv.DictReader(open(sys.argv[1])))
rows = list(csv.DictReader(open(sys.argv[2])))
res = json.load(open(sys.argv[3]))
neg = sys.argv[4]
assert res["settings"]["negatives"] == (neg if neg == "all" else int(neg))
assert any("negatives" in d for d in res["protocol_deviations"])
first = len(events) - len(rows)          # position of the first ranked event
assert first == 320 and all(int(r["batch"]) >= 8 for r in rows)
hits = {5: 0, 10: 0, 20: 0}; mrr = 0.0; repeats = 0
for k, row in enumerate(rows):
    p = first + k
    ev = events[p]
    assert (row["user"], row["item"]) == (ev["user_id"], ev["item_id"])
    end = (p // 40 + 1) * 40              # end of the event's batch
    taken = {e["item_id"] for e in events[:end] if e["user_id"] == ev["user_id"]}
    never = {e["item_id"] for e in events if e["user_id"] == ev["user_id"]}
    repeat = any(e["user_id"] == ev["user_id"] and e["item_id"] == ev["item_id"]
                 for e in events[:p])
    assert int(row["repeat"]) == repeat, row
    want = 40 - len(taken) if neg == "all" else int(neg)
    assert int(row["negatives"]) == want, (row, want)
    if neg != "all":
        assert 40 - len(never) >= int(neg)
    rank = int(row["rank"])
    assert 1 <= rank <= want + 1
    for c in hits: hits[c] += rank <= c
    mrr += 1.0 / rank if rank <= 10 else 0.0
    repeats += repeat
n = len(rows)
m = res["metrics"]
for c in hits: assert abs(m[f"HR@{c}"] - hits[c] / n) < 1e-12
assert abs(m["MRR@10"] - mrr / n) < 1e-12
pairs = res["metrics_by_pair"]
assert pairs["repeat"]["evaluated"] == repeats > 0
assert pairs["new"]["evaluated"] == n - repeats
for k in ("Recall@5", "Recall@10", "Recall@20", "MRR@20"):
    assert 0 <= m[k] <= 1
assert 0 < m["lists"] <= n
PY
done

finish
