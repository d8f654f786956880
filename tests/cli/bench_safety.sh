#!/usr/bin/env bash
# `melon bench` keeps a results folder honest: a result is reused only when
# its settings are those asked for; bad values and paths stop bench before
# any cell with melon run's own message; one bench at a time per folder;
# stopping bench (SIGTERM, or SIGKILL) stops its cells. Real processes and
# signals, every wait bounded. usage: bench_safety.sh MELON_BINARY SOURCE_DIR
set -u
melon=$1
. "$(dirname "$0")/lib.sh"
slow_bench=
cleanup() {
  [ -n "$slow_bench" ] && kill -KILL "$slow_bench" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
# waits up to $1 tenths of a second for a command to succeed
within() {
  local tenths=$1; shift
  for _ in $(seq "$tenths"); do "$@" && return 0; sleep 0.1; done
  "$@"
}
alive() { kill -0 "$1" 2>/dev/null; }
none_alive() { for p in "$@"; do alive "$p" && return 1; done; return 0; }
# the processes whose parent is $1, from /proc (fields: pid (comm) state ppid)
children() {
  local stat pid comm state ppid rest
  for stat in /proc/[0-9]*/stat; do
    read -r pid comm state ppid rest <"$stat" 2>/dev/null || continue
    [ "$ppid" = "$1" ] && printf '%s ' "$pid"
  done
}
has_children() { [ -n "$(children "$1")" ]; }

python3 - "$tmp/a.csv" <<'PY'
import sys, random
r = random.Random(3)
with open(sys.argv[1], "w") as f:
    f.write("user_id,item_id,timestamp\n")
    for t in range(600):
        u = r.randrange(40); f.write(f"u{u},i{(u * 3 + r.randrange(20)) % 180},{t}\n")
PY
grid=(--data toy="$tmp/a.csv" --models bpr --strategies default,fast=default:--lr=0.01
      --seeds 1,2 --batch-size 50 --dim 8 --results "$tmp/res")

# --- a result is reused only when its settings are those asked for
"$melon" bench "${grid[@]}" --epochs 1 >/dev/null 2>"$tmp/err"
check "the grid runs" [ $? = 0 ]
stamp=$(stat -c %Y "$tmp/res/toy/bpr-default-seed1.json")
sleep 1
"$melon" bench "${grid[@]}" --epochs 1 >/dev/null 2>"$tmp/err"
check "the same settings resume" [ $? = 0 ]
check "and keep the results" [ "$(stat -c %Y "$tmp/res/toy/bpr-default-seed1.json")" = "$stamp" ]
"$melon" bench "${grid[@]}" --epochs 3 --lr 0.02 >/dev/null 2>"$tmp/err"
check "other settings into the same folder are refused" [ $? = 2 ]
check "naming the result and what differs" \
  err_has "toy/bpr-default-seed1.json was run with other settings: epochs 1 (asked: 3), lr 0.001 (asked: 0.02)"
check "a label's own options are compared too" \
  err_has "toy/bpr-fast-seed2.json was run with other settings: epochs 1 (asked: 3), lr 0.01 (asked: 0.02)"
check "and no cell was started" err_has "4 results in .* were run with settings other than those asked for, so no cell was started"
check "the old results are untouched" [ "$(stat -c %Y "$tmp/res/toy/bpr-default-seed1.json")" = "$stamp" ]
"$melon" bench "${grid[@]}" --epochs 1 --min-user 2 >/dev/null 2>"$tmp/err"
check "a dataset setting differs too" err_has "dataset.min_user 0 (asked: 2)"
"$melon" bench "${grid[@]}" --epochs 1 --jobs 2 >/dev/null 2>"$tmp/err"
check "another thread count is not another setting" [ $? = 0 ]
# a result from before a setting existed matches when its default is asked
python3 - "$tmp/res/toy/bpr-default-seed2.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); del r["settings"]["negatives"]
json.dump(r, open(sys.argv[1], "w"))
PY
"$melon" bench "${grid[@]}" --epochs 1 >/dev/null 2>"$tmp/err"
check "a setting a result predates counts as its default" [ $? = 0 ]
"$melon" bench "${grid[@]}" --epochs 1 --negatives 50 >/dev/null 2>"$tmp/err"
check "but not as another value" err_has "bpr-default-seed2.json was run with other settings: negatives not recorded (asked: 50)"

# --- bad values and paths stop bench before any cell, with the real message
"$melon" bench "${grid[@]}" --results "$tmp/bad" --lr nan >/dev/null 2>"$tmp/err"
check "--lr nan is refused" [ $? = 2 ]
check "with melon run's message" err_has "melon run: --lr 'nan': is not a finite number"
check "before any cell" [ -z "$(find "$tmp/bad" -name '*.log' 2>/dev/null)" ]
"$melon" bench --data "$tmp/nosuch.csv" --models bpr --strategies default --seeds 1 \
  --results "$tmp/bad" >/dev/null 2>"$tmp/err"
check "a missing --data is refused" [ $? = 1 ]
check "naming the file and the reason" err_has "nosuch.csv: cannot open: No such file or directory"
check "before any cell" [ -z "$(find "$tmp/bad" -name '*.log' 2>/dev/null)" ]
"$melon" bench "${grid[@]}" --results "$tmp/bad" --strategies s2=s2meta:--s2meta-flexible:--s2meta-steps=1 \
  --seeds 1 --epochs 1 >/dev/null 2>"$tmp/err"
check "a cell failing as it runs names its reason" err_has "cell failed (exit 1): melon run: error: .*min-steps"

# --- one bench per folder, and stopping bench stops its cells
slow=(--data toy="$tmp/a.csv" --models bpr --strategies default --seeds 1,2,3 --batch-size 50
      --dim 8 --epochs 100000 --jobs 2 --results "$tmp/slow")
"$melon" bench "${slow[@]}" >/dev/null 2>"$tmp/slow.err" &
slow_bench=$!
check "the slow grid starts its cells" within 200 has_children "$slow_bench"
cells=$(children "$slow_bench")
"$melon" bench "${slow[@]}" >/dev/null 2>"$tmp/err"
check "a second bench on the folder is refused" [ $? = 1 ]
check "naming the bench that holds it" err_has "is in use by another melon bench (pid $slow_bench)"
kill -TERM "$slow_bench"
wait "$slow_bench"
status=$?
slow_bench=
check "SIGTERM ends bench as the signal does" [ $status = 143 ]
check "and stops its cells" within 100 none_alive $cells
check "saying so" grep -q "stopped by Terminated; stopping 2 running cells" "$tmp/slow.err"
check "no result for the stopped cells" [ -z "$(find "$tmp/slow" -name '*.json')" ]
# started with SIGHUP ignored, as nohup does: a hangup leaves it running
(trap '' HUP; exec "$melon" bench "${slow[@]}" >/dev/null 2>&1) &
slow_bench=$!
check "the folder is free again" within 200 has_children "$slow_bench"
cells=$(children "$slow_bench")
kill -HUP "$slow_bench"
sleep 0.5
check "an ignored SIGHUP stays ignored" alive "$slow_bench"
kill -KILL "$slow_bench"
wait "$slow_bench" 2>/dev/null
slow_bench=
check "SIGKILL of bench stops its cells too" within 100 none_alive $cells

finish
