#!/usr/bin/env bash
# `mpirun -np R melon run --distributed`: on a short generated stream, the
# rank of every evaluated interaction, the per-batch metrics and losses and
# everything else in the result file but the timings equal a single
# process's for the same seed with 1, 2 and 4 processes
# (loopback, oversubscribed); settings it does not cover fail clearly.
# usage: distributed.sh MELON_BINARY GEN_STREAM MPIEXEC
set -u
melon=$1
gen=$2
mpiexec=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
check() {
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $what"; fi
}
# CI runs as root; the processes poll less while waiting (2 shared cores)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_mpi_yield_when_idle=1
mpirun=("$mpiexec" --oversubscribe --bind-to none)

"$gen" --out "$tmp/s.csv" --seed 5 --users 300 --items 700 --events 12000
check "generator writes the stream" [ -s "$tmp/s.csv" ]
run=(run --data "$tmp/s.csv" --model bpr --strategy default --seed 7
     --epochs 2 --dim 16 --threads 1 --quiet --no-progress)

"$melon" "${run[@]}" --ranks "$tmp/one.ranks" --per-batch "$tmp/one.pb" \
  --out "$tmp/one.json"
check "single process runs" [ -s "$tmp/one.ranks" ]
cut -d, -f1-9 "$tmp/one.pb" >"$tmp/one.metrics"

for np in 1 2 4; do
  "${mpirun[@]}" -np $np "$melon" "${run[@]}" --distributed \
    --ranks "$tmp/d$np.ranks" --per-batch "$tmp/d$np.pb" --out "$tmp/d$np.json" \
    2>"$tmp/d$np.err"
  check "$np processes exit 0" [ $? = 0 ]
  check "$np processes: every rank equal" cmp -s "$tmp/one.ranks" "$tmp/d$np.ranks"
  cut -d, -f1-9 "$tmp/d$np.pb" >"$tmp/d$np.metrics"
  check "$np processes: per-batch metrics and losses equal" \
    cmp -s "$tmp/one.metrics" "$tmp/d$np.metrics"
  check "$np processes: result file metrics and losses equal" \
    /usr/bin/python3 -c "
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
for key in a:
    if key not in ('timing', 'memory', 'per_batch'):
        assert a[key] == b[key], (key, a[key], b[key])
for key in a['per_batch']:
    assert key == 'update_s' or a['per_batch'][key] == b['per_batch'][key], key
" "$tmp/one.json" "$tmp/d$np.json"
done

# Adam's dense form moves every owned row each step: still equal
"$melon" "${run[@]}" --dense-adam --ranks "$tmp/dense1.ranks"
"${mpirun[@]}" -np 2 "$melon" "${run[@]}" --dense-adam --distributed \
  --ranks "$tmp/dense2.ranks"
check "dense Adam on 2 processes: every rank equal" \
  cmp -s "$tmp/dense1.ranks" "$tmp/dense2.ranks"

# what it does not cover says so, on every process, and writes nothing
"${mpirun[@]}" -np 2 "$melon" "${run[@]}" --strategy eals --distributed \
  --out "$tmp/no.json" 2>"$tmp/no.err"
check "another strategy fails" [ $? != 0 ]
check "and says why" grep -q "default strategy only" "$tmp/no.err"
check "and writes no result" [ ! -e "$tmp/no.json" ]
"${mpirun[@]}" -np 2 "$melon" "${run[@]}" --model ncf --distributed \
  2>"$tmp/ncf.err"
check "NCF fails" [ $? != 0 ]
check "and names the dense tensor" grep -q "dense tensor" "$tmp/ncf.err"
"${mpirun[@]}" -np 2 "$melon" "${run[@]}" --data "$tmp/missing.csv" \
  --distributed 2>"$tmp/missing.err"
check "a missing file fails" [ $? != 0 ]
check "and names it" grep -q "missing.csv" "$tmp/missing.err"

echo "distributed: $passed passed, $failed failed"
[ "$failed" = 0 ]
