#!/usr/bin/env bash
# `melon run --rerun`: every strategy, on BPR-MF and NCF, repeated from its
# result file alone gives the same per-batch metrics and losses.
# usage: rerun.sh MELON_BINARY SOURCE_DIR
set -u
melon=$1
. "$(dirname "$0")/lib.sh"

# a short stream: 1200 interactions, 40 users, 300 items
python3 - "$tmp/s.csv" <<'PY'
import sys, random
r = random.Random(11)
with open(sys.argv[1], "w") as f:
    f.write("user_id,item_id,timestamp\n")
    for t in range(1200):
        f.write(f"u{r.randrange(40)},i{min(r.randrange(300), r.randrange(300))},{t}\n")
PY

same() { # same A.json B.json: metrics, per-batch series and losses agree
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for key in ("metrics", "metrics_by_user", "pretrain_loss", "config"):
    assert a[key] == b[key], key
# where a run wrote is not one of its settings
assert not {"out", "quiet", "per-batch", "ranks", "checkpoint"} & set(a["config"]["run"])
for k, v in a["per_batch"].items():
    if k != "update_s":
        assert v == b["per_batch"][k], k
PY
}

common=(--batch-size 64 --epochs 1 --dim 8 --layers 8,4 --threads 2 --quiet
        --no-progress)
for model in bpr ncf; do
  for strategy in default eals eals-replay eals-als mwnet metasgd s2meta sml \
                  melon melon-i melon-p melon-official; do
    name=$strategy
    case $strategy in # small settings of the strategy's own
      melon-official) name=melon; own=(--melon-variant official --max-edge 4) ;;
      melon*) own=(--max-edge 4) ;;
      sml) own=(--sml-hidden 16) ;;
      s2meta) own=(--s2meta-hidden 4) ;;
      eals-als) own=(--eals-offline-iters 2) ;;
      *) own=() ;;
    esac
    "$melon" run --data "$tmp/s.csv" --model $model --strategy $name \
      "${own[@]}" "${common[@]}" --seed 5 --out "$tmp/a.json" 2>"$tmp/err"
    rc=$?
    if [ $rc = 3 ]; then continue; fi # not applicable (e.g. SML on NCF)
    check "$model $strategy runs" [ $rc = 0 ]
    "$melon" run --rerun "$tmp/a.json" --out "$tmp/b.json" --quiet 2>"$tmp/err"
    check "$model $strategy reruns" [ $? = 0 ]
    check "$model $strategy: the rerun's metrics are the run's" same "$tmp/a.json" "$tmp/b.json"
  done
done

# a rerun's other options change the recorded run
"$melon" run --data "$tmp/s.csv" "${common[@]}" --out "$tmp/a.json" 2>/dev/null
"$melon" run --rerun "$tmp/a.json" --seed 6 --quiet --out "$tmp/c.json" 2>/dev/null
check "an option given with --rerun changes the run" /usr/bin/python3 -c "
import json; a, c = (json.load(open('$tmp/' + n)) for n in ('a.json', 'c.json'))
assert c['settings']['seed'] == 6 and a['per_batch']['loss'] != c['per_batch']['loss']"
check "the rerun does not overwrite the recorded result" /usr/bin/python3 -c "
import json; assert json.load(open('$tmp/a.json'))['settings']['seed'] == 1"

# a named value (--negatives all) is recorded and read back
"$melon" run --data "$tmp/s.csv" "${common[@]}" --negatives all --out "$tmp/n.json" 2>/dev/null
"$melon" run --rerun "$tmp/n.json" --quiet --out "$tmp/n2.json" 2>/dev/null
check "--negatives all reruns" same "$tmp/n.json" "$tmp/n2.json"

# bad result files are named
echo '{"settings": {}}' >"$tmp/old.json"
"$melon" run --rerun "$tmp/old.json" 2>"$tmp/err"
check "a file without settings is refused" [ $? = 2 ]
check "naming the file" grep -q "old.json: no \"config\" object" "$tmp/err"
/usr/bin/python3 - "$tmp/a.json" "$tmp/bad.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); r["config"]["run"]["batch-size"] = 0
json.dump(r, open(sys.argv[2], "w"))
PY
"$melon" run --rerun "$tmp/bad.json" 2>"$tmp/err"
check "a bad recorded value is refused" [ $? = 2 ]
check "naming file, setting and value" grep -q "bad.json: config.run.batch-size: --batch-size '0'" "$tmp/err"
"$melon" run --rerun "$tmp/missing.json" 2>"$tmp/err"
check "a missing file is named" grep -q "missing.json: cannot open" "$tmp/err"

finish rerun.sh
