#!/usr/bin/env bash
# `melon tune`: the test stream is never used (a stream whose test part is
# replaced tunes to the same choice, run for run), a tuning killed with
# SIGKILL resumes to the same choice, the chosen settings file repeats its
# validation runs through melon run --settings, and bad input is refused
# naming the file, line and value.
# usage: tune.sh MELON_BINARY SOURCE_DIR
set -u
melon=$1
. "$(dirname "$0")/lib.sh"

# 2000 interactions, 50 users, 200 items; batches of 50 make 40 batches, of
# which 32 are the past (interactions 0-1599) and 8 the test stream. A
# second copy replaces the test part by other users, other items and
# other times; a third shuffles the test part's rows (times kept in order).
/usr/bin/python3 - "$tmp" <<'PY'
import random, sys
d = sys.argv[1]
r = random.Random(7)
rows = [(f"u{r.randrange(50)}", f"i{min(r.randrange(200), r.randrange(200))}", t)
        for t in range(2000)]
past, test = rows[:1600], rows[1600:]
q = random.Random(8)
replaced = [(f"x{q.randrange(90)}", f"y{q.randrange(400)}", 5000 + 3 * k)
            for k in range(400)]
pairs = [(u, i) for u, i, _ in test]
q.shuffle(pairs)
shuffled = [(u, i, t) for (u, i), (_, _, t) in zip(pairs, test)]
for name, part in (("s", test), ("replaced", replaced), ("shuffled", shuffled)):
    with open(f"{d}/{name}.csv", "w") as f:
        f.write("user_id,item_id,timestamp\n")
        for u, i, t in past + part:
            f.write(f"{u},{i},{t}\n")
PY

run=(--model bpr --batch-size 50 --dim 8 --threads 2 --quiet)
common=("${run[@]}" --max-edge 4)
tune() { # tune DATA DIR [options]: default and melon, 6 candidates, seeds 1-3
  local data=$1 dir=$2; shift 2
  "$melon" tune --data "$data" --name syn --results "$dir" \
    --strategies default,melon --seeds 1-3 --trials 6 "${common[@]}" "$@"
}
# what a tuning chose and every run's score (not how long the runs took)
choices() { # choices DIR
  for s in default melon; do grep -v -e '^#.*s of runs' -e '^data=' "$1/$s.settings"; done
  cut -f1-4,6- "$1/trials.log" | tail -n +2
}

# the test stream is never used
cp "$tmp/s.csv" "$tmp/data.csv"
tune "$tmp/data.csv" "$tmp/a" >/dev/null 2>"$tmp/err"
check "tune runs" [ $? = 0 ]
check "two choices written" [ -s "$tmp/a/default.settings" -a -s "$tmp/a/melon.settings" ]
check "runs logged" [ "$(grep -c '^trial' "$tmp/a/trials.log")" -ge 12 ]
for alt in replaced shuffled; do
  cp "$tmp/$alt.csv" "$tmp/data.csv"
  tune "$tmp/data.csv" "$tmp/$alt" >/dev/null 2>"$tmp/err"
  check "tune runs on the $alt stream" [ $? = 0 ]
  check "the $alt test part changes nothing the tuning sees" \
    cmp -s <(choices "$tmp/a") <(choices "$tmp/$alt")
done
# the alterations matter to a run on the test stream
"$melon" run --data "$tmp/s.csv" --strategy default "${run[@]}" --out "$tmp/t1.json"
"$melon" run --data "$tmp/replaced.csv" --strategy default "${run[@]}" --out "$tmp/t2.json"
check "the replaced test part changes test runs" \
  /usr/bin/python3 -c 'import json,sys; a,b=(json.load(open(p))["metrics"] for p in sys.argv[1:]); assert a!=b' \
  "$tmp/t1.json" "$tmp/t2.json"

# the chosen settings repeat their validation runs
"$melon" run --settings "$tmp/a/default.settings" --data "$tmp/s.csv" --validation 0.25 \
  --seed 2 --threads 2 --quiet --out "$tmp/v.json" 2>"$tmp/err"
check "melon run --settings runs" [ $? = 0 ]
chosen=$(sed -n 's/^# chosen: //p' "$tmp/a/default.settings")
logged=$(awk -F'\t' -v c="$chosen" '$1=="trial" && $2=="default" && $3==2 && $7==c {print $4}' \
         "$tmp/a/trials.log")
check "the chosen settings score as logged (seed 2)" /usr/bin/python3 -c '
import json, sys
got = json.load(open(sys.argv[1]))["metrics"]["HR@10"]
assert sys.argv[2] and abs(got - float(sys.argv[2])) < 1e-12, (got, sys.argv[2])' \
  "$tmp/v.json" "$logged"

# SIGKILL in the middle, then a restart: the same choice, finished runs
# read back; a torn last line is dropped (a longer tuning: 30 candidates)
cp "$tmp/s.csv" "$tmp/data.csv"
tune "$tmp/data.csv" "$tmp/whole" --trials 30 >/dev/null 2>"$tmp/err"
check "a longer tuning runs" [ $? = 0 ]
"$melon" tune --data "$tmp/data.csv" --name syn --results "$tmp/k" \
  --strategies default,melon --seeds 1-3 --trials 30 "${common[@]}" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  n=$(grep -c '^trial' "$tmp/k/trials.log" 2>/dev/null)
  [ "${n:-0}" -ge 8 ] && break
  sleep 0.05
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
pid=
n_before=$(grep -c '^trial' "$tmp/k/trials.log")
check "killed in the middle" [ "$n_before" -ge 8 -a "$n_before" -lt "$(grep -c '^trial' "$tmp/whole/trials.log")" ]
printf 'trial\tmelon\t2\t0.5' >>"$tmp/k/trials.log"
tune "$tmp/data.csv" "$tmp/k" --trials 30 >/dev/null 2>"$tmp/err"
check "the restart finishes" [ $? = 0 ]
check "the restart reads the finished runs back" grep -q "runs read back" "$tmp/err"
check "the restart chooses the same" cmp -s <(choices "$tmp/whole") <(choices "$tmp/k")

# melon bench --tuned runs each choice on the test stream, and melon
# report shows the choices beside the tables ($tmp/data.csv is s.csv again)
"$melon" bench --tuned "$tmp/a" --results "$tmp/bench" --seeds 1 --threads 2 \
  >/dev/null 2>"$tmp/err"
check "bench --tuned runs" [ $? = 0 ]
check "bench --tuned: a result per strategy" \
  [ -s "$tmp/bench/syn/bpr-default-seed1.json" -a -s "$tmp/bench/syn/bpr-melon-seed1.json" ]
check "bench --tuned: the choices beside the results" \
  cmp -s "$tmp/a/melon.settings" "$tmp/bench/syn/tuned/bpr-melon.settings"
check "bench --tuned: the runs use the chosen settings" /usr/bin/python3 - \
  "$tmp/bench/syn/bpr-melon-seed1.json" "$(sed -n 's/^# chosen: //p' "$tmp/a/melon.settings")" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))["config"]
flat = {k: v for room in cfg.values() if isinstance(room, dict) for k, v in room.items()}
assert flat["validation"] == 0 and flat["max-edge"] == 4 and flat["batch-size"] == 50
for pair in sys.argv[2].split():
    name, value = pair.split("=")
    assert abs(float(flat[name]) - float(value)) <= 1e-6 * abs(float(value)), (name, flat[name], value)
PY
"$melon" report "$tmp/bench" --out "$tmp/report" --no-figures >/dev/null 2>&1
check "report shows the chosen settings" \
  grep -qF "| syn | bpr | melon | \`$(sed -n 's/^# chosen: //p' "$tmp/a/melon.settings")\` | HR@10" \
  "$tmp/report/report.md"

# bad input
"$melon" tune --data "$tmp/s.csv" --results "$tmp/b" --strategies default,nosuch 2>"$tmp/err"
check "unknown strategy: status 2" [ $? = 2 ]
check "unknown strategy named" grep -q "unknown strategy 'nosuch'" "$tmp/err"
bad_space() { # bad_space "line" "expected message"
  printf '# a space\nepochs = 1..2\n%s\n' "$1" >"$tmp/space.txt"
  "$melon" tune --data "$tmp/s.csv" --results "$tmp/b" --strategies default,melon \
    --space "$tmp/space.txt" "${common[@]}" 2>"$tmp/err"
  local rc=$?
  check "space '$1': status 2" [ $rc = 2 ]
  check "space '$1': says '$2'" grep -qF "$tmp/space.txt:3: $2" "$tmp/err"
}
bad_space "lr = abc..0.1 log" "--lr 'abc': is not a finite number"
bad_space "lr = 0.1..0.001" "range 0.1..0.001 of lr: the low end is above the high end"
bad_space "l2 = 0..0.1 log" "range 0..0.1 of l2: a log range needs a positive low end"
bad_space "melon-meta-lr = 1e-4..20" "--melon-meta-lr '20': must be between 0 and 10"
bad_space "nosuch = 1..2" "unknown setting 'nosuch'"
bad_space "default:melon-meta-lr = 1e-4..1e-2" "melon-meta-lr is not a setting of default's runs"
bad_space "seed = 1..3" "seed cannot be searched"
bad_space "lr 0.1" "'lr 0.1': expected NAME = LOW..HIGH"
bad_space "melon-variant = paper,nosuch" "--melon-variant 'nosuch': must be one of: paper official"
check "no results folder from bad input" [ ! -e "$tmp/b" ]
printf 'epochs = 1..2\nmelon:melon-variant = paper,official\nlr = 0.01\n' >"$tmp/space.txt"
"$melon" tune --list-space --strategies default,melon --space "$tmp/space.txt" >"$tmp/out"
check "a good space file changes the spaces" \
  grep -q "melon-variant .*paper, official" "$tmp/out"
"$melon" tune --data "$tmp/s.csv" --results "$tmp/a" --strategies default \
  --validation 0.5 "${common[@]}" 2>"$tmp/err"
check "a log of another tuning: status 1" [ $? = 1 ]
check "a log of another tuning: says which setting differs" \
  grep -q "another tuning (it has validation=0.25, this tuning validation=0.5)" "$tmp/err"
"$melon" tune --data "$tmp/s.csv" --results "$tmp/b" --validation 0 2>"$tmp/err"
check "--validation 0 refused" [ $? = 2 ]
"$melon" tune --data "$tmp/s.csv" --results "$tmp/b" --seed 3 2>"$tmp/err"
check "--seed refused, pointing to --seeds" grep -q "use --seeds" "$tmp/err"
"$melon" tune --data "$tmp/s.csv" --results "$tmp/b" --seeds 3-1 2>"$tmp/err"
check "--seeds 3-1 refused" [ $? = 2 ]
printf 'strategy=default\nlr=fast\n' >"$tmp/bad.settings"
"$melon" run --settings "$tmp/bad.settings" --data "$tmp/s.csv" --quiet 2>"$tmp/err"
check "a bad settings file: status 2" [ $? = 2 ]
check "a bad settings file: names file, line and value" \
  grep -qF "$tmp/bad.settings:2: --lr 'fast': is not a finite number" "$tmp/err"

# docs/strategies.md lists the search spaces as the tables declare them
src=$2
sed -n '/^<!-- melon tune --list-space --markdown -->$/,/^<!-- end of the list -->$/p' \
  "$src/docs/strategies.md" | sed '1d;$d' >"$tmp/listed"
"$melon" tune --list-space --markdown >"$tmp/spaces"
check "docs/strategies.md lists the current search spaces" cmp -s "$tmp/listed" "$tmp/spaces"

finish tune
