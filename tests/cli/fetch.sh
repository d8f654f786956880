#!/usr/bin/env bash
# `melon data fetch | list | path` end to end, against a local HTTP server
# (python3 -m http.server on 127.0.0.1) serving zips built from the shared
# copy of MovieLens 100K. Usage: fetch.sh MELON_BINARY SOURCE_DIR
set -u

MELON=$1
SOURCE_DIR=$2
SHARED_GZ="$SOURCE_DIR/../shared/data/ml-100k/u.data.gz"
EXPECTED_SHA=06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490

if [ ! -f "$SHARED_GZ" ]; then
    echo "SKIP: $SHARED_GZ not found"
    exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/melon-fetch-test-XXXXXX")
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# Never touch the real cache, whatever a check forgets to pass.
export MELON_CACHE_DIR="$WORK/default-cache"

passed=0
failed=0
fail() {
    echo "FAIL: $*"
    failed=$((failed + 1))
}
# check MESSAGE COMMAND...: counts a pass when COMMAND succeeds.
check() {
    local message=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        fail "$message"
    fi
}
contains() { grep -q -- "$2" "$1"; }
contains_regex() { grep -Eq -- "$2" "$1"; }
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
verifies() { [ -f "$1" ] && [ "$(sha_of "$1")" = "$EXPECTED_SHA" ]; }
# No regular file (final or temporary) anywhere under the directory.
no_files_under() { [ -z "$(find "$1" -type f 2>/dev/null)" ]; }
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
downloads_of() { grep -c "GET $1 " "$WORK/server.log"; }

# melon ARGS... : runs melon with stdout/stderr in $WORK/out and $WORK/err.
run_melon() {
    "$MELON" "$@" >"$WORK/out" 2>"$WORK/err"
    status=$?
}

# ---- test material ---------------------------------------------------------

gzip -dc "$SHARED_GZ" >"$WORK/u.data"
cp "$SHARED_GZ" "$WORK/u.data.gz"
mkdir -p "$WORK/srv/redirected"
python3 - "$WORK/u.data" "$WORK/srv" <<'EOF' || { echo "FAIL: cannot build the test zips"; exit 1; }
import struct, sys, zipfile

u_data_path, srv = sys.argv[1], sys.argv[2]
u_data = open(u_data_path, "rb").read()
member = "ml-100k/u.data"

def build(path, payload, method, with_member=True):
    with zipfile.ZipFile(path, "w", method) as z:
        z.writestr("ml-100k/README", b"MovieLens 100K (test copy)\n")
        if with_member:
            z.writestr(member, payload)
        z.writestr("ml-100k/u.info", b"943 users\n1682 items\n100000 ratings\n")

def flip_member_byte(path):
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(member)
    raw = bytearray(open(path, "rb").read())
    local = info.header_offset
    name_len, extra_len = struct.unpack("<HH", raw[local + 26:local + 30])
    data = local + 30 + name_len + extra_len
    raw[data + info.compress_size // 2] ^= 0x55
    open(path, "wb").write(bytes(raw))

build(f"{srv}/ml-100k.zip", u_data, zipfile.ZIP_DEFLATED)
build(f"{srv}/corrupt-deflate.zip", u_data, zipfile.ZIP_DEFLATED)
flip_member_byte(f"{srv}/corrupt-deflate.zip")
build(f"{srv}/corrupt-stored.zip", u_data, zipfile.ZIP_STORED)
flip_member_byte(f"{srv}/corrupt-stored.zip")
# A sound zip whose u.data lacks its last line: only SHA-256 can tell.
build(f"{srv}/short.zip", u_data[:u_data.rindex(b"\n", 0, -1) + 1],
      zipfile.ZIP_DEFLATED)
build(f"{srv}/no-member.zip", u_data, zipfile.ZIP_DEFLATED, with_member=False)
# http.server answers /redirected with a 301 to /redirected/ (its index).
open(f"{srv}/redirected/index.html", "wb").write(
    open(f"{srv}/ml-100k.zip", "rb").read())
EOF
check "unpacked copy of the shared u.data has the catalog checksum" \
    verifies "$WORK/u.data"

PORT=$(free_port)
python3 -u -m http.server --bind 127.0.0.1 --directory "$WORK/srv" "$PORT" \
    >/dev/null 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done
if ! (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "FAIL: the local HTTP server did not start on port $PORT"
    cat "$WORK/server.log"
    exit 1
fi
BASE="http://127.0.0.1:$PORT"

# ---- usage -----------------------------------------------------------------

run_melon data --help
check "data --help exits 0" [ "$status" -eq 0 ]
for option in --cache-dir --url --from --force; do
    check "data --help lists $option" contains "$WORK/out" "$option"
done
check "data --help gives defaults" contains "$WORK/out" "default"
run_melon data fetch --help
check "data fetch --help exits 0" [ "$status" -eq 0 ]
for option in --cache-dir --url --from --force --help; do
    check "data fetch --help lists $option" contains "$WORK/out" "$option"
done
check "data fetch --help names the default cache" \
    contains "$WORK/out" "MELON_CACHE_DIR"

run_melon data fetch no-such-set --cache-dir "$WORK/c0"
check "unknown dataset: exit 2" [ "$status" -eq 2 ]
check "unknown dataset: names the valid ones" contains "$WORK/err" "ml-100k"
run_melon data path no-such-set
check "data path of an unknown dataset: exit 2" [ "$status" -eq 2 ]
run_melon data fetch ml-100k --bogus
check "unknown option: exit 2" [ "$status" -eq 2 ]
check "unknown option: lists the valid ones" contains "$WORK/err" "--from"
run_melon data fetch ml-100k --url "$BASE/x.zip" --from "$WORK/u.data"
check "--url with --from: exit 2" [ "$status" -eq 2 ]
run_melon data fetch
check "fetch without a name: exit 2" [ "$status" -eq 2 ]
run_melon data fetch ml-100k --url
check "option without its value: exit 2" [ "$status" -eq 2 ]
run_melon data frobnicate
check "unknown data command: exit 2" [ "$status" -eq 2 ]
check "unknown data command: lists the valid ones" contains "$WORK/err" "fetch"
run_melon data
check "data without a command: exit 2" [ "$status" -eq 2 ]
check "usage errors created no cache" no_files_under "$WORK/c0"

# ---- fetch over HTTP -------------------------------------------------------

CACHE="$WORK/cache"
FINAL="$CACHE/ml-100k/u.data"

run_melon data path ml-100k --cache-dir "$CACHE"
check "data path before fetching: exit 1" [ "$status" -eq 1 ]
check "data path before fetching: says how to fetch" \
    contains "$WORK/err" "ml-100k is not fetched; run: melon data fetch ml-100k"
run_melon data list --cache-dir "$CACHE"
check "data list before fetching: exit 0" [ "$status" -eq 0 ]
check "data list before fetching: not fetched" \
    contains_regex "$WORK/out" "^ml-100k +not fetched +$FINAL\$"
check "data list gives the licence" contains "$WORK/out" "no redistribution"

run_melon data fetch ml-100k --cache-dir "$CACHE" --url "$BASE/ml-100k.zip"
check "fetch: exit 0 (stderr: $(head -c 300 "$WORK/err"))" [ "$status" -eq 0 ]
check "fetch: stdout is exactly the installed path" \
    [ "$(cat "$WORK/out")" = "$FINAL" ]
check "fetch: installed file has the catalog checksum" \
    verifies "$FINAL"
check "fetch: stderr gives the terms" contains "$WORK/err" "Harper"
check "fetch: no progress line when stderr is not a terminal" \
    [ "$(tr -cd '\r' <"$WORK/err" | wc -c)" -eq 0 ]
check "fetch: only the installed file is left in the cache" \
    [ "$(find "$CACHE" -type f | wc -l)" -eq 1 ]
check "fetch: downloaded once" [ "$(downloads_of /ml-100k.zip)" -eq 1 ]

run_melon data fetch ml-100k --cache-dir "$CACHE" --url "$BASE/ml-100k.zip"
check "second fetch: exit 0" [ "$status" -eq 0 ]
check "second fetch: prints the path" [ "$(cat "$WORK/out")" = "$FINAL" ]
check "second fetch: no download" [ "$(downloads_of /ml-100k.zip)" -eq 1 ]

run_melon data path ml-100k --cache-dir "$CACHE"
check "data path after fetching: exit 0" [ "$status" -eq 0 ]
check "data path after fetching: the path" [ "$(cat "$WORK/out")" = "$FINAL" ]
run_melon data list --cache-dir "$CACHE"
check "data list after fetching: fetched" \
    contains_regex "$WORK/out" "^ml-100k +fetched +$FINAL\$"

run_melon data fetch ml-100k --cache-dir "$CACHE" --url "$BASE/ml-100k.zip" \
    --force
check "--force: exit 0" [ "$status" -eq 0 ]
check "--force: downloads again" [ "$(downloads_of /ml-100k.zip)" -eq 2 ]
check "--force: file verifies" verifies "$FINAL"

run_melon data fetch ml-100k --cache-dir "$CACHE" --url "$BASE/missing.zip" \
    --force
check "--force from a bad address: exit 1" [ "$status" -eq 1 ]
check "--force from a bad address: the verified copy stays" \
    verifies "$FINAL"

# A damaged cached copy (same size, one byte changed) is fetched again.
printf 'X' | dd of="$FINAL" bs=1 seek=1000 conv=notrunc status=none
run_melon data fetch ml-100k --cache-dir "$CACHE" --url "$BASE/ml-100k.zip"
check "damaged copy: exit 0" [ "$status" -eq 0 ]
check "damaged copy: downloaded again" [ "$(downloads_of /ml-100k.zip)" -eq 3 ]
check "damaged copy: repaired" verifies "$FINAL"
check "damaged copy: said so" contains "$WORK/err" "does not verify"

# A truncated cached copy is caught by data path (size check).
head -c 1000 "$FINAL" >"$WORK/partial" && cp "$WORK/partial" "$FINAL"
run_melon data path ml-100k --cache-dir "$CACHE"
check "truncated copy: data path fails" [ "$status" -eq 1 ]

run_melon data fetch ml-100k --cache-dir "$WORK/redir" \
    --url "$BASE/redirected"
check "redirect: exit 0 (stderr: $(head -c 300 "$WORK/err"))" \
    [ "$status" -eq 0 ]
check "redirect: followed" \
    verifies "$WORK/redir/ml-100k/u.data"

# A mirror may serve the file itself, plain or gzip-compressed.
cp "$WORK/u.data" "$WORK/u.data.gz" "$WORK/srv/"
for served in u.data u.data.gz; do
    run_melon data fetch ml-100k --cache-dir "$WORK/served-$served" \
        --url "$BASE/$served"
    check "download of $served: exit 0 (stderr: $(head -c 300 "$WORK/err"))" \
        [ "$status" -eq 0 ]
    check "download of $served: file verifies" \
        verifies "$WORK/served-$served/ml-100k/u.data"
done

# ---- failures leave nothing behind -----------------------------------------

run_melon data fetch ml-100k --cache-dir "$WORK/c1" \
    --url "$BASE/corrupt-stored.zip"
check "corrupt stored member: exit 1" [ "$status" -eq 1 ]
check "corrupt stored member: CRC error" contains "$WORK/err" "CRC"
check "corrupt stored member: names the member" \
    contains "$WORK/err" "ml-100k/u.data"
check "corrupt stored member: nothing left" no_files_under "$WORK/c1"

run_melon data fetch ml-100k --cache-dir "$WORK/c2" \
    --url "$BASE/corrupt-deflate.zip"
check "corrupt deflated member: exit 1" [ "$status" -eq 1 ]
check "corrupt deflated member: CRC or checksum error" \
    contains_regex "$WORK/err" "CRC|checksum|corrupt"
check "corrupt deflated member: nothing left" no_files_under "$WORK/c2"

run_melon data fetch ml-100k --cache-dir "$WORK/c3" --url "$BASE/short.zip"
check "wrong content: exit 1" [ "$status" -eq 1 ]
check "wrong content: checksum mismatch message" contains "$WORK/err" \
    "melon: error: ml-100k: checksum mismatch: expected $EXPECTED_SHA, got "
check "wrong content: nothing left" no_files_under "$WORK/c3"

run_melon data fetch ml-100k --cache-dir "$WORK/c4" --url "$BASE/no-member.zip"
check "member missing: exit 1" [ "$status" -eq 1 ]
check "member missing: names it" contains "$WORK/err" "no member 'ml-100k/u.data'"
check "member missing: nothing left" no_files_under "$WORK/c4"

run_melon data fetch ml-100k --cache-dir "$WORK/c5" --url "$BASE/missing.zip"
check "HTTP 404: exit 1" [ "$status" -eq 1 ]
check "HTTP 404: says so" contains "$WORK/err" "download failed: HTTP 404 from $BASE/missing.zip"
check "HTTP 404: nothing left" no_files_under "$WORK/c5"

DEAD_PORT=$(free_port)
started=$(date +%s)
run_melon data fetch ml-100k --cache-dir "$WORK/c6" \
    --url "http://127.0.0.1:$DEAD_PORT/ml-100k.zip"
elapsed=$(($(date +%s) - started))
check "unreachable: exit 1" [ "$status" -eq 1 ]
check "unreachable: says so" contains "$WORK/err" "cannot reach http://127.0.0.1:$DEAD_PORT/"
check "unreachable: quick (${elapsed}s)" [ "$elapsed" -lt 30 ]
check "unreachable: nothing left" no_files_under "$WORK/c6"

# ---- installing from a local copy ------------------------------------------

for source in "$WORK/srv/ml-100k.zip" "$WORK/u.data" "$WORK/u.data.gz"; do
    label=$(basename "$source")
    cache="$WORK/from-$label"
    run_melon data fetch ml-100k --cache-dir "$cache" --from "$source"
    check "--from $label: exit 0 (stderr: $(head -c 300 "$WORK/err"))" \
        [ "$status" -eq 0 ]
    check "--from $label: prints the path" \
        [ "$(cat "$WORK/out")" = "$cache/ml-100k/u.data" ]
    check "--from $label: file verifies" \
        verifies "$cache/ml-100k/u.data"
done
check "--from never touched the server" [ "$(downloads_of /ml-100k.zip)" -eq 3 ]

# Work files of an interrupted fetch are swept once an hour old; a recent
# one (a fetch running at the same time) is left alone.
mkdir -p "$WORK/c9/ml-100k"
touch -d '2 hours ago' "$WORK/c9/ml-100k/.u.data.melon-partial-abc123"
touch "$WORK/c9/ml-100k/.u.data.melon-download-def456"
run_melon data fetch ml-100k --cache-dir "$WORK/c9" --from "$WORK/u.data"
check "sweep: exit 0" [ "$status" -eq 0 ]
check "sweep: abandoned work file removed" \
    [ ! -e "$WORK/c9/ml-100k/.u.data.melon-partial-abc123" ]
check "sweep: recent work file kept" \
    [ -e "$WORK/c9/ml-100k/.u.data.melon-download-def456" ]

head -c 500000 "$WORK/u.data.gz" >"$WORK/truncated.gz"
run_melon data fetch ml-100k --cache-dir "$WORK/c7" --from "$WORK/truncated.gz"
check "--from a truncated gzip: exit 1" [ "$status" -eq 1 ]
check "--from a truncated gzip: says so" contains "$WORK/err" "truncated gzip"
check "--from a truncated gzip: nothing left" no_files_under "$WORK/c7"
run_melon data fetch ml-100k --cache-dir "$WORK/c8" --from "$WORK/nope.zip"
check "--from a missing file: exit 1" [ "$status" -eq 1 ]
check "--from a missing file: names it" contains "$WORK/err" "$WORK/nope.zip"

# ---- the default cache directory -------------------------------------------

run_melon data fetch ml-100k --from "$WORK/u.data"
check "MELON_CACHE_DIR is the default" \
    [ "$(cat "$WORK/out")" = "$MELON_CACHE_DIR/ml-100k/u.data" ]
(
    unset MELON_CACHE_DIR
    export XDG_CACHE_HOME="$WORK/xdg"
    "$MELON" data fetch ml-100k --from "$WORK/u.data" >"$WORK/out" 2>"$WORK/err"
)
check "then \$XDG_CACHE_HOME/melon" \
    [ "$(cat "$WORK/out")" = "$WORK/xdg/melon/ml-100k/u.data" ]
(
    unset MELON_CACHE_DIR XDG_CACHE_HOME
    export HOME="$WORK/home"
    "$MELON" data fetch ml-100k --from "$WORK/u.data" >"$WORK/out" 2>"$WORK/err"
)
check "then \$HOME/.cache/melon" \
    [ "$(cat "$WORK/out")" = "$WORK/home/.cache/melon/ml-100k/u.data" ]

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
