#!/usr/bin/env bash
# `melon serve` and `melon loadgen` on loopback: the routes, bad requests,
# the bearer token, a graceful stop, recovery (a recovered server equals
# one that never stopped), SIGKILL under load, a torn log tail and a full
# disk (every acknowledged event kept exactly once).
# usage: serve.sh MELON_BINARY SOURCE_DIR
set -u
melon=$1
if [ "${2:-}" = --inside-full-disk ]; then inside_full_disk=1; else inside_full_disk=0; fi
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 0; }
py=/usr/bin/python3
tmp=${SERVE_TEST_TMP:-$(mktemp -d)}
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  [ -n "${SERVE_TEST_TMP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
passed=0
failed=0
check() { # check "description" command...
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $what"; fi
}

# stream FILE N FIRST: N events from number FIRST, every (user, item) pair
# once, one a second
stream() {
  "$py" - "$@" <<'PY'
import sys, random
path, n, first = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = random.Random(7)
pairs = set()
rows = []
while len(rows) < first + n:
    u = r.randrange(60); i = (u * 7 + int(r.expovariate(1 / 40))) % 400
    if (u, i) in pairs: continue
    pairs.add((u, i)); rows.append((u, i))
with open(path, "w") as f:
    f.write("user_id,item_id,timestamp\n")
    for k in range(first, first + n):
        u, i = rows[k]; f.write(f"u{u},i{i},{1000 + k}\n")
PY
}

# start NAME ARGS...: a server in the background; sets port and pid
start() {
  local name=$1; shift
  rm -f "$tmp/$name.port"
  "$melon" serve --listen 127.0.0.1:0 --port-file "$tmp/$name.port" "$@" \
    2>>"$tmp/$name.err" &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 300); do
    [ -s "$tmp/$name.port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  port=$(cat "$tmp/$name.port" 2>/dev/null || echo 0)
}
url() { echo "http://127.0.0.1:$port${1:-}"; }
# code METHOD PATH [curl args]: the status; the body goes to $tmp/body
code() {
  local m=$1 p=$2; shift 2
  curl -s -m 20 -o "$tmp/body" -w '%{http_code}' -X "$m" "$(url "$p")" "$@"
}
body_has() { grep -q -- "$1" "$tmp/body"; }
metric() { curl -s -m 20 "$(url /metrics)" | awk -v m="$1" '$1 == m {print $2}'; }

tiny=(--batch-size 32 --epochs 1 --dim 8 --threads 1 --seed 3)

# waits (30 s at most) until every durable event has been applied
wait_applied() {
  for _ in $(seq 300); do
    [ "$(metric melon_events_applied)" = "$(metric melon_events_durable)" ] && return 0
    sleep 0.1
  done
  return 1
}

# every acknowledged event (loadgen's --ack-log) is in its user's history
# exactly once, and no user's history holds an item twice
all_kept_once() { # all_kept_once STREAM ACKLOG
  wait_applied || { echo "the log was not applied within 30 s"; return 1; }
  "$py" - "$1" "$2" "$(url /v1/users/)" <<'PY'
import sys, json, urllib.request, urllib.parse
stream, acklog, base = sys.argv[1:]
rows = [l.strip().split(",") for l in open(stream)][1:]
acked = set()
for line in open(acklog):
    first, n = map(int, line.split())
    acked.update(range(first, first + n))
hist = {}
for u in sorted({r[0] for r in rows}):
    with urllib.request.urlopen(base + urllib.parse.quote(u) + "/history?limit=100000") as f:
        hist[u] = json.load(f)["items"]
bad = [k for k in acked if hist[rows[k][0]].count(rows[k][1]) != 1]
twice = [u for u, items in hist.items() if len(items) != len(set(items))]
if bad or twice:
    print(f"acknowledged {len(acked)}, not exactly once: {len(bad)} (e{bad[:5]}), "
          f"users with an item twice: {twice[:5]}")
    sys.exit(1)
if not acked:
    print("nothing was acknowledged"); sys.exit(1)
PY
}

if [ $inside_full_disk = 1 ]; then
  # run inside a mount namespace whose $tmp/full is a small tmpfs
  stream "$tmp/past.csv" 200 0
  stream "$tmp/stream.csv" 20000 200
  start full --state-dir "$tmp/full/state" --data "$tmp/past.csv" "${tiny[@]}" \
    --max-delay-ms 50 --segment-bytes 65536
  [ "$port" != 0 ] || { echo "FAIL: no server on the small disk"; cat "$tmp/full.err"; exit 1; }
  # fill the disk, leaving a little room for the log
  avail=$(df -k --output=avail "$tmp/full" | tail -1)
  dd if=/dev/zero of="$tmp/full/fill" bs=4k count=$(( (avail - 96) / 4 )) 2>/dev/null
  "$melon" loadgen --url "$(url)" --data "$tmp/stream.csv" --batch 50 \
    --concurrency 2 --duration 20 --ack-log "$tmp/full.acks" >"$tmp/full.out"
  check "a full disk gives clients errors" grep -q "errors [1-9]" "$tmp/full.out"
  check "and the server says why" grep -q "No space left on device" "$tmp/full.err"
  check "events were acknowledged before the disk filled" [ -s "$tmp/full.acks" ]
  kill -9 "$pid"; wait "$pid" 2>/dev/null
  rm -f "$tmp/full/fill"
  start full --state-dir "$tmp/full/state" "${tiny[@]}"
  check "the server restarts once there is room" [ "$port" != 0 ]
  check "nothing acknowledged on a full disk is lost" \
    all_kept_once "$tmp/stream.csv" "$tmp/full.acks"
  kill -TERM "$pid"; wait "$pid"
  echo "full disk: $passed passed, $failed failed"
  [ $failed = 0 ]
  exit
fi

stream "$tmp/past.csv" 400 0
stream "$tmp/stream.csv" 3000 400

# --- start: options checked before anything runs
"$melon" serve --data "$tmp/past.csv" 2>"$tmp/err"
check "--state-dir is required" [ $? = 2 ]
"$melon" serve --state-dir "$tmp/x" --bogus 1 2>"$tmp/err"
check "an unknown option is named" grep -q "unknown option '--bogus'" "$tmp/err"
"$melon" serve --state-dir "$tmp/x" --lr nan --data "$tmp/past.csv" 2>"$tmp/err"
check "a bad model setting is refused" [ $? = 1 ]
check "naming it" grep -q "lr" "$tmp/err"
"$melon" serve --state-dir "$tmp/x" --listen 10.0.0.300:1 2>"$tmp/err"
check "a bad --listen is refused" grep -q "not an IPv4 address" "$tmp/err"

# --- the routes
echo "a-token-of-twenty-bytes" >"$tmp/token"
start a --state-dir "$tmp/a" --data "$tmp/past.csv" "${tiny[@]}" --max-delay-ms 100 \
  --token-file "$tmp/token" --max-body 4096 --max-events 20 --max-event-id 16 --timeout 2
check "the server starts and writes its port" [ "$port" != 0 ]
auth=(-H "Authorization: Bearer a-token-of-twenty-bytes")
check "GET /healthz" [ "$(code GET /healthz)" = 200 ]
check "GET /readyz" [ "$(code GET /readyz)" = 200 ]
check "POST /v1/events without the token: 401" \
  [ "$(code POST /v1/events -d '{"user": "u1", "item": "i1"}')" = 401 ]
check "with a wrong token: 401" [ "$(code POST /v1/events -H 'Authorization: Bearer nope' \
  -d '{"user": "u1", "item": "i1"}')" = 401 ]
check "POST /v1/events (JSON array)" [ "$(code POST /v1/events "${auth[@]}" \
  -d '[{"user": "u1", "item": "new-item", "id": "x1", "time": 5000}, {"user": 2, "item": "i3", "id": "x2"}]')" = 200 ]
check "acknowledges both" body_has '"new": 2'
check "POST /v1/events (NDJSON) with a repeated id" [ "$(code POST /v1/events "${auth[@]}" \
  --data-binary $'{"user": "u1", "item": "i9", "id": "x1"}\n{"user": "u1", "item": "i8", "id": "x3"}\n')" = 200 ]
check "the repeated id is acknowledged, not stored again" body_has '"duplicate": 1'
sleep 0.5
check "GET /v1/users/u1/history" [ "$(code GET /v1/users/u1/history)" = 200 ]
check "holds the new events once" "$py" -c '
import json,sys; h=json.load(open(sys.argv[1]))["items"]
sys.exit(not (h.count("new-item") == 1 and h.count("i8") == 1 and "i9" not in h))' "$tmp/body"
check "GET /v1/recommend" [ "$(code GET '/v1/recommend?user=u1&k=5')" = 200 ]
check "gives 5 items from the model" "$py" -c '
import json,sys; r=json.load(open(sys.argv[1]))
sys.exit(not (len(r["items"]) == 5 and len(r["scores"]) == 5 and r["popular"] is False))' "$tmp/body"
check "leaves out what the user has seen" "$py" -c '
import json,sys; r=json.load(open(sys.argv[1]))
sys.exit("new-item" in r["items"] or "i8" in r["items"])' "$tmp/body"
code GET '/v1/recommend?user=u1&k=400&include_seen=1' >/dev/null
check "include_seen=1 may give seen items" body_has '"new-item"'
check "an unknown user gets the popular items" [ "$(code GET '/v1/recommend?user=nobody')" = 200 ]
check "and is told so" body_has '"popular": true'
check "k out of range: 400" [ "$(code GET '/v1/recommend?user=u1&k=0')" = 400 ]
check "naming the field" body_has '"field": "k"'
check "no user: 400" [ "$(code GET '/v1/recommend')" = 400 ]
check "an unknown path: 404" [ "$(code GET /nothing)" = 404 ]
check "another method: 405" [ "$(code DELETE /v1/events)" = 405 ]
check "POST /v1/checkpoint needs the token" [ "$(code POST /v1/checkpoint)" = 401 ]
check "POST /v1/checkpoint" [ "$(code POST /v1/checkpoint "${auth[@]}")" = 200 ]
curl -s "$(url /metrics)" >"$tmp/metrics"
for m in melon_events_accepted_total melon_events_applied melon_batches_total melon_users \
         melon_items melon_hr10 melon_ndcg10 melon_hr10_last10000 melon_ndcg10_last10000 \
         melon_log_bytes melon_checkpoint_age_seconds 'melon_update_seconds_bucket{le="+Inf"}' \
         'melon_recommend_seconds_bucket{le="+Inf"}'; do
  check "GET /metrics has $m" grep -q "^$m " "$tmp/metrics"
done
check "the live page is served" [ "$(code GET /)" = 200 ]
check "GET /v1/stats" [ "$(code GET /v1/stats)" = 200 ]

# --- bad requests: 4xx with record and field, nothing applied
before=$(metric melon_events_durable)
check "garbage: 400" [ "$(code POST /v1/events "${auth[@]}" -d 'not json at all')" = 400 ]
check "a bad second record names it" [ "$(code POST /v1/events "${auth[@]}" \
  -d '[{"user": "u1", "item": "zz1"}, {"user": "u1"}]')" = 400 ]
check "record 1, field item" "$py" -c '
import json,sys; e=json.load(open(sys.argv[1]))
sys.exit(not (e["record"] == 1 and e["field"] == "item" and e["error"]))' "$tmp/body"
check "nested JSON: 400" [ "$(code POST /v1/events "${auth[@]}" \
  -d '[{"user": {"a": [[[1]]]}, "item": "i1"}]')" = 400 ]
check "truncated JSON: 400" [ "$(code POST /v1/events "${auth[@]}" -d '[{"user": "u1", "it')" = 400 ]
check "an over-long event id: 400" [ "$(code POST /v1/events "${auth[@]}" \
  -d '{"user": "u1", "item": "i1", "id": "abcdefghijklmnopqrstuvwxyz"}')" = 400 ]
check "an over-long user id: 400" [ "$(code POST /v1/events "${auth[@]}" \
  -d "{\"user\": \"$(printf 'u%.0s' $(seq 300))\", \"item\": \"i1\"}")" = 400 ]
"$py" -c 'import json; print(json.dumps([{"user": "u1", "item": "i%d" % k} for k in range(21)]))' \
  >"$tmp/many.json"
check "more events than --max-events: 413" [ "$(code POST /v1/events "${auth[@]}" \
  --data-binary @"$tmp/many.json")" = 413 ]
head -c 5000 /dev/zero | tr '\0' ' ' >"$tmp/big"
check "a body over --max-body: 413" [ "$(code POST /v1/events "${auth[@]}" \
  --data-binary @"$tmp/big")" = 413 ]
check "a chunked body over --max-body: 413" [ "$(code POST /v1/events "${auth[@]}" \
  -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/big")" = 413 ]
check "none of them stored anything" [ "$(metric melon_events_durable)" = "$before" ]
# a slow client: half a request, then nothing; the server closes it
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[{"us' >&3
start_wait=$(date +%s)
timeout 10 cat <&3 >/dev/null
check "a slow request is closed after --timeout" [ $(( $(date +%s) - start_wait )) -lt 8 ]
exec 3<&-
check "and the server still answers" [ "$(code GET /healthz)" = 200 ]

# --- a graceful stop checkpoints; a restart recovers
kill -TERM "$pid"; wait "$pid"
check "SIGTERM: exit 0" [ $? = 0 ]
check "SIGTERM: says the checkpoint was written" grep -q "checkpoint written" "$tmp/a.err"
start a --state-dir "$tmp/a" --token-file "$tmp/token" "${tiny[@]}"
check "restarted" [ "$port" != 0 ]
code GET /v1/users/u1/history >/dev/null
check "the history survived" body_has '"new-item"'
check "the ids survived (a retry is not stored again)" [ "$(code POST /v1/events "${auth[@]}" \
  -d '{"user": "u1", "item": "i9", "id": "x1"}')" = 200 ]
check "the retry is a duplicate" body_has '"duplicate": 1'
"$melon" serve --state-dir "$tmp/a" --listen 127.0.0.1:0 2>"$tmp/err"
check "a second server on the same state is refused" grep -q "another melon serve" "$tmp/err"
kill -TERM "$pid"; wait "$pid"
"$melon" serve --state-dir "$tmp/a" --dim 9 --listen 127.0.0.1:0 2>"$tmp/err"
check "a setting that differs from the state's is refused" grep -q "created with dim=8" "$tmp/err"

# --- a recovered server equals one that never stopped. Batches close
# every 32 events (no cut: --max-delay-ms is an hour), so both servers
# see the same batches; one is SIGKILLed twice on the way.
common=(--data "$tmp/past.csv" "${tiny[@]}" --max-delay-ms 3600000 --checkpoint-every 7)
start whole --state-dir "$tmp/whole" "${common[@]}"
whole_port=$port
whole_pid=$pid
"$melon" loadgen --url "$(url)" --data "$tmp/stream.csv" --concurrency 1 --batch 50 \
  --count 2000 >/dev/null
start part --state-dir "$tmp/part" "${common[@]}"
for range in "0 700" "700 650" "1350 650"; do
  set -- $range
  "$melon" loadgen --url "$(url)" --data "$tmp/stream.csv" --concurrency 1 --batch 50 \
    --from "$1" --count "$2" >/dev/null
  [ "$1" = 1350 ] || { kill -9 "$pid"; wait "$pid" 2>/dev/null; start part --state-dir "$tmp/part" "${common[@]}"; }
done
# (whether any log is left to replay depends on how far the applier got
# before the kill: a checkpoint may already cover every record)
check "the SIGKILLed server recovered its state" grep -q "recovering the state" "$tmp/part.err"
sleep 1
part_port=$port
for m in melon_events_applied melon_batches_total melon_events_evaluated_total melon_hr10 \
         melon_ndcg10 melon_hr10_last10000 melon_ndcg10_last10000 melon_users melon_items; do
  port=$whole_port; a=$(metric $m); port=$part_port; b=$(metric $m)
  check "recovered = never stopped: $m ($a vs $b)" [ -n "$a" ] && [ "$a" = "$b" ]
done
for u in u0 u5 u17 u42 unknown; do
  port=$whole_port; a=$(curl -s "$(url "/v1/recommend?user=$u&k=10")")
  port=$part_port; b=$(curl -s "$(url "/v1/recommend?user=$u&k=10")")
  check "recovered = never stopped: recommendations for $u" [ -n "$a" ] && [ "$a" = "$b" ]
done
kill -TERM "$whole_pid" "$pid"; wait "$whole_pid" "$pid"

# --- SIGKILL under load, then a torn tail: every acknowledged event is
# in the history exactly once
start load --state-dir "$tmp/load" --data "$tmp/past.csv" "${tiny[@]}" --max-delay-ms 20 \
  --checkpoint-every 5
"$melon" loadgen --url "$(url)" --data "$tmp/stream.csv" --concurrency 4 --batch 20 \
  --rate 4000 --duration 20 --ack-log "$tmp/load.acks" >"$tmp/load.out" &
lg=$!
sleep 0.5
kill -9 "$pid"; wait "$pid" 2>/dev/null
wait $lg
check "the load generator saw the server die" grep -q "errors [1-9]" "$tmp/load.out"
seg=$(ls "$tmp/load/log/"*.seg | tail -1)
printf '\x40\x00\x00\x00\x12\x34' >>"$seg"   # half a record: a torn tail
start load --state-dir "$tmp/load" "${tiny[@]}"
check "restarted after SIGKILL" [ "$port" != 0 ]
check "the torn tail was cut with a message" grep -qi "torn\|cut" "$tmp/load.err"
check "every acknowledged event is in the history exactly once" \
  all_kept_once "$tmp/stream.csv" "$tmp/load.acks"
"$melon" loadgen --url "$(url)" --data "$tmp/stream.csv" --concurrency 4 --batch 20 \
  --duration 20 --ack-log "$tmp/load2.acks" >"$tmp/load2.out"
check "a retry of everything is accepted" grep -q "errors 0" "$tmp/load2.out"
check "and stores nothing twice" all_kept_once "$tmp/stream.csv" "$tmp/load2.acks"
kill -TERM "$pid"; wait "$pid"

# --- a full disk: a small tmpfs in a mount namespace of its own
if [ "$(id -u)" = 0 ]; then ns=(unshare -m); else ns=(unshare -rm); fi
mkdir -p "$tmp/full"
if "${ns[@]}" sh -c "mount -t tmpfs -o size=8m tmpfs '$tmp/full' && umount '$tmp/full'" 2>/dev/null; then
  SERVE_TEST_TMP=$tmp "${ns[@]}" sh -c 'mount -t tmpfs -o size=8m tmpfs "$0/full" && exec bash "$1" "$2" --inside-full-disk' \
    "$tmp" "$0" "$melon"
  check "full disk" [ $? = 0 ]
else
  echo "SKIP: cannot mount a tmpfs here (no mount namespace); full-disk checks not run"
fi

echo "serve: $passed passed, $failed failed"
[ $failed = 0 ]
