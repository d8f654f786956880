#!/usr/bin/env bash
# Idle OpenMP threads of `melon` sleep (OMP_WAIT_POLICY=passive) unless the
# user chose otherwise: the spin count OpenMP ends up with, and the CPU time
# of a two-thread run against one with the policy set by hand.
# usage: wait_policy.sh MELON_BINARY SOURCE_DIR
set -u
melon=$1
. "$(dirname "$0")/lib.sh"
# the spin count of the OpenMP runtime that runs the command (the last one
# printed: melon may start itself again with the policy set)
spin_count() {
  "$melon" --version 2>&1 >/dev/null | sed -n "s/.*GOMP_SPINCOUNT = '\([0-9]*\)'.*/\1/p" | tail -1
}
export OMP_DISPLAY_ENV=verbose
check "no policy set: idle threads do not spin" \
  [ "$(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT bash -c "$(declare -f spin_count); melon=$melon; spin_count")" = 0 ]
check "OMP_WAIT_POLICY=active set by the user stays" \
  [ "$(OMP_WAIT_POLICY=active bash -c "$(declare -f spin_count); melon=$melon; spin_count")" != 0 ]
check "GOMP_SPINCOUNT set by the user stays" \
  [ "$(env -u OMP_WAIT_POLICY GOMP_SPINCOUNT=1234 bash -c "$(declare -f spin_count); melon=$melon; spin_count")" = 1234 ]
unset OMP_DISPLAY_ENV
check "arguments survive" bash -c "env -u OMP_WAIT_POLICY '$melon' run --help | grep -q -- --per-batch"

# CPU time: a BPR-MF run on two threads, 100,000 interactions
/usr/bin/python3 - "$tmp/s.csv" <<'PY'
import sys, random
r = random.Random(3)
with open(sys.argv[1], "w") as f:
    for t in range(100000):
        f.write(f"u{r.randrange(500)},i{r.randrange(2000)},{t}\n")
PY
cpu_times=$(/usr/bin/python3 - "$melon" "$tmp/s.csv" <<'PY'
import os, resource, subprocess, sys
melon, data = sys.argv[1:]
def cpu(policy):
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None); env.pop("GOMP_SPINCOUNT", None)
    if policy: env["OMP_WAIT_POLICY"] = policy
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([melon, "run", "--data", data, "--model", "bpr", "--epochs", "1",
                    "--threads", "2", "--no-progress", "--quiet"], env=env, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
# the least of three runs of each, the policies taking turns (other tests
# may run beside this one)
best = {"passive": float("inf"), "": float("inf"), "active": float("inf")}
for _ in range(3):
    for p in best: best[p] = min(best[p], cpu(p))
print(best["passive"], best[""], best["active"])
PY
)
read -r passive unset active <<<"$cpu_times"
echo "CPU seconds: policy passive $passive, not set $unset, active $active"
if /usr/bin/python3 -c "import sys; sys.exit(not $active > 1.3 * $passive)"; then
  check "without a policy, CPU time nearer passive's than active's" \
    /usr/bin/python3 -c "import sys; sys.exit(not $unset - $passive < $active - $unset)"
else
  echo "note: spinning threads cost no measurable CPU time here; CPU check not made"
fi
finish
