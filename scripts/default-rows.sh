#!/usr/bin/env bash
# Regenerates docs/results/default-rows/: Default with lazy Adam (melon's
# default) and with dense Adam (the paper's code), on BPR-MF and NCF, and
# NCF with its tower initialised by He's fan-in rule, on the three datasets
# of ../shared/data, seeds 1-5, protocol defaults, one thread per run as in
# docs/results/paper/. See docs/results/dense-adam.md and docs/ncf-tower.md.
#
# usage: scripts/default-rows.sh [RESULTS_DIR] [JOBS] [PART]
#   RESULTS_DIR  where the per-run JSON files go (default:
#                results/default-rows); rerunning resumes
#   JOBS         runs at once (default: 1)
#   PART         bpr, ncf-dense or ncf-lazy (default: all three, in that
#                order, then the report)
set -euo pipefail
cd "$(dirname "$0")/.."
results=${1:-results/default-rows}
jobs=${2:-1}
part=${3:-all}
data=${MELON_SHARED_DATA:-../shared/data}
melon=build/melon
[ -x "$melon" ] || make build

grid() { # grid MODELS STRATEGIES
  "$melon" bench \
    --data ml-100k="$data/ml-100k/u.data.gz" \
    --data amazon-grocery-5core="$data/amazon-grocery-5core/train.csv.gz,$data/amazon-grocery-5core/dev.csv,$data/amazon-grocery-5core/test.csv" \
    --data yelp-lbsn-1k="$data/yelp-lbsn-1k/Yelp_check_ins.txt" \
    --models "$1" --strategies "$2" --seeds 1-5 --epochs 5 --threads 1 \
    --jobs "$jobs" --results "$results"
}
dense=default-dense=default:--dense-adam
dense_he=default-dense-he=default:--dense-adam:--tower-init=he
lazy_he=default-he=default:--tower-init=he
case $part in
  bpr) grid bpr "default,$dense" ;;
  ncf-dense) grid ncf "$dense,$dense_he" ;;
  ncf-lazy) grid ncf "default,$lazy_he" ;;
  all) grid bpr "default,$dense"; grid ncf "$dense,$dense_he"
       grid ncf "default,$lazy_he" ;;
  *) echo "default-rows.sh: PART must be bpr, ncf-dense or ncf-lazy" >&2; exit 2 ;;
esac
[ "$part" = all ] && "$melon" report "$results" --out docs/results/default-rows
exit 0
