#!/usr/bin/env bash
# The demo's data: MovieLens 100K in melon's cache, downloaded once, or
# without internet access installed from the copy beside the project.
# usage: demo-data.sh MELON_BINARY (run from the project's folder)
set -euo pipefail
melon=$1

if ! "$melon" data path ml-100k >/dev/null 2>&1; then
  fetch_log=$(mktemp)
  trap 'rm -f "$fetch_log"' EXIT
  if "$melon" data fetch ml-100k 2>"$fetch_log"; then
    cat "$fetch_log" >&2
  else
    # Offline: install from a local copy of the GroupLens file when one is
    # beside the project (the checksum is verified the same way). The
    # download's error is shown only when that fails too.
    local_copy=../shared/data/ml-100k/u.data.gz
    if ! [ -f "$local_copy" ] ||
       ! "$melon" data fetch ml-100k --from "$local_copy"; then
      cat "$fetch_log" >&2
      echo "melon demo: cannot fetch ml-100k" >&2
      exit 1
    fi
    echo "melon demo: no download; ml-100k installed from $local_copy"
  fi
fi
