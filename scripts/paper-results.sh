#!/usr/bin/env bash
# Regenerates docs/results/paper/: every strategy on BPR-MF and NCF on the
# three datasets of ../shared/data, 5 seeds, protocol defaults, then the
# report with the paper's tables and figures, and the per-run result files
# in docs/results/paper/runs/. Default runs twice: with lazy
# Adam (melon's default) and with dense Adam (default-dense, as the paper's
# code ran its baseline).
#
# usage: scripts/paper-results.sh [RESULTS_DIR] [JOBS]
#   RESULTS_DIR  where the per-run JSON files go (default: results/paper);
#                rerunning resumes, finished cells are kept
#   JOBS         runs at once (default: 1; each run uses the cores / JOBS;
#                with 2 jobs on 2 cores every run is single-threaded)
set -euo pipefail
cd "$(dirname "$0")/.."
results=${1:-results/paper}
jobs=${2:-1}
data=${MELON_SHARED_DATA:-../shared/data}
melon=build/melon
[ -x "$melon" ] || make build

# Default twice: with melon's lazy Adam, and with the dense Adam of the
# paper's code (default-dense), which is the paper's baseline
strategies=default,default-dense=default:--dense-adam
strategies+=,eals,mwnet,metasgd,s2meta,sml,melon-i,melon-p,melon
strategies+=,melon-official=melon:--melon-variant=official

"$melon" bench \
  --data ml-100k="$data/ml-100k/u.data.gz" \
  --data amazon-grocery-5core="$data/amazon-grocery-5core/train.csv.gz,$data/amazon-grocery-5core/dev.csv,$data/amazon-grocery-5core/test.csv" \
  --data yelp-lbsn-1k="$data/yelp-lbsn-1k/Yelp_check_ins.txt" \
  --models bpr,ncf --strategies "$strategies" --seeds 1-5 --epochs 5 \
  --lr-matrix-batch 0 --jobs "$jobs" --results "$results"
"$melon" report "$results" --out docs/results/paper
# the per-run result files beside the report (not the learning-rate dumps,
# about 280 MB a dataset), so that a later build can be checked run by run
for dir in "$results"/*/; do
  runs=docs/results/paper/runs/$(basename "$dir")
  mkdir -p "$runs"
  cp "$dir"*.json "$runs"/
done
