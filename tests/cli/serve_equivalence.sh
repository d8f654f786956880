#!/usr/bin/env bash
# `melon serve` is `melon run` live: ml-100k's stream (a synthetic one of
# the same shape when ml-100k is not on this machine), its past given to
# the server to pre-train on and the catalogue declared, its online events
# posted in order in requests that do not follow batch ends, gives each
# online batch the HR@10 and NDCG@10 that `melon run --eval-negatives
# before` gives with the same settings and seed (the ranks of every event
# are compared through them), for Default and MeLON (the authors' form,
# the server's default strategy) on BPR-MF.
# usage: serve_equivalence.sh MELON_BINARY SOURCE_DIR
set -u
melon=$1
src=$2
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 0; }
py=/usr/bin/python3

# the stream in melon's order, one time per event (ties broken by the
# file's order, so that both sides read the same sequence)
ml=""
for f in "$src/../shared/data/ml-100k/u.data.gz" \
         "${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/melon/ml-100k/u.data"; do
  [ -r "$f" ] && { ml=$f; break; }
done
"$py" - "$tmp" "$ml" <<'PY'
import gzip, random, sys
d, ml = sys.argv[1:]
if ml:
    opener = gzip.open if ml.endswith(".gz") else open
    with opener(ml, "rt") as f:
        rows = [(int(t), u, i) for u, i, _, t in (l.split("\t") for l in f)]
    rows.sort(key=lambda r: r[0])  # stable: the file's order among ties
    print("stream: ml-100k,", len(rows), "events")
else:
    r = random.Random(11)
    rows = [(t, f"u{r.randrange(600)}", f"i{min(r.randrange(900), r.randrange(900))}")
            for t in range(40000)]
    print("stream: synthetic (ml-100k is not on this machine),", len(rows), "events")
with open(f"{d}/all.csv", "w") as f:
    f.write("user_id,item_id,timestamp\n")
    for k, (_, u, i) in enumerate(rows):
        f.write(f"{u},{i},{k}\n")
seen = {}
for _, _, i in rows:
    seen.setdefault(i, len(seen))
with open(f"{d}/items.txt", "w") as f:
    f.write("".join(i + "\n" for i in seen))
PY

settings=(--model bpr --epochs 1 --batch-size 256 --dim 16 --seed 4 --threads 1)

stats() { curl -s -m 10 "http://127.0.0.1:$port/v1/stats"; }

equivalence() { # equivalence LABEL STRATEGY-OPTIONS...
  local label=$1; shift
  rm -rf "$tmp/$label" && mkdir "$tmp/$label"
  local d=$tmp/$label
  "$melon" run --data "$tmp/all.csv" "${settings[@]}" "$@" --eval-negatives before \
    --out "$d/run.json" --per-batch "$d/pb.csv" --quiet --no-progress 2>"$d/run.err"
  check "$label: melon run exits 0" [ $? = 0 ]
  # the run's past and online parts
  "$py" - "$d" "$tmp/all.csv" <<'PY'
import json, sys
d, data = sys.argv[1:]
r = json.load(open(f"{d}/run.json"))
n_past = (r["dataset"]["batches"] - r["dataset"]["test_batches"]) * 256
lines = open(data).read().splitlines()
header, events = lines[0], lines[1:]
with open(f"{d}/past.csv", "w") as f:
    f.write("\n".join([header] + events[:n_past]) + "\n")
with open(f"{d}/online.txt", "w") as f:
    f.write(str(len(events) - n_past) + "\n")
# the online events in requests of 1000 (batches are 256)
online = events[n_past:]
for k in range(0, len(online), 1000):
    with open(f"{d}/req{k // 1000:04d}.ndjson", "w") as f:
        for line in online[k:k + 1000]:
            u, i, t = line.split(",")
            f.write(json.dumps({"user": u, "item": i, "time": float(t)}) + "\n")
PY
  check "$label: the run's past written" [ -s "$d/past.csv" ]
  serve_start "$d/state" --max-delay-ms 3600000 --data "$d/past.csv" \
    --catalogue "$tmp/items.txt" "${settings[@]}" "$@"
  check "$label: the server starts" [ "$port" != 0 ]
  local posted=0
  for req in "$d"/req*.ndjson; do
    curl -s -m 60 -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/x-ndjson' \
      --data-binary @"$req" "http://127.0.0.1:$port/v1/events" | grep -q '^200$' &&
      posted=$((posted + 1))
  done
  check "$label: every request acknowledged" [ "$posted" = "$(ls "$d"/req*.ndjson | wc -l)" ]
  local full=$(( $(cat "$d/online.txt") / 256 ))
  for _ in $(seq 600); do
    stats >"$d/stats.json"
    "$py" -c "import json,sys; sys.exit(json.load(open('$d/stats.json'))['batches'] < $full)" \
      2>/dev/null && break
    sleep 0.1
  done
  check "$label: the server ran the $full full online batches" \
    "$py" -c "import json,sys; sys.exit(json.load(open('$d/stats.json'))['batches'] != $full)"
  check "$label: every full batch's HR@10 and NDCG@10 as melon run's" "$py" - "$d" "$full" <<'PY'
import csv, json, sys
d, full = sys.argv[1], int(sys.argv[2])
live = {b["batch"]: b for b in json.load(open(f"{d}/stats.json"))["recent_batches"]}
run = list(csv.DictReader(open(f"{d}/pb.csv")))
bad = 0
for t in range(full):
    want, got = run[t], live.get(t)
    if (got is None or got["events"] != int(want["interactions"]) or
            abs(got["hr10"] - float(want["HR@10"])) > 6e-7 or
            abs(got["ndcg10"] - float(want["NDCG@10"])) > 6e-7):
        bad += 1
        if bad <= 3:
            print(f"batch {t}: run HR@10 {want['HR@10']} NDCG@10 {want['NDCG@10']} "
                  f"of {want['interactions']}, server {got}")
print(f"{full - bad} of {full} batches equal; run HR@10 of batch 0 {run[0]['HR@10']}")
sys.exit(bad != 0)
PY
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  pid=
}

equivalence default --strategy default
equivalence melon --strategy melon --melon-variant official
finish
