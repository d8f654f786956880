#!/usr/bin/env bash
# Figures of `melon serve` on this machine, server and load generator on
# the same cores (about 2 minutes on 2 quiet cores):
#   1. acknowledged durable ingest, events/s (median of RUNS runs): Default
#      and MeLON (official form) on BPR-MF, ml-100k pre-trained whole (one
#      epoch), its 100,000 events posted again in requests of 1000 over 4
#      connections while the server applies them
#   2. recommend latency p50/p99 as the load generator sees it (median of
#      RUNS runs), 20,000 items declared, Default BPR-MF, while ingesting
#      ml-100k ten times over (1 M events) in requests of 100 with a GET
#      before every other POST: first at the maximum rate, then at half of
#      it (about 12 s a run)
#   3. recovery: a server with the default checkpoint settings takes EVENTS
#      events (random users and items of ml-100k), applies them all, is
#      killed with SIGKILL and started again: the seconds until it answers,
#      and what it did meanwhile (its notes)
# usage: bench/serve.sh [MELON_BINARY]      (RUNS=3 EVENTS=1000000)
set -eu
melon=${1:-build/melon}
runs=${RUNS:-3}
events=${EVENTS:-1000000}
src=$(cd "$(dirname "$0")/.." && pwd)
data=$src/../shared/data/ml-100k/u.data.gz
[ -r "$data" ] || { echo "bench/serve.sh: $data is missing" >&2; exit 1; }
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT
py=/usr/bin/python3
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

"$py" - "$data" "$tmp" "$events" <<'PY'
import gzip, sys, random
data, tmp, n_big = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = sorted((l.split("\t") for l in gzip.open(data, "rt")), key=lambda r: int(r[3]))
with open(f"{tmp}/ml.csv", "w") as f:
    f.write("user_id,item_id,timestamp\n")
    for r in rows: f.write(f"{r[0]},{r[1]},{int(r[3])}\n")
with open(f"{tmp}/ml10.csv", "w") as f:
    f.write("user_id,item_id,timestamp\n")
    for rep in range(10):
        for r in rows: f.write(f"{r[0]},{r[1]},{int(r[3]) + rep * 10**9}\n")
with open(f"{tmp}/items20k.txt", "w") as f:
    f.write("".join(f"{k}\n" for k in range(1, 20001)))
r = random.Random(1)
with open(f"{tmp}/big.csv", "w") as f:
    f.write("user_id,item_id,timestamp\n")
    f.write("".join(f"{r.randrange(943) + 1},{r.randrange(1682) + 1},{t}\n"
                    for t in range(n_big)))
PY

start() { # start DIR ARGS...: sets pid and port
  local dir=$1; shift
  rm -f "$tmp/port"
  "$melon" serve --state-dir "$dir" --listen 127.0.0.1:0 --port-file "$tmp/port" "$@" \
    2>>"$tmp/server.err" &
  pid=$!
  for _ in $(seq 6000); do
    [ -s "$tmp/port" ] && break
    kill -0 $pid 2>/dev/null || { pid=; port=; return 1; }
    sleep 0.05
  done
  port=$(cat "$tmp/port")
}
kill_server() { kill -9 $pid; wait $pid 2>/dev/null || true; pid=; }
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
field() { sed -n "s/.*$1 \([0-9.]*\).*/\1/p"; }
metric() { curl -s -m 10 "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

ingest() { # ingest ARGS...: events/s of the whole stream, one line per run
  for _ in $(seq "$runs"); do
    rm -rf "$tmp/s"
    start "$tmp/s" --data "$tmp/ml.csv" --epochs 1 --batch-size 256 "$@" ||
      { tail -1 "$tmp/server.err" >&2; return 0; }
    "$melon" loadgen --url "http://127.0.0.1:$port" --data "$tmp/ml.csv" --batch 1000 \
      --concurrency 4 --duration 600 | head -1 |
      sed -n 's/.*: \([0-9]*\) events\/s.*/\1/p'
    kill_server
  done
}
default_rate=$(ingest --strategy default | median)
echo "ingest, Default BPR-MF: $default_rate events/s acknowledged (median of $runs)"
melon_rate=$(ingest --strategy melon --melon-variant official 2>"$tmp/melon.err" | median)
if [ -n "$melon_rate" ]; then
  echo "ingest, MeLON official BPR-MF: $melon_rate events/s acknowledged (median of $runs)"
  echo "  ratio MeLON/Default: $(awk -v a="$melon_rate" -v b="$default_rate" 'BEGIN {printf "%.2f", a / b}')"
else
  echo "ingest, MeLON official BPR-MF: no figure ($(cat "$tmp/melon.err"))"
fi

recommending() { # recommending RATE: one loadgen run's output in rec.out
  rm -rf "$tmp/s"
  start "$tmp/s" --catalogue "$tmp/items20k.txt" --data "$tmp/ml.csv" --epochs 1 --batch-size 256
  "$melon" loadgen --url "http://127.0.0.1:$port" --data "$tmp/ml10.csv" --batch 100 \
    --concurrency 4 --rate "$1" --recommend-share 0.5 --duration 600 >"$tmp/rec.out"
  kill_server
}
for _ in $(seq "$runs"); do
  recommending max
  head -1 "$tmp/rec.out" | sed -n 's/.*: \([0-9]*\) events\/s.*/\1/p' >>"$tmp/maxes"
done
median <"$tmp/maxes" >"$tmp/max"
half=$(($(cat "$tmp/max") / 2))
for _ in $(seq "$runs"); do
  recommending "$half"
  grep "recommend latency" "$tmp/rec.out" | field p99 >>"$tmp/p99"
  grep "recommend latency" "$tmp/rec.out" | field p50 >>"$tmp/p50"
done
echo "recommend with 20000 items, ingesting in requests of 100: at most" \
  "$(cat "$tmp/max") events/s; at $half events/s (half):" \
  "p50 $(median <"$tmp/p50") ms, p99 $(median <"$tmp/p99") ms (median of $runs)"

rm -rf "$tmp/s"
start "$tmp/s" --data "$tmp/ml.csv" --epochs 1 --batch-size 256
"$melon" loadgen --url "http://127.0.0.1:$port" --data "$tmp/big.csv" --batch 2000 \
  --concurrency 4 --duration 3600 | head -1
for _ in $(seq 6000); do # every event applied (10 minutes at most)
  [ "$(metric melon_events_applied)" = "$events" ] && break
  sleep 0.1
done
echo "applied $(metric melon_events_applied) events in $(metric melon_batches_total) batches," \
  "$(metric melon_checkpoints_total) checkpoints; SIGKILL"
kill_server
: >"$tmp/server.err"
t0=$(date +%s.%N)
start "$tmp/s"
t1=$(date +%s.%N)
sed 's/^/  /' "$tmp/server.err"
echo "recovery of a $events-event log: answering after" \
  "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s"
kill_server
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
