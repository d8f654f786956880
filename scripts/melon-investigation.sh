#!/usr/bin/env bash
# Regenerates the numbers of docs/results/melon-investigation.md: why MeLON
# loses to Default on some streams, on BPR-MF.
#
#  1. validation sweep: Default, MeLON (paper form) and MeLON (official
#     form) under several settings, each ranking the last quarter of the
#     past (--validation 0.25), seeds 1-3;
#  2. selection: per dataset and strategy, the setting with the best mean
#     validation HR@10 (scripts/analysis/select_on_validation.py);
#  3. the selected settings on the test stream, seeds 1-5;
#  4. the comparison with the independent implementation: Default and both
#     forms at 1 and 2 pre-training epochs on ml-100k, test stream, seeds 1-5;
#  5. one-off ablations on the validation tail of ml-100k, not candidates
#     for the selection: initial b_lr, sum aggregation, meta lr 1e-5;
#  6. the learned rates of the first test batch (ml-100k, BPR-MF, seed 1,
#     5 epochs) under the default, meta lr 1e-4 and 1e-5, and the official
#     form (scripts/analysis/rate_stats.py).
#
# usage: scripts/melon-investigation.sh [RESULTS_DIR] [JOBS]
# Rerunning resumes: finished runs are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
results=${1:-results/melon-investigation}
jobs=${2:-1}
data=${MELON_SHARED_DATA:-../shared/data}
melon=${MELON_BINARY:-build/melon}
[ -x "$melon" ] || make build

datasets=(
  --data ml-100k="$data/ml-100k/u.data.gz"
  --data amazon-grocery-5core="$data/amazon-grocery-5core/train.csv.gz,$data/amazon-grocery-5core/dev.csv,$data/amazon-grocery-5core/test.csv"
  --data yelp-lbsn-1k="$data/yelp-lbsn-1k/Yelp_check_ins.txt"
)
paper=melon
official=melon:--melon-variant=official
settings=default,default-lr1e-2=default:--lr=1e-2
settings+=,melon,melon-mlr1e-4=$paper:--melon-meta-lr=1e-4
settings+=,melon-s0.1=$paper:--melon-rate-scale=0.1
settings+=,melon-mlr1e-4-s0.1=$paper:--melon-meta-lr=1e-4:--melon-rate-scale=0.1
settings+=,official=$official,official-mlr1e-4=$official:--melon-meta-lr=1e-4

# 1. validation sweep
for epochs in 1 5; do
  "$melon" bench "${datasets[@]}" --models bpr --strategies "$settings" \
    --seeds 1-3 --epochs "$epochs" --validation 0.25 --jobs "$jobs" \
    --results "$results/validation-e$epochs"
done
# 5. one-off ablations (ml-100k, 5 epochs)
"$melon" bench "${datasets[@]:0:2}" --models bpr \
  --strategies "melon-b6=$paper:--melon-init-lr-bias=-6,melon-sum=$paper:--melon-aggregation=sum,melon-mlr1e-5=$paper:--melon-meta-lr=1e-5" \
  --seeds 1-3 --epochs 5 --validation 0.25 --jobs "$jobs" \
  --results "$results/ablations-e5"

# 2. selection, 3. the selected settings on the test stream
python3 scripts/analysis/select_on_validation.py "$results"/validation-e* \
  --family default=default --family melon=melon --family official=official \
  > "$results/selected.txt"
cat "$results/selected.txt"
declare -A entry
for s in ${settings//,/ }; do entry[${s%%=*}]=$s; done
while read -r dataset model family label epochs _; do
  case $dataset in
    ml-100k) files=("${datasets[@]:0:2}") ;;
    amazon-grocery-5core) files=("${datasets[@]:2:2}") ;;
    yelp-lbsn-1k) files=("${datasets[@]:4:2}") ;;
  esac
  "$melon" bench "${files[@]}" --models "$model" \
    --strategies "selected-$family=${entry[$label]#*=}" --seeds 1-5 \
    --epochs "$epochs" --jobs "$jobs" --results "$results/selected"
done < "$results/selected.txt"

# 4. the independent implementation's setting
for epochs in 1 2; do
  "$melon" bench "${datasets[@]:0:2}" --models bpr \
    --strategies "default,melon,melon-official=$official" --seeds 1-5 \
    --epochs "$epochs" --jobs "$jobs" --results "$results/test-e$epochs"
done

# 6. the learned rates
mkdir -p "$results/rates"
for setting in melon:--melon-meta-lr=1e-3 melon-mlr1e-4:--melon-meta-lr=1e-4 \
               melon-mlr1e-5:--melon-meta-lr=1e-5 official:--melon-variant=official; do
  name=${setting%%:*}
  [ -s "$results/rates/$name.csv" ] ||
    "$melon" run --data "$data/ml-100k/u.data.gz" --model bpr --strategy melon "${setting#*:}" \
      --seed 1 --epochs 5 --dump-lr-matrix "$results/rates/$name.csv" \
      --dump-batch 0 --out "$results/rates/$name.json" >/dev/null
done
python3 scripts/analysis/rate_stats.py "$results"/rates/{melon,melon-mlr1e-4,melon-mlr1e-5,official}.csv

for d in "$results"/validation-e1 "$results"/validation-e5 "$results"/ablations-e5 "$results"/selected \
         "$results"/test-e1 "$results"/test-e2; do
  echo "== $d"
  python3 scripts/summarise.py "$d"/*/*.json --metrics HR@5,HR@10,HR@20,NDCG@5,NDCG@10,NDCG@20
done
