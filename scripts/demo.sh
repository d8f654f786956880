#!/usr/bin/env bash
# The main job: fetch MovieLens 100K into the cache (once), then replay it as
# an online stream and compare the popularity floor with BPR-MF and NCF
# updated by Default fine-tuning, under the protocol's defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
melon=build/melon
out=${MELON_DEMO_OUT:-demo-results}
mkdir -p "$out"

if ! "$melon" data path ml-100k >/dev/null 2>&1; then
  if ! "$melon" data fetch ml-100k; then
    # Offline: install from a local copy of the GroupLens file when one is
    # beside the project (the checksum is verified the same way).
    local_copy=../shared/data/ml-100k/u.data.gz
    [ -f "$local_copy" ] || { echo "melon demo: cannot fetch ml-100k" >&2; exit 1; }
    "$melon" data fetch ml-100k --from "$local_copy"
  fi
fi

for model in pop bpr ncf; do
  echo "== ml-100k, model $model, strategy default"
  "$melon" run --data ml-100k --model "$model" --strategy default --seed 1 \
    --out "$out/ml-100k-$model-default.json" --per-batch "$out/ml-100k-$model-default.csv"
done
echo
echo "Result files are in $out/"
