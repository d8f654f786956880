#!/usr/bin/env bash
# The paper's Amazon size end to end: generates the stream with gen_stream
# (seed 1) unless it is there, then replays it with `melon run` for each
# configuration given (default: Default and MeLON's official form on
# BPR-MF), printing wall and CPU time, peak memory and the phases.
# usage: bench/amazon_size.sh [BUILD_DIR [WORK_DIR [RUN_OPTIONS...]]]
set -euo pipefail
build=${1:-build}
work=${2:-amazon-size}
shift $(( $# > 2 ? 2 : $# ))
mkdir -p "$work"
stream="$work/amazon-size.csv"
[ -s "$stream" ] || "$build/bench/gen_stream" --out "$stream" --seed 1
configs=("default" "melon --melon-variant official")
[ $# -gt 0 ] && configs=("$*")
export OMP_WAIT_POLICY=passive
for config in "${configs[@]}"; do
  name=$(echo "$config" | tr ' ' '_' | tr -d -)
  # shellcheck disable=SC2086
  /usr/bin/time -f "%e %U %S %M" -o "$work/$name.time" \
    "$build/melon" run --data "$stream" --model bpr --strategy $config \
    --seed 1 --threads 2 --no-progress --quiet --out "$work/$name.json"
  /usr/bin/python3 - "$work/$name.json" "$work/$name.time" "$config" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
wall, user, system, rss_kb = (float(x) for x in open(sys.argv[2]).read().split())
t = r["timing"]
online = t["total_s"] - t["load_s"] - t["pretrain_s"]
print(f"{sys.argv[3]}: wall {wall:.1f} s, CPU {user + system:.1f} s, "
      f"peak RSS {rss_kb / 1024:.0f} MB; load {t['load_s']:.1f} s, "
      f"pre-training {t['pretrain_s']:.1f} s, setup and online "
      f"{online:.1f} s (update median "
      f"{1e3 * t['update_s_per_batch']['median']:.2f} ms); "
      f"HR@10 {r['metrics']['HR@10']:.4f}")
PY
done
