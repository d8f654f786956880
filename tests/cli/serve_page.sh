#!/usr/bin/env bash
# The live page of `melon serve` (GET /) in headless Chromium, against a
# server fed by `melon loadgen`: the chart has points, the counters and
# the popular items are filled in. usage: serve_page.sh MELON_BINARY SOURCE_DIR
set -u
melon=$1
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "SKIP: Chromium is not installed (Debian: apt-get install chromium); the live page is not tested"
  exit 0
fi
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT
/usr/bin/python3 - "$tmp/stream.csv" <<'PY'
import sys, random
r = random.Random(5)
with open(sys.argv[1], "w") as f:
    f.write("user_id,item_id,timestamp\n")
    for t in range(6000):
        u = r.randrange(50); f.write(f"u{u},i{(u * 3 + r.randrange(30)) % 200},{t}\n")
PY
head -1001 "$tmp/stream.csv" >"$tmp/past.csv"
"$melon" serve --state-dir "$tmp/state" --data "$tmp/past.csv" --batch-size 32 --epochs 1 \
  --dim 8 --threads 1 --max-delay-ms 100 --listen 127.0.0.1:0 --port-file "$tmp/port" \
  2>"$tmp/err" &
pid=$!
for _ in $(seq 300); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port")
"$melon" loadgen --url "http://127.0.0.1:$port" --data "$tmp/stream.csv" --from 1000 \
  --batch 20 --concurrency 2 --rate 2000 --duration 10 >/dev/null &
lg=$!
sleep 1.5
timeout 60 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
  --user-data-dir="$tmp/profile" --virtual-time-budget=3000 \
  --dump-dom "http://127.0.0.1:$port/" >"$tmp/dom" 2>"$tmp/browser.err"
wait $lg
failed=0
check() { if "$@"; then :; else failed=$((failed + 1)); echo "FAIL: $*"; fi; }
points=$(sed -n 's/.*data-points="\([0-9]*\)".*/\1/p' "$tmp/dom" | head -1)
check [ "${points:-0}" -gt 0 ]
check grep -q '<polyline class="hr"[^>]*points="[0-9]' "$tmp/dom"
check grep -q '<b id="batches">[1-9]' "$tmp/dom"
check grep -q '<ol id="popular"><li>i' "$tmp/dom"
check grep -q '<div id="err"></div>' "$tmp/dom"
kill -TERM $pid; wait $pid; pid=
echo "live page: chart of $points batches; $failed failed"
[ $failed = 0 ]
