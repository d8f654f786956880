#!/usr/bin/env bash
# `melon recommend` from the checkpoint `melon run --save-model` writes:
# top-K with scores, seen items left out unless --include-seen, popularity
# for a user without a row (and said), JSON, and clear errors.
# usage: recommend.sh MELON_BINARY SOURCE_DIR
set -u
melon=$1
. "$(dirname "$0")/lib.sh"

# u0 interacts with i0..i9 only; the others with everything
/usr/bin/python3 - "$tmp/s.csv" <<'PY'
import sys, random
r = random.Random(3)
with open(sys.argv[1], "w") as f:
    for t in range(3000):
        u = r.randrange(40)
        i = r.randrange(10) if u == 0 else r.randrange(400)
        f.write(f"u{u},i{i},{t}\n")
PY
common=(--data "$tmp/s.csv" --batch-size 64 --dim 8 --epochs 2 --quiet --no-progress)

run run "${common[@]}" --save-model "$tmp/m.ckpt"
check "melon run --save-model writes a checkpoint" [ "$(rc)" = 0 ]

run recommend --checkpoint "$tmp/m.ckpt" --user u0 -k 5
check "top 5 for a known user" [ "$(rc)" = 0 ]
check "the header names the user" out_has "^user u0: top 5$"
check "five ranked lines" [ "$(grep -c '^ *[1-5]  i' "$tmp/out")" = 5 ]
# u0's items i0..i9 are all seen: none is recommended
check "seen items are left out" [ "$(grep -cE '^ *[0-9]+  i[0-9] ' "$tmp/out")" = 0 ]

run recommend --checkpoint "$tmp/m.ckpt" --user u0 -k 1000 --include-seen --json
check "--include-seen --json" [ "$(rc)" = 0 ]
/usr/bin/python3 - "$tmp/out" <<'PY' || { failed=$((failed + 1)); echo "FAIL: JSON with seen items, scores descending"; }
import json, sys
o = json.loads(open(sys.argv[1]).read())
assert o["user"] == "u0" and o["popular"] is False, o
items = [e["item"] for e in o["items"]]
scores = [e["score"] for e in o["items"]]
assert len(items) > 300 and len(set(items)) == len(items), len(items)
assert scores == sorted(scores, reverse=True)
assert {f"i{k}" for k in range(10)} <= set(items)
PY

run recommend --checkpoint "$tmp/m.ckpt" --user nobody --user u1 --json
check "an unknown user and a known one" [ "$(rc)" = 0 ]
/usr/bin/python3 - "$tmp/out" <<'PY' || { failed=$((failed + 1)); echo "FAIL: unknown user gets popular items, known one not"; }
import json, sys
a, b = (json.loads(l) for l in open(sys.argv[1]))
assert a["user"] == "nobody" and a["popular"] is True and len(a["items"]) == 10, a
assert b["user"] == "u1" and b["popular"] is False, b
PY
run recommend --checkpoint "$tmp/m.ckpt" --user nobody
check "the table says popularity was used" out_has "most popular items"

run run "${common[@]}" --model pop --save-model "$tmp/pop.ckpt"
run recommend --checkpoint "$tmp/pop.ckpt" --user u1 -k 3
check "the popularity model is saved and recommends" out_has "the popularity model"

run recommend --checkpoint "$tmp/missing.ckpt" --user u0
check "a missing checkpoint fails" [ "$(rc)" = 1 ]
check "... naming it" err_has "$tmp/missing.ckpt: cannot open"
head -c 100 "$tmp/m.ckpt" >"$tmp/cut.ckpt"
run recommend --checkpoint "$tmp/cut.ckpt" --user u0
check "a truncated checkpoint fails clearly" err_has "truncated checkpoint"
run recommend --checkpoint "$tmp/m.ckpt"
check "--user is required" [ "$(rc)" = 2 ]
run recommend --checkpoint "$tmp/m.ckpt" --user u0 -k 0
check "-k 0 is refused" [ "$(rc)" = 2 ]

finish recommend
