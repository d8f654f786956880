#!/usr/bin/env bash
# `melon data stats` on the native-format fixtures, and `melon run` on an
# Adressa directory: the printed statistics, the skipped-record summary,
# options and errors. usage: data_stats.sh MELON_BINARY SOURCE_DIR
set -u
melon=$1
fixtures=$2/tests/fixtures/native
. "$(dirname "$0")/lib.sh"
export MELON_CACHE_DIR="$tmp/cache"
out_line() { grep -E -- "$1" "$tmp/out" >/dev/null; }

run data stats --help
check "stats --help exits 0" [ "$(rc)" = 0 ]
for opt in --format --columns --min-user --min-item --cache-dir; do
  check "stats --help lists $opt" out_line "$opt"
done
run data --help
check "data --help lists stats" out_line "^  stats "

# Amazon 2018 fixture: the numbers make_fixtures.py printed.
run data stats "$fixtures/amazon2018.json"
check "amazon: exit 0 ($(head -c 200 "$tmp/err"))" [ "$(rc)" = 0 ]
check "amazon: format" out_line "^format +amazon \(1 file\)$"
check "amazon: records" out_line "^records +312 read, 7 skipped$"
check "amazon: skipped per field" out_line \
  'skipped 7 of 312 records: 3 without a reviewer \("reviewerID"\), 2 without a product \("asin"\), 2 without a time'
check "amazon: users" out_line "^users +52$"
check "amazon: items" out_line "^items +43$"
check "amazon: interactions" out_line "^interactions +305$"
check "amazon: time span" out_line \
  "^time span +2008-01-10 21:20:00 to 2018-09-15 00:00:00 UTC"
check "amazon: repeats" out_line "^repeated pairs +15 interactions repeat"
check "amazon: quantile header" out_line "min +25% +median +75% +90% +max$"
check "amazon: per user row" out_line "^  per user( +[0-9]+){6}$"
check "amazon: nothing on stderr" [ ! -s "$tmp/err" ]

# Quantiles worked out by hand on a tiny file (nearest rank).
printf 'user,item,time\na,x,1\na,y,2\na,z,3\nb,x,4\nb,y,5\nc,x,6\n' \
  >"$tmp/small.csv"
run data stats "$tmp/small.csv"
check "small: per user min 1, 25% 1, median 2, 75% 3, 90% 3, max 3" \
  out_line "^  per user +1 +1 +2 +3 +3 +3$"
check "small: per item 1 1 2 3 3 3" out_line "^  per item +1 +1 +2 +3 +3 +3$"
check "small: no k-core" out_line "^k-core +none$"
run data stats "$tmp/small.csv" --min-user 2 --min-item 2
check "small k-core: exit 0" [ "$(rc)" = 0 ]
check "small k-core: dropped" out_line \
  "^k-core +min-user 2, min-item 2: 2 interactions dropped$"
check "small k-core: 4 interactions left" out_line "^interactions +4$"

# An Adressa directory of daily gzip files, format given.
run data stats "$fixtures/adressa_days" --format adressa
check "adressa days: exit 0" [ "$(rc)" = 0 ]
check "adressa days: three files" out_line "^format +adressa \(3 files\)$"
check "adressa days: non-article page views" out_line \
  "97 without an article id"
check "adressa days: interactions" out_line "^interactions +200$"

# Python dict literals are counted.
run data stats "$fixtures/amazon2014_loose.json.gz"
check "2014 literals: counted" out_line "201 of them written as Python dict literals"

# `melon run` reads a directory of daily gzip files (enough articles for
# 99 evaluation negatives) and says what it skipped on stderr.
mkdir -p "$tmp/days"
python3 - "$tmp/days" <<'PY'
import gzip, json, os, random, sys
r = random.Random(5)
for day in range(2):
    events = []
    for k in range(400):
        e = {"eventId": k, "userId": "cx:%d" % r.randrange(40),
             "time": 1483228800 + 86400 * day + k, "url": "http://x/"}
        if k % 4:
            e["id"] = "%040x" % r.randrange(150)
        events.append(json.dumps(e))
    data = ("\n".join(events) + "\n").encode()
    with open(os.path.join(sys.argv[1], "2017010%d" % (day + 1)), "wb") as f:
        f.write(gzip.compress(data, mtime=0))
PY
run run --data "$tmp/days" --format adressa --model pop --batch-size 16 \
  --epochs 1 --quiet --no-progress --out "$tmp/r.json"
check "run on adressa days: exit 0 ($(head -c 300 "$tmp/err"))" [ "$(rc)" = 0 ]
check "run on adressa days: skipped summary on stderr" \
  err_has "melon: skipped 200 of 800 records: 200 without an article id"
check "run on adressa days: result written" [ -s "$tmp/r.json" ]

# Errors: usage (2) and bad input (1) with file:line.
run data stats
check "no input: exit 2" [ "$(rc)" = 2 ]
run data stats "$tmp/small.csv" --bogus
check "unknown option: exit 2" [ "$(rc)" = 2 ]
run data stats "$tmp/small.csv" --min-user x
check "bad number: exit 2" [ "$(rc)" = 2 ]
run data stats "$tmp/small.csv" --format xml
check "unknown format: exit 1" [ "$(rc)" = 1 ]
check "unknown format: lists the known ones" \
  err_has "known: auto, delimited, adressa, amazon, yelp"
printf '{"reviewerID": "A", "asin": "B", "unixReviewTime": 5}\n{"asin": }\n' \
  >"$tmp/bad.json"
run data stats "$tmp/bad.json"
check "bad json: exit 1" [ "$(rc)" = 1 ]
check "bad json: file:line:column" err_has "bad.json:2:10: invalid JSON"
run data stats "$tmp/missing.json"
check "missing file: exit 1" [ "$(rc)" = 1 ]
run data stats ml-100k
check "catalog name not fetched: exit 1" [ "$(rc)" = 1 ]
check "catalog name not fetched: says how" err_has "run: melon data fetch ml-100k"

finish
