#!/usr/bin/env bash
# Messages a user meets: a full disk named with the system's reason and no
# empty or half-written file left (a real tmpfs, filled), the comma form of
# `melon data stats`, options of another strategy refused, range messages
# for open bounds, singular counts. usage: messages.sh MELON_BINARY SOURCE_DIR
set -u
melon=$1
. "$(dirname "$0")/lib.sh"

python3 - "$tmp/a.csv" "$tmp/b.csv" <<'PY'
import sys, random
r = random.Random(3)
for path, n in ((sys.argv[1], 600), (sys.argv[2], 200)):
    with open(path, "w") as f:
        f.write("user_id,item_id,timestamp\n")
        for t in range(n):
            u = r.randrange(40); f.write(f"u{u},i{(u * 3 + r.randrange(20)) % 180},{t}\n")
PY
tiny=(--batch-size 50 --epochs 1 --dim 8 --no-progress)

# --- a full disk: a real 64 KiB tmpfs in a mount namespace of its own
# (gone with the command), filled with FILL pages before the command runs
if [ "$(id -u)" = 0 ]; then ns=(unshare -m); else ns=(unshare -rm); fi
on_full_disk() { # on_full_disk DIR FILL command...
  local dir=$1 fill=$2; shift 2
  mkdir -p "$dir"
  "${ns[@]}" sh -c 'mount -t tmpfs -o size=64k tmpfs "$0" || exit 99
    dd if=/dev/zero of="$0/fill" bs=4k count='"$fill"' 2>/dev/null
    "$@"; status=$?
    find "$0" -type f ! -name fill -size 0 >"$0.empty"
    find "$0" -name "*.tmp.*" >"$0.temporary"
    exit $status' "$dir" "$@"
}
if "${ns[@]}" sh -c "mount -t tmpfs -o size=64k tmpfs '$tmp' && umount '$tmp'" 2>/dev/null; then
  on_full_disk "$tmp/full" 16 "$melon" run --data "$tmp/a.csv" "${tiny[@]}" --quiet \
    --out "$tmp/full/r.json" 2>"$tmp/err"
  check "a run on a full disk fails" [ $? = 1 ]
  check "and says the system's reason" err_has "full/r.json: write failed: No space left on device"
  check "leaving no temporary file" [ ! -s "$tmp/full.temporary" ]
  on_full_disk "$tmp/full" 16 "$melon" run --data "$tmp/a.csv" "${tiny[@]}" --quiet \
    --save-model "$tmp/full/model.bin" 2>"$tmp/err"
  check "a model saved on a full disk names the reason" err_has "No space left on device"
  mkdir -p "$tmp/res"
  for seed in 1 2; do
    "$melon" run --data "$tmp/a.csv" "${tiny[@]}" --quiet --seed $seed \
      --out "$tmp/res/r$seed.json" || echo "FAIL: a result for the report"
  done
  # every fill level: the report's files fail at different points (data,
  # script, SVG, PNG, report.md); none may be left empty, every failure
  # names the reason
  for fill in 9 10 11 12 13 14 15 16; do
    on_full_disk "$tmp/full" $fill "$melon" report "$tmp/res" --out "$tmp/full/rep" \
      >/dev/null 2>"$tmp/err"
    status=$?
    check "report on a full disk ($fill pages filled) leaves no empty file" \
      [ ! -s "$tmp/full.empty" ]
    if [ $status != 0 ]; then
      check "report on a full disk ($fill pages filled) says why" \
        err_has "No space left on device"
    fi
  done
else
  echo "SKIP: cannot mount a tmpfs here (no mount namespace); full-disk checks not run"
fi

# --- `melon data stats` takes FILE,FILE as `melon run --data` does
run data stats "$tmp/a.csv,$tmp/b.csv"
check "data stats a.csv,b.csv exits 0" [ "$(rc)" = 0 ]
check "data stats a.csv,b.csv reads both" out_has "format  *delimited (2 files)"
check "data stats a.csv,b.csv counts both" out_has "interactions  *800"

# --- timestamps that do not look like Unix seconds are named, and read
printf 'u1,i1,1400000000000\nu2,i2,1400000000500\nu1,i2,1400000001000\n' >"$tmp/ms.csv"
run data stats "$tmp/ms.csv"
check "data stats reads millisecond times" [ "$(rc)" = 0 ]
check "and warns, naming the first" \
  out_has "^warning  *.*ms.csv:1: timestamp 1400000000000 is after the year 5000 in seconds (milliseconds?)"
check "with how many there are" out_has "(3 timestamps in all are not like Unix seconds)"
run run --data "$tmp/a.csv,$tmp/ms.csv" "${tiny[@]}" --quiet
check "melon run warns on stderr" err_has "^melon: warning: .*ms.csv:1: timestamp 1400000000000"

# --- options of another strategy are refused, naming their strategies
run run --data "$tmp/a.csv" --strategy default --melon-meta-lr 5
check "a MeLON option with --strategy default exits 2" [ "$(rc)" = 2 ]
check "and names the strategies it belongs to" \
  err_has "melon-meta-lr is an option of strategies melon, melon-i, melon-p, not of default"
run run --data "$tmp/a.csv" --strategy melon --mwnet-hidden=4
check "an MWNet option with --strategy melon is refused" err_has "option of strategy mwnet, not of melon"
run run --data "$tmp/a.csv" --strategy melon-p --max-edge 5 "${tiny[@]}" --quiet
check "MeLON's options apply to its ablations" [ "$(rc)" = 0 ]
"$melon" bench --data a="$tmp/a.csv" --models bpr --strategies default,eals --seeds 1 \
  --batch-size 50 --epochs 1 --dim 8 --eals-weight 2 --results "$tmp/bres" \
  >/dev/null 2>"$tmp/err"
check "bench passes a strategy's option to its cells only" [ $? = 0 ]
check "both cells ran" [ "$(find "$tmp/bres" -name '*.json' | wc -l)" = 2 ]
check "the option reached its cell" python3 -c "
import json; assert json.load(open('$tmp/bres/a/bpr-eals-seed1.json'))['settings']['strategy'] == 'eals'"

# --- ranges with open bounds
run run --data "$tmp/a.csv" --train-ratio 1
check "--train-ratio 1 says above 0 and below 1" err_has "train-ratio '1': must be above 0 and below 1"
run run --data "$tmp/a.csv" --melon-rate-scale 0 --strategy melon
check "--melon-rate-scale 0 says above 0 and at most 1" err_has "must be above 0 and at most 1"
run run --data "$tmp/a.csv" --epochs -1
check "closed ranges still read between" err_has "must be between 0 and 100000"

# --- singular counts
run run --data "$tmp/a.csv" "${tiny[@]}"
check "1 pre-training epoch, singular" out_has "seed 1, 1 pre-training epoch$"

finish
