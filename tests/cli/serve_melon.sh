#!/usr/bin/env bash
# `melon serve` with MeLON (the authors' code form, chosen by its option's
# name) on a live stream: users and items first seen online get rows in
# the model and in MeLON's state, are ranked and recommended; a restarted
# server recovers them from its log; a bad MeLON option is refused by name.
# usage: serve_melon.sh MELON_BINARY SOURCE_DIR
set -u
melon=$1
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 0; }
py=/usr/bin/python3
. "$(dirname "$0")/lib.sh"

# the past: 30 users, 100 items
"$py" - "$tmp/past.csv" <<'PY'
import sys, random
r = random.Random(5)
with open(sys.argv[1], "w") as f:
    f.write("user_id,item_id,timestamp\n")
    for k in range(300):
        u = r.randrange(30); i = (u * 3 + r.randrange(40)) % 100
        f.write(f"u{u},i{i},{1000 + k}\n")
PY
# the live stream: 96 events, half of them from 12 new users on 8 new items
"$py" - "$tmp/live.ndjson" <<'PY'
import sys, json
with open(sys.argv[1], "w") as f:
    for k in range(96):
        if k % 2:
            e = {"user": f"new-u{k // 2 % 12}", "item": f"new-i{k // 2 % 8}"}
        else:
            e = {"user": f"u{k % 30}", "item": f"i{(k * 7) % 100}"}
        f.write(json.dumps(dict(e, id=f"e{k}", time=2000 + k)) + "\n")
PY

melon_opts=(--strategy melon --melon-variant official --batch-size 16 --epochs 1
            --dim 8 --threads 1 --seed 3)
url() { echo "http://127.0.0.1:$port$1"; }
metric() { curl -s -m 20 "$(url /metrics)" | awk -v m="$1" '$1 == m {print $2}'; }
wait_applied() { # every durable event applied (30 s at most)
  for _ in $(seq 300); do
    [ "$(metric melon_events_applied)" = "$(metric melon_events_durable)" ] && return 0
    sleep 0.1
  done
  return 1
}
recommend() { curl -s -m 20 "$(url "/v1/recommend?user=$1&k=5")"; }
from_model() { # the answer ranks 5 items with the model, not popularity
  "$py" -c 'import json,sys; r=json.loads(sys.argv[1])
sys.exit(not (len(r["items"]) == 5 and r["popular"] is False))' "$1"
}

# --- a MeLON option with a bad value is refused, naming it
"$melon" serve --state-dir "$tmp/bad" --data "$tmp/past.csv" --strategy melon \
  --melon-variant nope 2>"$tmp/bad.err"
check "a bad --melon-variant is refused" [ $? = 1 ]
check "naming the option and the value" grep -q "melon-variant.*nope" "$tmp/bad.err"

# --- MeLON on a live stream with new ids
serve_start "$tmp/state" --data "$tmp/past.csv" "${melon_opts[@]}" --max-delay-ms 100
check "the server starts with MeLON" [ "$port" != 0 ]
users_before=$(metric melon_users)
check "POST /v1/events with new users and items" \
  [ "$(curl -s -m 20 -o "$tmp/body" -w '%{http_code}' -X POST "$(url /v1/events)" \
       --data-binary @"$tmp/live.ndjson")" = 200 ]
check "every event applied" wait_applied
check "in six batches" [ "$(metric melon_batches_total)" = 6 ]
check "12 new users" [ "$(metric melon_users)" = $((users_before + 12)) ]
check "every event ranked" [ "$("$py" -c 'import json,sys
print(sum(b["events"] for b in json.load(sys.stdin)["recent_batches"]))' \
  < <(curl -s "$(url /v1/stats)"))" = 96 ]
new_user=$(recommend new-u3)
check "a new user's recommendations come from the model" from_model "$new_user"
check "a known user's too" from_model "$(recommend u4)"
check "a new item is recommended to someone" "$py" - "$(url /v1/recommend)" <<'PY'
import sys, json, urllib.request
base = sys.argv[1]
for u in [f"u{k}" for k in range(30)]:
    with urllib.request.urlopen(f"{base}?user={u}&k=100") as f:
        if any(i.startswith("new-i") for i in json.load(f)["items"]):
            sys.exit(0)
sys.exit(1)
PY
check "POST /v1/checkpoint" [ "$(curl -s -m 20 -o /dev/null -w '%{http_code}' \
  -X POST "$(url /v1/checkpoint)")" = 200 ]
check "the checkpoint keeps MeLON's settings by name" \
  grep -aq "melon-variant=official" "$tmp"/state/checkpoints/*.session
kill -TERM "$pid"; wait "$pid"
check "a graceful stop" [ $? = 0 ]

# --- restarted from its state: the new users are known, the same answers
serve_start "$tmp/state" "${melon_opts[@]}"
check "the server restarts" [ "$port" != 0 ]
check "and recommends to the new user as before" [ "$(recommend new-u3)" = "$new_user" ]
kill -TERM "$pid"; wait "$pid"
pid=
check "nothing went wrong" bash -c "! grep -qi 'error\|cannot' '$tmp/server.err'"
[ $failed = 0 ] || { echo "server log:"; cat "$tmp/server.err"; }
finish "serve with MeLON"
