#!/usr/bin/env bash
# The catalog entries without a known checksum (MovieLens 1M and latest
# small, the 2014 Amazon 5-core categories), fetched from a local HTTP
# server (python3 -m http.server on 127.0.0.1) serving small files made
# here in the publishers' layouts: fetch warns and prints the SHA-256,
# installs, and `melon data stats NAME` reads what it installed.
# Usage: fetch_catalog.sh MELON_BINARY SOURCE_DIR
set -u

MELON=$1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/melon-fetch-catalog-XXXXXX")
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
export MELON_CACHE_DIR="$WORK/default-cache"

passed=0
failed=0
check() {
    local message=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        echo "FAIL: $message"
        failed=$((failed + 1))
    fi
}
contains() { grep -q -- "$2" "$1"; }
not_contains() { ! grep -q -- "$2" "$1"; }
contains_regex() { grep -Eq -- "$2" "$1"; }
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
no_files_under() { [ -z "$(find "$1" -type f 2>/dev/null)" ]; }
downloads_of() { grep -c "GET $1 " "$WORK/server.log"; }
run_melon() {
    "$MELON" "$@" >"$WORK/out" 2>"$WORK/err"
    status=$?
}

# ---- the publishers' layouts, with made-up content -------------------------

mkdir -p "$WORK/srv" "$WORK/expected"
python3 - "$WORK/srv" "$WORK/expected" <<'EOF' || { echo "FAIL: cannot build the test files"; exit 1; }
import gzip, json, random, sys, zipfile
srv, expected = sys.argv[1], sys.argv[2]
r = random.Random(11)

ratings = "".join("%d::%d::%d::%d\n" % (1 + r.randrange(60), 1 + r.randrange(200),
                                         1 + r.randrange(5), 956703932 + k * 37)
                  for k in range(1000))
open(f"{expected}/ratings.dat", "w").write(ratings)
with zipfile.ZipFile(f"{srv}/ml-1m.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("ml-1m/README", "MovieLens 1M (test copy)\n")
    z.writestr("ml-1m/movies.dat", "1::Toy Story (1995)::Animation\n")
    z.writestr("ml-1m/ratings.dat", ratings)

csv = "userId,movieId,rating,timestamp\n" + "".join(
    "%d,%d,%.1f,%d\n" % (1 + r.randrange(30), 1 + r.randrange(150),
                         0.5 * (1 + r.randrange(10)), 964982703 + k)
    for k in range(500))
open(f"{expected}/ratings.csv", "w").write(csv)
with zipfile.ZipFile(f"{srv}/ml-latest-small.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("ml-latest-small/ratings.csv", csv)
    z.writestr("ml-latest-small/movies.csv", "movieId,title,genres\n")

reviews = "".join(json.dumps({
    "reviewerID": "A%d" % r.randrange(25), "asin": "B%03d" % r.randrange(120),
    "helpful": [0, 0], "reviewText": "fine", "overall": 5.0,
    "summary": "ok", "unixReviewTime": 1300000000 + 86400 * k,
    "reviewTime": "01 1, 2011"}) + "\n" for k in range(400))
open(f"{expected}/reviews.json", "w").write(reviews)
open(f"{srv}/reviews_Grocery_and_Gourmet_Food_5.json.gz", "wb").write(
    gzip.compress(reviews.encode(), mtime=0))
open(f"{srv}/empty.json.gz", "wb").write(gzip.compress(b"", mtime=0))
EOF

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
python3 -u -m http.server --bind 127.0.0.1 --directory "$WORK/srv" "$PORT" \
    >/dev/null 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done
BASE="http://127.0.0.1:$PORT"
CACHE="$WORK/cache"

# ---- the catalog -------------------------------------------------------------

run_melon data list --cache-dir "$CACHE"
check "list: exit 0" [ "$status" -eq 0 ]
for name in ml-1m ml-latest-small amazon14-grocery-5core amazon14-books-5core \
            amazon14-instant-video-5core; do
    check "list: $name, not fetched" \
        contains_regex "$WORK/out" "^$name +not fetched "
done
check "list: the publisher's address of the Grocery 5-core file" \
    contains "$WORK/out" "source:  https://snap.stanford.edu/data/amazon/productGraph/categoryFiles/reviews_Grocery_and_Gourmet_Food_5.json.gz"
check "list: ml-1m from GroupLens" \
    contains "$WORK/out" "source:  https://files.grouplens.org/datasets/movielens/ml-1m.zip"
check "list: says when no checksum is known" \
    contains "$WORK/out" "checksum: none known"

# ---- MovieLens 1M: checked against GroupLens's MD5 of ml-1m.zip ----------
# The test copy is not GroupLens's archive, so it must be refused.

run_melon data fetch ml-1m --cache-dir "$CACHE" --url "$BASE/ml-1m.zip"
check "ml-1m: a download that is not the publisher's fails" [ "$status" -eq 1 ]
check "ml-1m: says which MD5 was expected and which came" \
    contains "$WORK/err" "ml-1m: the download does not match the publisher's MD5: expected c4d9eecfca2ab87c1945afe126590906, got $(md5sum "$WORK/srv/ml-1m.zip" | cut -d' ' -f1)"
check "ml-1m: nothing installed" no_files_under "$CACHE/ml-1m"
run_melon data list --cache-dir "$CACHE"
check "list: ml-1m is checked by the publisher's MD5" \
    contains "$WORK/out" "checksum: the publisher's MD5 of the download, c4d9eecfca2ab87c1945afe126590906"
# its "::" layout, read from the file itself
run_melon data stats "$WORK/expected/ratings.dat"
check "ml-1m layout stats: exit 0 ($(head -c 300 "$WORK/err"))" [ "$status" -eq 0 ]
check "ml-1m layout stats: 1000 interactions" contains_regex "$WORK/out" "^interactions +1000$"
check "ml-1m layout stats: delimited" contains_regex "$WORK/out" "^format +delimited"

# ---- MovieLens latest small: a CSV with a header in a zip, no checksum ------

run_melon data fetch ml-latest-small --cache-dir "$CACHE" \
    --url "$BASE/ml-latest-small.zip"
check "ml-latest-small: exit 0 ($(head -c 300 "$WORK/err"))" [ "$status" -eq 0 ]
check "ml-latest-small: prints the installed path" \
    [ "$(cat "$WORK/out")" = "$CACHE/ml-latest-small/ratings.csv" ]
check "ml-latest-small: installed ratings.csv" \
    cmp -s "$CACHE/ml-latest-small/ratings.csv" "$WORK/expected/ratings.csv"
check "ml-latest-small: warns that it is not verified" \
    contains "$WORK/err" "warning: ml-latest-small: no checksum is known for this dataset, so it is NOT verified"
check "ml-latest-small: the warning gives the SHA-256 of the installed file" \
    contains "$WORK/err" "SHA-256 $(sha_of "$WORK/expected/ratings.csv")"
check "ml-latest-small: the closing line says not verified" \
    contains "$WORK/err" "ml-latest-small: fetched ($(stat -c %s "$WORK/expected/ratings.csv") bytes, not verified"
check "ml-latest-small: only the installed file is left" \
    [ "$(find "$CACHE" -type f | wc -l)" -eq 1 ]

run_melon data fetch ml-latest-small --cache-dir "$CACHE" --url "$BASE/ml-latest-small.zip"
check "ml-latest-small again: exit 0" [ "$status" -eq 0 ]
check "ml-latest-small again: no second download" \
    [ "$(downloads_of /ml-latest-small.zip)" -eq 1 ]
check "ml-latest-small again: already fetched" contains "$WORK/err" "already fetched"
check "ml-latest-small again: nothing installed, so no warning" \
    not_contains "$WORK/err" "NOT verified"
run_melon data fetch ml-latest-small --cache-dir "$CACHE" \
    --url "$BASE/ml-latest-small.zip" --force
check "ml-latest-small --force: downloads again" \
    [ "$(downloads_of /ml-latest-small.zip)" -eq 2 ]

run_melon data stats ml-latest-small --cache-dir "$CACHE"
check "ml-latest-small stats: exit 0 ($(head -c 300 "$WORK/err"))" [ "$status" -eq 0 ]
check "ml-latest-small stats: 500 interactions" \
    contains_regex "$WORK/out" "^interactions +500$"
run_melon data path ml-latest-small --cache-dir "$CACHE"
check "ml-latest-small path: exit 0" [ "$status" -eq 0 ]

# ---- Amazon 2014 5-core: gzip JSON lines, installed unpacked ----------------

run_melon data fetch amazon14-grocery-5core --cache-dir "$CACHE" \
    --url "$BASE/reviews_Grocery_and_Gourmet_Food_5.json.gz"
check "grocery: exit 0 ($(head -c 300 "$WORK/err"))" [ "$status" -eq 0 ]
FILE="$CACHE/amazon14-grocery-5core/reviews_Grocery_and_Gourmet_Food_5.json"
check "grocery: prints the installed path" [ "$(cat "$WORK/out")" = "$FILE" ]
check "grocery: unpacked" cmp -s "$FILE" "$WORK/expected/reviews.json"
check "grocery: SHA-256 of the unpacked file" \
    contains "$WORK/err" "SHA-256 $(sha_of "$WORK/expected/reviews.json")"
check "grocery: terms name the papers to cite" contains "$WORK/err" "McAuley"
run_melon data stats amazon14-grocery-5core --cache-dir "$CACHE"
check "grocery stats: exit 0" [ "$status" -eq 0 ]
check "grocery stats: read as amazon" contains_regex "$WORK/out" "^format +amazon"
check "grocery stats: 400 interactions" contains_regex "$WORK/out" "^interactions +400$"

# ---- failures leave nothing behind ------------------------------------------

run_melon data fetch amazon14-books-5core --cache-dir "$WORK/c1" \
    --url "$BASE/missing.json.gz"
check "404: exit 1" [ "$status" -eq 1 ]
check "404: says so" contains "$WORK/err" "download failed: HTTP 404"
check "404: nothing left" no_files_under "$WORK/c1"
run_melon data fetch amazon14-books-5core --cache-dir "$WORK/c2" \
    --url "$BASE/empty.json.gz"
check "empty download: exit 1" [ "$status" -eq 1 ]
check "empty download: says so" contains "$WORK/err" "amazon14-books-5core: the file is empty"
check "empty download: nothing left" no_files_under "$WORK/c2"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
