#!/usr/bin/env bash
# The outputs of `melon run`: every path checked before any work, none an
# input; all written together or none; no temporary left by a failure, by
# SIGINT or SIGTERM, and those of a SIGKILL hidden and removed by the next
# run. usage: outputs.sh MELON_BINARY SOURCE_DIR
set -u
set -m # background runs keep the default SIGINT
melon=$1
. "$(dirname "$0")/lib.sh"
visible() { (cd "$1" && ls); }          # the names a user sees
hidden() { (cd "$1" && ls -A | grep '^\.' || true); }

/usr/bin/python3 - "$tmp/small.csv" "$tmp/big.csv" <<'PY'
import sys, random
r = random.Random(7)
with open(sys.argv[1], "w") as f:
    for t in range(2000):
        f.write(f"u{r.randrange(50)},i{r.randrange(200)},{t}\n")
with open(sys.argv[2], "w") as f:
    for t in range(100000):
        f.write(f"u{r.randrange(1000)},i{r.randrange(2000)},{t}\n")
PY
small=(--data "$tmp/small.csv" --batch-size 64 --dim 8 --epochs 1 --quiet --no-progress)
# a few seconds: NCF, 5 epochs over 100,000 (BPR-MF takes half a second)
medium=(--data "$tmp/big.csv" --model ncf --epochs 5 --quiet --no-progress --threads 1)
# long enough to be stopped in the middle: NCF, 20 epochs over 100,000
long=(--data "$tmp/big.csv" --model ncf --epochs 20 --quiet --no-progress --threads 1)

# 3. checked before any work: the long run fails at once
mkdir "$tmp/w"
for opt in --out --per-batch --ranks --save-model; do
  start=$(date +%s.%N)
  run run "${long[@]}" "$opt" "$tmp/nodir/x"
  took=$(echo "$(date +%s.%N) - $start" | bc)
  check "$opt in a missing folder fails" [ "$(rc)" = 1 ]
  check "$opt in a missing folder is named" err_has "$opt $tmp/nodir/x: cannot create a file in $tmp/nodir: No such file or directory"
  check "$opt is checked before any work (${took}s)" [ "$(echo "$took < 2" | bc)" = 1 ]
done
run run "${long[@]}" --strategy melon --dump-lr-matrix "$tmp/nodir/lr.csv"
check "--dump-lr-matrix in a missing folder fails at once" err_has "dump-lr-matrix $tmp/nodir/lr.csv: cannot create"
run run "${small[@]}" --strategy melon --dump-lr-matrix "$tmp/w/lr.csv" --dump-batch 99
check "a --dump-batch beyond the stream fails" err_has "dump-batch 99: the stream has 7 online batches"
run run "${small[@]}" --out "$tmp/w"
check "an output that is a folder is refused" err_has "out $tmp/w: is a folder"
run run "${small[@]}" --out "$tmp/w/a" --per-batch "$tmp/w/../w/a"
check "two outputs that are one file are refused" err_has "are the same file"

# an output that is an input, also through links, is refused; the data stay
cp "$tmp/small.csv" "$tmp/w/in.csv"
ln -s in.csv "$tmp/w/sym.csv"
ln "$tmp/w/in.csv" "$tmp/w/hard.csv"
sum=$(sha256sum <"$tmp/w/in.csv")
for target in in.csv sym.csv hard.csv; do
  for opt in --out --per-batch --ranks; do
    run run "${small[@]/$tmp\/small.csv/$tmp/w/in.csv}" "$opt" "$tmp/w/$target"
    check "$opt $target (the input) is refused" err_has "is the input file"
  done
done
check "the input is unchanged" [ "$(sha256sum <"$tmp/w/in.csv")" = "$sum" ]
mkdir "$tmp/folder" && cp "$tmp/small.csv" "$tmp/folder/a.csv"
run run "${small[@]/$tmp\/small.csv/$tmp/folder}" --out "$tmp/folder/r.json"
check "an output in an input folder is refused" err_has "lies in the input folder"

# 4. all together or none
mkdir "$tmp/a"
run run "${small[@]}" --out "$tmp/a/x.json" --per-batch "$tmp/nodir/pb.csv"
check "one bad output: nothing written" [ -z "$(ls -A "$tmp/a")" ]
mkdir "$tmp/b"
"$melon" run "${medium[@]}" --out "$tmp/a/r.json" --per-batch "$tmp/b/pb.csv" 2>"$tmp/err" &
pid=$!
sleep 0.3
check "the run is still going when a folder goes" kill -0 $pid
rm -rf "$tmp/b" # the second output's folder goes away during the run
wait $pid
check "a folder gone: the run fails at the end" [ $? = 1 ]
check "a folder gone: the reason is given" err_has "$tmp/b/pb.csv: cannot create a file in $tmp/b"
check "a folder gone: nothing written" [ -z "$(ls -A "$tmp/a")" ]
mkdir "$tmp/c"
run run "${small[@]}" --strategy melon --out "$tmp/c/r.json" --per-batch "$tmp/c/pb.csv" \
  --ranks "$tmp/c/rk.csv" --save-model "$tmp/c/m.bin" --dump-lr-matrix "$tmp/c/lr.csv"
check "a good run exits 0" [ "$(rc)" = 0 ]
check "a good run writes every output and nothing else" \
  [ "$(visible "$tmp/c" | tr '\n' ' ')" = "lr-means.csv lr.csv m.bin pb.csv r.json rk.csv " ]
check "a good run leaves no temporary" [ -z "$(hidden "$tmp/c")" ]

# interrupted runs: SIGINT and SIGTERM leave nothing, SIGKILL hidden files
for sig in INT TERM KILL; do
  d="$tmp/sig-$sig"
  mkdir "$d"
  "$melon" run "${long[@]}" --out "$d/r.json" --ranks "$d/rk.csv" --per-batch "$d/pb.csv" &
  pid=$!
  for _ in $(seq 100); do [ -n "$(hidden "$d")" ] && break; sleep 0.05; done
  sleep 0.5
  check "the run is still going when sent SIG$sig" kill -0 $pid
  kill -$sig $pid
  wait $pid
  status=$?
  case $sig in
    INT) check "SIGINT ends the run as SIGINT does" [ $status = 130 ] ;;
    TERM) check "SIGTERM ends the run as SIGTERM does" [ $status = 143 ] ;;
  esac
  check "SIG$sig: no output" [ -z "$(visible "$d")" ]
  if [ $sig = KILL ]; then
    check "SIGKILL: its temporaries are hidden" [ -n "$(hidden "$d")" ]
    run run "${small[@]}" --out "$d/next.json"
    check "the next run into the folder removes them" [ -z "$(hidden "$d")" ]
    check "and writes its own" [ "$(visible "$d")" = next.json ]
  else
    check "SIG$sig: no temporary" [ -z "$(hidden "$d")" ]
  fi
done

finish
