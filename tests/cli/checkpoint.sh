#!/usr/bin/env bash
# melon run --checkpoint / --resume: a run killed with SIGKILL while it
# runs, resumed from its last checkpoint, gives the uninterrupted run's
# per-batch metrics and losses; bad checkpoints are refused.
# usage: checkpoint.sh MELON_BINARY SOURCE_DIR
set -u
melon=$1
. "$(dirname "$0")/lib.sh"
# per-batch CSV without its last column (the update time)
metrics() { rev "$1" | cut -d, -f2- | rev; }

python3 - "$tmp/stream.csv" <<'PY'
import sys, random
r = random.Random(5)
with open(sys.argv[1], "w") as f:
    f.write("user_id,item_id,timestamp\n")
    for t in range(16000):
        u = r.randrange(400)
        f.write(f"u{u},i{(3 * u + r.randrange(60)) % 500},{1000 + t}\n")
PY
# 500 online batches of 16, each checkpointed (written, fsynced, renamed):
# the killed run lasts seconds, however fast the arithmetic
args=(--data "$tmp/stream.csv" --model ncf --strategy default --epochs 1
      --batch-size 16 --train-ratio 0.5 --dim 16 --threads 2 --quiet --no-progress)

"$melon" run "${args[@]}" --per-batch "$tmp/full.csv"
check "the uninterrupted run succeeds" [ $? = 0 ]

# Killed while running: wait (at most a minute) until the first
# checkpoint is in place, let a tenth of a second of online
# batches (each checkpointed) go by, then SIGKILL.
"$melon" run "${args[@]}" --checkpoint "$tmp/run.ckpt" --checkpoint-every 1 \
  --per-batch "$tmp/killed.csv" &
pid=$!
for _ in $(seq 1 1200); do
  [ -s "$tmp/run.ckpt" ] && break
  sleep 0.05
done
sleep 0.1
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
status=$?
pid=
check "the run was killed before it finished (status $status)" [ "$status" = 137 ]
check "a killed run leaves no per-batch file" [ ! -e "$tmp/killed.csv" ]
check "a killed run leaves a checkpoint" [ -s "$tmp/run.ckpt" ]
"$melon" run --resume "$tmp/run.ckpt" --per-batch "$tmp/resumed.csv" --quiet --no-progress
check "the resumed run succeeds" [ $? = 0 ]
check "resumed per-batch metrics and losses equal the uninterrupted run's" \
  cmp -s <(metrics "$tmp/full.csv") <(metrics "$tmp/resumed.csv")

# Refused: options that change the run, a damaged or foreign file.
"$melon" run --resume "$tmp/run.ckpt" --lr 0.5 2>"$tmp/err"
check "--resume with --lr exits 2" [ $? = 2 ]
check "--resume with --lr says why" grep -q "cannot be given with --resume" "$tmp/err"
head -c 1000 "$tmp/run.ckpt" >"$tmp/cut.ckpt"
"$melon" run --resume "$tmp/cut.ckpt" 2>"$tmp/err"
check "a truncated checkpoint exits 1" [ $? = 1 ]
check "a truncated checkpoint is named" grep -q "cut.ckpt: truncated checkpoint" "$tmp/err"
cp "$tmp/run.ckpt" "$tmp/flip.ckpt"
printf 'X' | dd of="$tmp/flip.ckpt" bs=1 seek=5000 conv=notrunc 2>/dev/null
"$melon" run --resume "$tmp/flip.ckpt" 2>"$tmp/err"
check "a corrupted checkpoint exits 1" [ $? = 1 ]
check "a corrupted checkpoint is named" grep -q "flip.ckpt: corrupted checkpoint" "$tmp/err"
"$melon" run --resume "$tmp/stream.csv" 2>"$tmp/err"
check "a file that is no checkpoint is refused" grep -q "not a melon checkpoint" "$tmp/err"

finish
