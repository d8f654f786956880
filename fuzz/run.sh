#!/usr/bin/env bash
# Runs a libFuzzer target for a while from a seed corpus (fuzz/corpus/
# unless a third argument names another folder), on inputs of up to
# MAX_LEN bytes (8192 unless a fourth argument says).
# Usage: bash fuzz/run.sh BINARY SECONDS [SEEDS [MAX_LEN]]
# Exits non-zero when the target crashes, leaks or times out; the failing
# input is kept in fuzz-artifacts/ beside the binary. Prints one summary line.
set -uo pipefail

if [ $# -lt 1 ]; then
  echo "usage: bash fuzz/run.sh BINARY [SECONDS] [SEEDS [MAX_LEN]]" >&2
  exit 2
fi
binary=$1
seconds=${2:-30}
seeds=${3:-$(cd "$(dirname "$0")" && pwd)/corpus}
max_len=${4:-8192}
name=$(basename "$binary")
if [ ! -x "$binary" ]; then
  echo "$name: no executable at $binary" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/melon-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT
artifacts=$(cd "$(dirname "$binary")" && pwd)/fuzz-artifacts
mkdir -p "$work/corpus" "$artifacts"

# New inputs go to the scratch corpus; the seed corpus is only read.
"$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$artifacts/" \
  "$work/corpus" "$seeds" >"$work/log" 2>&1
status=$?

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
last=$(grep -E '^#[0-9]+' "$work/log" | tail -1)
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
if [ $status -ne 0 ]; then
  tail -n 40 "$work/log" >&2
  crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/log" | tail -1)
  echo "$name: FAILED (exit $status) after ${runs:-?} runs; input: ${crash:-see log above}"
  exit 1
fi
echo "$name: ok, ${runs:-?} runs in ${seconds}s, coverage ${cov:-?}, corpus ${corp:-?}, no crash"
