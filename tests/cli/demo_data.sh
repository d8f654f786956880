#!/usr/bin/env bash
# The demo's data step: without internet access it installs MovieLens 100K
# from the copy beside the project and prints no error; with neither, it
# fails with the download's reason. usage: demo_data.sh MELON_BINARY SOURCE_DIR
set -u
melon=$(realpath "$1")
src=$(realpath "$2")
. "$(dirname "$0")/lib.sh"
if [ ! -f "$src/../shared/data/ml-100k/u.data.gz" ]; then
  echo "SKIP: no ml-100k beside the project"; echo "0 passed, 0 failed"; exit 0
fi
# a cache of its own; the download cannot succeed (an address that does not
# resolve stands in for no internet access)
export MELON_CACHE_DIR=$tmp/cache
export https_proxy=http://no-such-host.invalid:1 http_proxy=http://no-such-host.invalid:1
(cd "$src" && bash scripts/demo-data.sh "$melon") >"$tmp/out" 2>"$tmp/err"
check "the fallback succeeds" [ $? = 0 ]
check "ml-100k is in the cache" bash -c "\"$melon\" data path ml-100k >/dev/null"
check "no error printed" bash -c "! grep -qi error '$tmp/err'"
check "it says where the data came from" grep -q "installed from ../shared/data/ml-100k/u.data.gz" "$tmp/out"
(cd "$src" && bash scripts/demo-data.sh "$melon") >"$tmp/out" 2>"$tmp/err"
check "a second time: nothing to do, nothing printed" [ ! -s "$tmp/out" -a ! -s "$tmp/err" ]
# neither download nor copy: the download's reason
mkdir -p "$tmp/project/scripts"
cp "$src/scripts/demo-data.sh" "$tmp/project/scripts/"
MELON_CACHE_DIR=$tmp/cache2 bash -c "cd '$tmp/project' && bash scripts/demo-data.sh '$melon'" \
  >"$tmp/out" 2>"$tmp/err"
check "no copy either: fails" [ $? != 0 ]
check "no copy either: the download's error is shown" grep -q "melon: error: ml-100k" "$tmp/err"
finish
