#!/usr/bin/env bash
# The installed library: `cmake --install` (what `make install PREFIX=DIR`
# runs) into a temporary prefix; what it installs; examples/embed.c built
# with `pkg-config --cflags --libs melon` against libmelon.so, and once
# against libmelon.a; both run on examples/data and their output checked.
# usage: library_package.sh MELON_BINARY SOURCE_DIR BUILD_DIR
set -u
src=$2
build=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
check() { # check "description" command...
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $what"; fi
}

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1
check "cmake --install succeeds" [ $? = 0 ]
for f in lib/libmelon.so lib/libmelon.a include/melon/melon.h lib/pkgconfig/melon.pc bin/melon; do
  check "installs $f" [ -e "$prefix/$f" ]
done
check "installs one header, melon.h" [ "$(ls "$prefix/include/melon")" = melon.h ]

# The library does not link curl (nor OpenSSL): only the command fetches.
lib=$prefix/lib/libmelon.so
check "libmelon.so does not need curl or OpenSSL" \
  bash -c "! readelf -d '$lib' | grep NEEDED | grep -Ei 'curl|ssl|crypto'"
check "nor does anything it loads" bash -c "! ldd '$lib' | grep -Ei 'curl|ssl'"
check "libmelon.a holds no curl call" bash -c "! nm '$prefix/lib/libmelon.a' | grep -i curl_"
# It exports the functions of melon.h and nothing else.
nm -D --defined-only "$lib" | awk '$2 == "T" {print $3}' | sort >"$tmp/exported"
check "libmelon.so exports functions" [ -s "$tmp/exported" ]
while read -r name; do
  check "$name is declared in melon.h" grep -q "\b$name(" "$prefix/include/melon/melon.h"
done <"$tmp/exported"
check "exports melon_create and melon_recommend" \
  bash -c "grep -qx melon_create '$tmp/exported' && grep -qx melon_recommend '$tmp/exported'"

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
version=$(sed -n 's/^#define MELON_VERSION "\(.*\)"$/\1/p' "$src/include/melon/melon.h")
check "pkg-config knows melon $version" [ "$(pkg-config --modversion melon)" = "$version" ]
check "pkg-config --cflags names the prefix" \
  bash -c "pkg-config --cflags melon | grep -q -- '-I$prefix/include'"
check "the header compiles as C++ too" \
  bash -c "echo '#include <melon/melon.h>' | c++ -x c++ -fsyntax-only -Wall -Werror $(pkg-config --cflags melon) -"

# The example, against the shared library.
cc -std=c11 -Wall -Wextra -Werror -pedantic -o "$tmp/embed" "$src/examples/embed.c" \
  $(pkg-config --cflags --libs melon) 2>"$tmp/cc.err"
check "embed.c compiles against the installed library" [ $? = 0 ]
cat "$tmp/cc.err"
past=$src/examples/data/shop-past.csv
stream=$src/examples/data/shop-stream.csv
LD_LIBRARY_PATH=$prefix/lib ldd "$tmp/embed" >"$tmp/ldd"
check "embed loads the installed libmelon.so" grep -q "libmelon.so.0 => $prefix/lib/" "$tmp/ldd"
LD_LIBRARY_PATH=$prefix/lib "$tmp/embed" "$past" "$stream" "$tmp/shop.ckpt" u7 \
  >"$tmp/out" 2>"$tmp/err"
check "embed exits 0" [ $? = 0 ]
cat "$tmp/err"
check "embed pre-trains on the 4000 past events" grep -q "^pre-trained on 4000 events: 300 users, 200 items$" "$tmp/out"
check "embed observes the 1000 stream events" grep -q "^observed 1000 events in 16 batches" "$tmp/out"
check "the checkpoint exists" [ -s "$tmp/shop.ckpt" ]

top=$(sed -n 's/^top 10 for u7: //p' "$tmp/out")
reloaded=$(sed -n 's/^top 10 after reloading for u7: //p' "$tmp/out")
check "ten items for u7" [ "$(wc -w <<<"$top")" = 10 ]
check "the reloaded session recommends the same items" [ "$top" = "$reloaded" ]
# The data's users fall in ten groups (user number modulo 10) that each
# take four events in five from their own twenty items; a learned model
# recommends u7 mostly its group's items, and none it has already taken.
hr=$(sed -n 's/.*HR@10 \([0-9.]*\),.*/\1/p' "$tmp/out")
check "HR@10 on the stream ($hr) is far above chance (0.1)" \
  awk -v h="$hr" 'BEGIN {exit !(h > 0.4)}'
seen=$(tail -q -n +2 "$past" "$stream" | awk -F, '$1 == "u7" {print $2}' | sort -u)
for item in $top; do
  check "u7 has not taken $item" bash -c "! grep -qx '$item' <<<'$seen'"
done
group=$(tail -q -n +2 "$past" "$stream" |
        awk -F, '{n = substr($1, 2) + 0; if (n % 10 == 7) c[$2]++}
                 END {for (i in c) print c[i], i}' | sort -rn | head -20 | awk '{print $2}')
open=$(grep -vxF "$seen" <<<"$group" | wc -l)
in_group=0
for item in $top; do grep -qx "$item" <<<"$group" && in_group=$((in_group + 1)); done
# chance would put about open * 10 / 190 of them in the top 10
check "u7's top 10 holds at least half of the $open group items it has not taken ($in_group)" \
  [ "$in_group" -ge $(((open + 1) / 2)) ]
check "u7's group has items left to recommend" [ "$open" -ge 4 ]
# An unknown user gets the most popular items, flagged.
popular=$(sed -n 's/^top 10 for someone-new (most popular): //p' "$tmp/out")
check "an unknown user gets ten popular items" [ "$(wc -w <<<"$popular")" = 10 ]
tail -q -n +2 "$past" "$stream" | cut -d, -f2 | sort | uniq -c | sort -rn >"$tmp/counts"
tenth=$(awk 'NR == 10 {print $1}' "$tmp/counts")
for item in $popular; do
  count=$(awk -v i="$item" '$2 == i {print $1}' "$tmp/counts")
  check "popular $item occurs at least as often as the tenth ($count >= $tenth)" \
    [ "${count:-0}" -ge "$tenth" ]
done

# Bad input: a missing file is named, exit 1.
LD_LIBRARY_PATH=$prefix/lib "$tmp/embed" "$tmp/none.csv" "$stream" "$tmp/x.ckpt" u7 \
  >/dev/null 2>"$tmp/err"
check "a missing past file exits 1" [ $? = 1 ]
check "and is named" grep -q "none.csv" "$tmp/err"

# Once against libmelon.a: the same program, no libmelon.so needed.
libs=$(pkg-config --static --libs melon)
cc -std=c11 -Wall -Wextra -Werror -o "$tmp/embed-static" "$src/examples/embed.c" \
  $(pkg-config --cflags melon) ${libs/-lmelon/-l:libmelon.a} 2>"$tmp/cc.err"
check "embed.c links statically against libmelon.a" [ $? = 0 ]
cat "$tmp/cc.err"
check "the static program does not need libmelon.so" \
  bash -c "! readelf -d '$tmp/embed-static' | grep NEEDED | grep -q libmelon"
"$tmp/embed-static" "$past" "$stream" "$tmp/static.ckpt" u7 >"$tmp/out-static" 2>&1
check "the static program exits 0" [ $? = 0 ]
check "and prints what the shared one printed" diff "$tmp/out" <(sed "s|$tmp/static.ckpt|$tmp/shop.ckpt|" "$tmp/out-static")

echo "library_package: $passed passed, $failed failed"
[ "$failed" = 0 ]
